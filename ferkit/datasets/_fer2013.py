"""``load_fer2013``: the full FER2013 data set, from whichever form the user has it in."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ferkit._emotions import EMOTION_TO_CODE, EMOTIONS, N_PIXELS, check_emotions
from ferkit.datasets import _cache
from ferkit.datasets._base import ProblemLog, check_on_error, check_usage, make_bunch
from ferkit.datasets._csv import EXPECTED_HEADERS, FORMS, ROW_NOTE, check_header, read_csv_faces
from ferkit.datasets._image_folder import LAYOUT, layout_folder, read_image_folder

_DESCR = """\
FER2013 (Facial Expression Recognition 2013)
--------------------------------------------

Goodfellow et al., "Challenges in Representation Learning: Facial Expression Recognition
Challenge", ICML 2013 workshop / Kaggle. 35,887 grayscale 48x48 faces, each labelled with one
of seven emotions: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral. The
original split ("Usage") is Training (28,709), PublicTest (3,589) and PrivateTest (3,589).
The classes are imbalanced: disgust is under 2% of the faces, happy about a quarter.

Read from: {source}{location}
Form: {form}
Faces loaded: {n}{filters}
{notes}"""

_FORM_NAMES = {
    "zip": f"image-folder layout ({LAYOUT}), zip archive",
    "directory": f"image-folder layout ({LAYOUT}), directory",
}

_IMAGE_FOLDER_NOTE = (
    "The image-folder layout holds Training (train/) and PublicTest (test/) only; "
    "PrivateTest is not part of it."
)

_FORM_NOTES = {
    "zip": _IMAGE_FOLDER_NOTE,
    "directory": _IMAGE_FOLDER_NOTE,
    "test.csv": "The competition's test.csv has no labels: target is None and target_names "
                "is empty; its rows mix PublicTest and PrivateTest, so usage is None.",
    "train.csv": "The competition's train.csv has no Usage column, so usage is None (its "
                 "rows are the Training split).",
}


def load_fer2013(
    path: str | os.PathLike,
    *,
    emotions=None,
    usage=None,
    as_frame: bool = False,
    on_error: str = "raise",
    cache: bool | str | os.PathLike = False,
) -> Bunch:
    """Load FER2013 from any of the forms it is distributed in.

    The form is recognised from the content, not from the file name:

    - the image-folder layout (Kaggle's "FER-2013" download), ``train/<emotion>/*.jpg`` and
      ``test/<emotion>/*.jpg``, as a directory or as a ``.zip`` read in place (no
      extraction); ``train/`` is the Training split and ``test/`` PublicTest. The layout may
      sit under wrapper folders (``location`` says where it was found); a tree holding
      several data sets side by side is refused, with a list of them; files beside
      ``train/`` and ``test/`` are ignored;
    - ``fer2013.csv`` (``emotion,pixels,Usage``) and ``icml_face_data.csv``
      (``emotion, Usage, pixels``, headers with a leading space);
    - the competition's ``train.csv`` (``emotion,pixels``; usage is None) and ``test.csv``
      (``pixels`` only: unlabelled, so ``target`` is None and ``target_names`` empty).

    Parameters
    ----------
    path : str or path-like
        The directory, zip archive or CSV file.
    emotions : iterable of str or None, default=None
        Keep only these emotions, e.g. ``("angry", "happy", "sad")`` for the original
        work's three-emotion task. None keeps all seven.
    usage : str, iterable of str or None, default=None
        Keep only these splits: ``"Training"``, ``"PublicTest"``, ``"PrivateTest"``
        (case-insensitive). None keeps all.
    as_frame : bool, default=False
        If True, also return ``frame``, a pandas DataFrame with one row per face: columns
        ``pixel_0`` ... ``pixel_2303`` (uint8), ``emotion``, ``usage`` and the face's
        ``member`` (image folder) or ``row`` (CSV).
    on_error : {"raise", "skip"}, default="raise"
        What to do with a bad row or image: a pixel string with the wrong number of values
        or a non-numeric or out-of-range value, an unknown emotion code, Usage or emotion
        folder, an unreadable image or one that is not 48x48. ``"raise"`` raises a
        ValueError naming the file and the row (CSV) or member (archive or directory), what
        is wrong and what was expected; ``"skip"`` leaves such entries out and warns once,
        with their count and the first few locations. Problems with the whole file (empty,
        missing column, unknown form) always raise.
    cache : bool or path-like, default=False
        Opt-in cache of the decoded faces. True keeps them under
        ``$XDG_CACHE_HOME/ferkit/fer2013`` where ``XDG_CACHE_HOME`` is set, else under
        ``ferkit/fer2013`` in scikit-learn's data home
        (:func:`sklearn.datasets.get_data_home`: ``$SCIKIT_LEARN_DATA``, by default
        ``~/scikit_learn_data``); a path keeps them there. The first load reads and stores
        every face; later loads of the same content, with any ``emotions`` or ``usage``,
        read them back (about 74 MB for the full data set). Entries are keyed by a SHA-256
        of the source's bytes, so a changed file is never served stale; a load that skipped
        bad entries is not cached. As the first load reads every face, it reports bad
        entries anywhere in the source, also in faces that ``emotions`` or ``usage`` leave
        out.

    Returns
    -------
    sklearn.utils.Bunch
        ``data`` ndarray of uint8, shape (n, 2304)
            Flat pixels, row-major.
        ``images`` ndarray of uint8, shape (n, 48, 48)
            The same faces as images.
        ``target`` ndarray of str, shape (n,), or None
            Emotion names; None for unlabelled ``test.csv``.
        ``target_names`` ndarray of str
            The emotions present, in FER2013 code order.
        ``usage`` ndarray of str, shape (n,), or None
            The split of each face, where the source says (None for ``train.csv`` and
            ``test.csv``).
        ``member`` ndarray of str (image folder) or ``row`` ndarray of int (CSV)
            Where each face came from: its path inside the archive or directory, or its row
            number in the CSV.
        ``location`` str
            Where the faces were found: ``path`` itself, or for the image-folder layout the
            folder inside ``path`` that holds ``train/`` and ``test/``.
        ``frame`` pandas.DataFrame
            Only with ``as_frame=True``.
        ``DESCR`` str
            Description of the data set and of what was read.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is empty, not one of the forms above, misses a column, holds several
        data sets in the image-folder layout, or (with ``on_error="raise"``) holds a bad
        entry; or if an argument is invalid.

    See Also
    --------
    load_sample : The 656-face sample shipped with ferkit.

    Notes
    -----
    Row numbers in messages count as a spreadsheet shows them: the header is row 1 and the
    first face row 2. Blank lines are skipped but still counted. Only the faces that pass
    ``emotions`` and ``usage`` have their pixels read, so a bad pixel string in a row that
    the filters leave out is not reported.

    Images of the right size in colour are converted to grayscale. The image-folder layout
    is ordered Training first, then PublicTest, by file name within each; CSV rows keep the
    file's order.

    Examples
    --------
    >>> from pathlib import Path
    >>> from tempfile import mkdtemp
    >>> from ferkit.datasets import load_fer2013
    >>> csv = Path(mkdtemp()) / "fer2013.csv"
    >>> pixels = " ".join(["128"] * 2304)
    >>> _ = csv.write_text(
    ...     f"emotion,pixels,Usage\\n3,{pixels},Training\\n0,{pixels},PublicTest\\n")
    >>> faces = load_fer2013(csv)
    >>> faces.images.shape, faces.target.tolist(), faces.usage.tolist()
    ((2, 48, 48), ['happy', 'angry'], ['Training', 'PublicTest'])
    >>> load_fer2013(csv, usage="PublicTest").target.tolist()
    ['angry']
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__}.")
    if not isinstance(as_frame, bool | np.bool_):
        raise TypeError(f"as_frame must be True or False; got {as_frame!r}.")
    on_error = check_on_error(on_error)
    selected = None if emotions is None else check_emotions(emotions)
    codes_wanted = None if selected is None else {EMOTION_TO_CODE[e] for e in selected}
    usage_wanted = check_usage(usage)
    store_in = _cache.cache_dir(cache)
    source = os.fspath(path)
    path = Path(path)

    if path.is_dir():
        form, columns = "directory", None
    else:
        form, columns = _sniff(path, source)
        _check_selectable(source, columns, codes_wanted, usage_wanted)

    if store_in is None:
        found, n_bad = _read(path, source, form, columns, on_error=on_error,
                             codes_wanted=codes_wanted, usage_wanted=usage_wanted)
    else:
        found, n_bad = _read_through_cache(store_in, path, source, form, columns,
                                           on_error=on_error)
    found = _select(found, codes_wanted, usage_wanted)

    codes = found["codes"]
    target = None if codes is None else np.asarray(EMOTIONS, dtype=object)[codes]
    origin = "member" if "member" in found else "row"
    filters = "".join([
        f"; emotions={list(selected)}" if selected is not None else "",
        f"; usage={list(usage_wanted)}" if usage_wanted is not None else "",
        f"; {n_bad} bad entries skipped" if n_bad else "",
    ])
    location = source
    if origin == "member" and layout_folder(found["member"]):
        location = f"{source.rstrip('/')}/{layout_folder(found['member'])}"
    descr = _DESCR.format(source=source, form=_FORM_NAMES.get(form) or FORMS[columns],
                          location="" if location == source else f" (the layout is in "
                          f"{location})", n=len(found["images"]), filters=filters,
                          notes=_FORM_NOTES.get(form, ""))
    bunch = make_bunch(found["images"], target, descr=descr.rstrip() + "\n",
                       usage=found["usage"], location=location, **{origin: found[origin]})
    if as_frame:
        bunch.frame = _frame(bunch, origin)
    return bunch


def _check_selectable(source: str, columns, codes_wanted, usage_wanted) -> None:
    """A ValueError if ``emotions=`` or ``usage=`` selects on a column the CSV lacks."""
    if columns is None:
        return
    if "emotion" not in columns and codes_wanted is not None:
        raise ValueError(f"'{source}' has no emotion column, so emotions= cannot select "
                         "faces; pass emotions=None.")
    if "usage" not in columns and usage_wanted is not None:
        raise ValueError(f"'{source}' has no Usage column, so usage= cannot select "
                         "splits; pass usage=None.")


def _read(path: Path, source: str, form: str, columns, *, on_error: str,
          codes_wanted, usage_wanted) -> tuple[dict, int]:
    """Read the faces that pass the filters, and the number of bad entries left out.

    Bad entries are raised or warned about (``on_error``) once the whole source is read.
    """
    wanted = dict(codes_wanted=codes_wanted, usage_wanted=usage_wanted)
    if columns is None:
        problems = ProblemLog(source, "file" if form == "directory" else "member")
        found = read_image_folder(path, is_zip=form == "zip", problems=problems, **wanted)
    else:
        problems = ProblemLog(source, "row", note=ROW_NOTE)
        found = read_csv_faces(path, columns, problems=problems, on_error=on_error, **wanted)
    problems.resolve(on_error)
    return found, len(problems)


def _read_through_cache(store_in: Path, path: Path, source: str, form: str, columns, *,
                        on_error: str) -> tuple[dict, int]:
    """Every face of the source, from its cache entry, or read and then stored.

    Every face is read, whatever the filters, so that any later selection is a cache hit;
    a load that skipped bad entries is not stored, so that the next one warns again.
    """
    entry = store_in / f"{_cache.content_key(path)}.npz"
    found = _cache.load(entry)
    if found is not None:
        return found, 0
    found, n_bad = _read(path, source, form, columns, on_error=on_error,
                         codes_wanted=None, usage_wanted=None)
    if not n_bad:
        _cache.store(entry, found)
    return found, n_bad


def _select(found: dict, codes_wanted, usage_wanted) -> dict:
    """Keep the faces whose emotion and usage were asked for (all, when both are None)."""
    keep = np.ones(len(found["images"]), dtype=bool)
    if codes_wanted is not None:
        keep &= np.isin(found["codes"], list(codes_wanted))
    if usage_wanted is not None:
        keep &= np.isin(found["usage"], list(usage_wanted))
    if keep.all():
        return found
    return {k: None if v is None else v[keep] for k, v in found.items()}


def _sniff(path: Path, source: str) -> tuple[str, frozenset | None]:
    """Recognise a file's form from its content: ``("zip", None)`` for a zip archive, or a
    CSV form (``"fer2013.csv"``, ``"train.csv"``, ``"test.csv"``) and the FER2013 columns
    its header names; a ValueError that says why otherwise."""
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: '{source}'.")
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise ValueError(
            f"'{source}' is empty; expected a FER2013 CSV ({EXPECTED_HEADERS}) or the "
            f"image-folder layout ({LAYOUT}) as a zip archive or directory."
        )
    if zipfile.is_zipfile(path):
        return "zip", None
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        # A zip's index sits at its end: a cut-short copy starts like a zip but has none.
        raise ValueError(
            f"'{source}' is a damaged or truncated zip archive: it starts like one, but its "
            "central directory (at the end of the file) is missing or unreadable. Copy or "
            "download it again."
        )
    if head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar":
        raise ValueError(
            f"'{source}' is a gzip or tar archive (such as the original fer2013.tar.gz); "
            "extract it and pass the path of the CSV file inside."
        )
    if b"\r" in head and b"\n" not in head:
        # Classic Mac OS line endings: the rows would run together into one header line.
        raise ValueError(
            f"'{source}' ends its lines with a bare carriage return (old Mac line endings); "
            "expected '\\n' or '\\r\\n'. Convert it, e.g. with "
            "`tr '\\r' '\\n' < old.csv > new.csv`."
        )
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
    if "\x00" in first or ("," not in first and "pixels" not in first.lower()):
        raise ValueError(
            f"'{source}' is not a FER2013 file: expected a CSV ({EXPECTED_HEADERS}) or the "
            f"image-folder layout ({LAYOUT}) as a zip archive or directory."
        )
    columns = check_header(source, first)
    return {2: "train.csv", 1: "test.csv"}.get(len(columns), "fer2013.csv"), columns


def _frame(bunch: Bunch, origin: str):
    """The faces as a DataFrame: pixel columns, then emotion, usage and origin."""
    import pandas as pd

    n = len(bunch.data)
    pixels = pd.DataFrame(bunch.data, columns=[f"pixel_{i}" for i in range(N_PIXELS)])
    extra = pd.DataFrame(
        {
            "emotion": bunch.target if bunch.target is not None else np.full(n, None),
            "usage": bunch.usage if bunch.usage is not None else np.full(n, None),
            origin: bunch[origin],
        }
    )
    return pd.concat([pixels, extra], axis=1)
