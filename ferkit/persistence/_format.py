"""The model folder format: file names, format version, the ``ferkit.json`` manifest.

The manifest is written last, after every other file of the folder, and lists the SHA-256 of
each of them: a folder without a readable manifest is not a model, and a file that changed
after saving (truncated copy, disk corruption, hand edits) is reported by name before any of
it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

from ferkit.persistence._codec import read_json
from ferkit.persistence._keras_io import ARCHITECTURE_FILE, WEIGHTS_FILE

FORMAT = "ferkit-model"

#: Version of the folder layout and manifest schema. Bump it when a change would make an
#: older ferkit misread a new file; older versions stay readable.
FORMAT_VERSION = 1

MANIFEST_FILE = "ferkit.json"
ARRAYS_FILE = "arrays.npz"

#: Most networks one model folder holds (an ensemble's members).
MAX_NETWORKS = 16


def network_files(index: int) -> tuple[str, str]:
    """Architecture and weights file names of the folder's ``index``-th network (from 0).

    The first keeps the single-network names, so a one-network folder reads as it always did.
    """
    if index == 0:
        return ARCHITECTURE_FILE, WEIGHTS_FILE
    return f"model-{index + 1}.json", f"model-{index + 1}.weights.h5"


#: Files a manifest may list, besides itself. Fixed names: a manifest cannot point elsewhere.
DATA_FILES = (*(name for i in range(MAX_NETWORKS) for name in network_files(i)), ARRAYS_FILE)

_REQUIRED_KEYS = ("format", "format_version", "written_by", "estimator", "files")


def writer_versions() -> dict[str, str | None]:
    """Versions of the software writing a model, as recorded in the manifest."""
    import numpy
    import sklearn

    import ferkit

    versions = {
        "ferkit": ferkit.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "keras": _version("keras", ["keras"]),
        "tensorflow": _version("tensorflow", ["tensorflow", "tensorflow-cpu"]),
    }
    keras = sys.modules.get("keras")
    if keras is not None:
        versions["keras_backend"] = keras.backend.backend()
    return versions


def _version(module: str, distributions: list[str]) -> str | None:
    # Already-imported modules answer directly; otherwise ask the installed metadata rather
    # than importing TensorFlow just to read its version.
    loaded = sys.modules.get(module)
    if loaded is not None and hasattr(loaded, "__version__"):
        return str(loaded.__version__)
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entries(folder: Path) -> dict[str, dict]:
    """Size and checksum of every data file present in ``folder``."""
    return {
        name: {"bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
        for name in DATA_FILES if (folder / name).exists()
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write ``ferkit.json`` (strict JSON: no NaN, which the codec has already tagged)."""
    text = json.dumps(manifest, indent=2, allow_nan=False, ensure_ascii=False)
    (folder / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict:
    """Read and check ``folder/ferkit.json``: format, version and required keys.

    Raises
    ------
    FileNotFoundError
        If the manifest is missing.
    ValueError
        If it is not JSON, not a ferkit manifest, from a newer format version, or lacks keys.
    """
    file = folder / MANIFEST_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"{folder} is not a ferkit model folder: {file} is missing. (An interrupted save "
            "leaves the previous model, or nothing, in place, never a partial folder.)"
        )
    manifest = read_json(file, hint="the file is damaged or was edited by hand.")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{file} is not a ferkit model manifest (no \"format\": \"{FORMAT}\").")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{file} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        writer = manifest.get("written_by", {})
        writer = writer.get("ferkit") if isinstance(writer, dict) else None
        raise ValueError(
            f"{file} uses model format version {version}, written by ferkit {writer}; this "
            f"ferkit reads format versions up to {FORMAT_VERSION}. The model was saved by a "
            "newer ferkit: upgrade ferkit to load it."
        )
    missing = [key for key in _REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ValueError(f"{file} lacks the required key(s) {missing}.")
    files = manifest["files"]
    if not isinstance(files, dict) or set(files) - set(DATA_FILES) or not all(
        isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in files.values()
    ):
        raise ValueError(
            f"{file}: \"files\" must map some of {list(DATA_FILES[:2])}, "
            f"model-N.json and model-N.weights.h5 (N = 2..{MAX_NETWORKS}) and "
            f"{ARRAYS_FILE} to their sha256; "
            f"got {files!r:.200}."
        )
    return manifest


def verify_file(folder: Path, manifest: dict, name: str) -> Path:
    """Check that data file ``name`` is listed, present and unchanged; return its path.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If the manifest does not list it or its checksum differs (truncated or corrupted).
    """
    path = folder / name
    entry = manifest["files"].get(name)
    if entry is None:
        raise ValueError(f"{folder / MANIFEST_FILE} does not list {name}, which the model needs.")
    if not path.is_file():
        raise FileNotFoundError(f"The model in {folder} is incomplete: {path} is missing.")
    size = path.stat().st_size
    expected_size = entry.get("bytes")
    if sha256(path) != entry["sha256"]:
        detail = (f"{size} bytes instead of {expected_size}" if isinstance(expected_size, int)
                  and size != expected_size else "its content changed")
        raise ValueError(
            f"{path} is truncated or corrupted ({detail}; checksum differs from the one "
            f"recorded in {MANIFEST_FILE}). Restore the model folder from a good copy."
        )
    return path


def _shipped_folder():
    from importlib import resources

    return resources.files("ferkit").joinpath("pretrained")


def shipped_models() -> list[str]:
    """Names of the models shipped in this installation: the folders of ``ferkit/pretrained``
    holding a manifest. A name from a file is looked up in this list, never joined to a path.
    """
    return sorted(entry.name for entry in _shipped_folder().iterdir()
                  if entry.joinpath(MANIFEST_FILE).is_file())


def shipped_checksum(name: str) -> str:
    """SHA-256 over the checksums of the files of the model ferkit ships as ``name``.

    A FaceEmbedder over a shipped model is saved by name, with this checksum: the steps after
    it learnt that model's features, so a ferkit shipping other files under the name is told
    apart on load. It changes exactly when a file of the shipped model does.
    """
    if name not in shipped_models():
        raise ValueError(f"ferkit ships no model {name!r}; it ships {shipped_models()}.")
    shipped = _shipped_folder().joinpath(name, MANIFEST_FILE)
    manifest = json.loads(shipped.read_text(encoding="utf-8"))  # ferkit's own file
    digests = {file: entry["sha256"] for file, entry in sorted(manifest["files"].items())}
    return hashlib.sha256(json.dumps(digests).encode()).hexdigest()


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` holds a saved model (its manifest is written last, so it is whole)."""
    return (Path(path) / MANIFEST_FILE).is_file()


def check_replaceable(folder: Path) -> None:
    """Refuse to let a save replace ``folder`` unless it holds one valid model and nothing else.

    ``save(..., overwrite=True)`` replaces the whole folder. A file merely named
    ``ferkit.json`` does not make a folder ferkit's: the manifest must parse, and every other
    entry of the folder must be a file it lists. Anything else is the user's, and is kept by
    refusing (rather than carried over into the new model, whose manifest would not list it).

    Raises
    ------
    FileExistsError
        If the manifest is not a valid ferkit manifest, or the folder holds entries that the
        manifest does not list; the message names them.
    """
    try:
        manifest = read_manifest(folder)
    except (FileNotFoundError, ValueError) as exc:
        raise FileExistsError(
            f"{folder} is not a valid ferkit model folder ({exc}); refusing to replace it even "
            "with overwrite=True, which would delete everything in it. Choose another path."
        ) from exc
    others = sorted(entry.name for entry in folder.iterdir()
                    if entry.name != MANIFEST_FILE and entry.name not in manifest["files"])
    if others:
        raise FileExistsError(
            f"{folder} holds {others}, which are not files of the ferkit model saved there; "
            "overwrite=True replaces the whole folder and would delete them. Move them "
            "elsewhere, or choose another path."
        )
