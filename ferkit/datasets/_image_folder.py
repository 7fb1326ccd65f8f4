"""FER2013 in the image-folder layout: ``train/<emotion>/*.jpg`` and ``test/<emotion>/*.jpg``.

The layout is read from a directory or in place from a ``.zip`` archive (Kaggle's "FER-2013"
download). A 48x48 JPEG decodes in a few tens of microseconds, so the per-face overhead of
``ZipFile.open`` would cost more than the decoding: stored members are sliced from a memory
map (CRC-checked) instead. Each face is decoded by Pillow (``Image.open`` reads the header,
which gives the size checked against 48x48, then ``load`` decodes), by a few threads in
parallel: Pillow releases the GIL while decoding.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ferkit._emotions import EMOTION_TO_CODE, EMOTIONS, IMAGE_SHAPE

#: Split folders of the layout -> the FER2013 usage they hold (see the data README).
SPLITS = {"train": "Training", "test": "PublicTest"}

LAYOUT = "train/<emotion>/<image> and test/<emotion>/<image>"

#: Files that operating systems and archivers leave behind, never faces.
_JUNK_NAMES = {"thumbs.db", "desktop.ini"}
_JUNK_DIRS = {"__macosx"}

_SIZE_EXPECTED = f"expected a {IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]} grayscale image"
_FOLDERS_EXPECTED = "expected one of " + ", ".join(sorted(EMOTIONS))
#: Faces per decoding task, and decoding threads (at most one per available core).
_CHUNK = 2048
_N_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count() or 1)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
               OSError, EOFError, zlib.error)


class BadFace(Exception):
    """One member cannot be used as a face; the message says why."""


def read_image_folder(path: Path, *, is_zip: bool, codes_wanted, usage_wanted, problems) -> dict:
    """Read the faces of the image-folder layout that pass the filters.

    Parameters
    ----------
    path : Path
        A directory, or a zip archive.
    is_zip : bool
        Whether ``path`` is a zip archive.
    codes_wanted : set of int or None
        Emotion codes to keep; None keeps all.
    usage_wanted : tuple of str or None
        Splits to keep; None keeps all.
    problems : ProblemLog
        Where bad members are recorded.

    Returns
    -------
    dict
        ``images`` (n, 48, 48) uint8, ``codes``, ``usage`` and ``member`` (path inside the
        archive or directory, with "/" separators), ordered Training first, then by name.
    """
    source = problems.source
    if is_zip:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"'{source}' looks like a zip archive but cannot be read: {exc}.") \
                from None
        with archive, _MemberReader(archive, path) as reader:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
            entries = _layout_entries(names, source, problems, codes_wanted, usage_wanted)
            return _decode_all(entries, reader.read, problems)
    names = []
    for root, dirs, files in os.walk(path):
        # Hidden and archiver folders hold no faces (_is_junk drops their files): not walked.
        dirs[:] = [d for d in dirs if not d.startswith(".") and d.lower() not in _JUNK_DIRS]
        names += [Path(root, f).relative_to(path).as_posix() for f in files]
    entries = _layout_entries(names, source, problems, codes_wanted, usage_wanted)
    return _decode_all(entries, lambda name: (path / name).read_bytes(), problems)


def _layout_entries(names, source, problems, codes_wanted, usage_wanted) -> list:
    """``(order, name, code, usage)`` of the layout's members that pass the filters.

    The layout may sit under a wrapper folder (``fer2013/train/...``): its root is where the
    shallowest ``train/`` or ``test/`` folder is. Files beside the split folders (a README)
    are not faces and are ignored; anything else under the root that does not fit the layout
    is a bad member.
    """
    names = sorted(n for n in names if not _is_junk(n))
    root = _layout_root(names, source)
    kind = problems.unit
    # Training before PublicTest, as in FER2013's CSV; by name within each. Problems are
    # ordered the same way, so the first one reported is the first one a listing shows.
    split_order = {u: i for i, u in enumerate(SPLITS.values())}
    entries = []
    for name in names:
        parts = tuple(name.split("/"))
        if parts[: len(root)] != root or len(parts) == len(root) + 1:
            continue  # outside the layout, or a file beside the split folders
        rel = parts[len(root):]
        split = SPLITS.get(rel[0].lower())
        where = f"{kind} '{name}'"
        order = (split_order.get(split, len(split_order)), name)
        if split is None:
            problems.add(order, where,
                         f"folder {rel[0]!r} is not a split folder; expected {LAYOUT}")
            continue
        if len(rel) != 3:
            problems.add(order, where, f"is not in the layout {LAYOUT}")
            continue
        code = EMOTION_TO_CODE.get(rel[1].lower())
        if code is None:
            problems.add(order, where,
                         f"emotion folder {rel[1]!r} is unknown; {_FOLDERS_EXPECTED}")
            continue
        if codes_wanted is not None and code not in codes_wanted:
            continue
        if usage_wanted is not None and split not in usage_wanted:
            continue
        entries.append((order, name, code, split))
    entries.sort()
    return entries


def _layout_root(names, source) -> tuple:
    """The folder (as path parts) that holds the layout's split folders.

    Each file belongs to the folder above its shallowest ``train/`` or ``test/``. Of these
    folders, the outermost ones that hold a face in an emotion folder are the data sets
    found (all of them when none does, so that the bad members get reported). Several data
    sets side by side are ambiguous: a ValueError lists them, rather than one being picked.
    """
    roots: dict[tuple, bool] = {}
    for name in names:
        parts = tuple(name.split("/"))
        depth = next((d for d, p in enumerate(parts[:-1]) if p.lower() in SPLITS), None)
        if depth is not None:
            face = len(parts) == depth + 3 and parts[depth + 1].lower() in EMOTION_TO_CODE
            roots[parts[:depth]] = roots.get(parts[:depth], False) or face
    if not roots:
        csvs = [n for n in names if n.lower().endswith(".csv")]
        hint = (
            f" It holds CSV file(s) {csvs[:5]}: pass the path of the extracted CSV instead."
            if csvs else ""
        )
        raise ValueError(
            f"'{source}' holds no faces in the image-folder layout ({LAYOUT}; found "
            f"{len(names)} file(s)).{hint}"
        )
    found = [r for r, face in roots.items() if face] or list(roots)
    # A data set inside another one's folder is part of it (its files are bad members there).
    outer = sorted(r for r in found if not any(r[:len(o)] == o and r != o for o in found))
    if len(outer) > 1:
        listed = ", ".join(repr("/".join(r) or ".") for r in outer[:10])
        more = f" and {len(outer) - 10} more" if len(outer) > 10 else ""
        raise ValueError(
            f"'{source}' holds {len(outer)} data sets in the image-folder layout ({LAYOUT}), "
            f"in {listed}{more} (relative to it); pass the path of the one to load."
        )
    return outer[0]


def layout_folder(members) -> str | None:
    """The layout's folder, relative to the loaded path ("" for the path itself), from the
    members read (``split/emotion/file`` below it); None when no face was read."""
    if len(members) == 0:
        return None
    return "/".join(str(members[0]).split("/")[:-3])


def _is_junk(name: str) -> bool:
    parts = name.split("/")
    return (
        parts[-1].startswith(".")
        or parts[-1].lower() in _JUNK_NAMES
        or any(p.lower() in _JUNK_DIRS or p.startswith(".") for p in parts[:-1])
    )


class _MemberReader:
    """Reads an archive's members, straight from a memory map where they are stored as is.

    FER2013's archive stores its JPEGs uncompressed, so a member is a slice of the file;
    ``ZipFile.read`` costs more than decoding a 48x48 JPEG. The slice is checked against the
    member's CRC-32 like ``ZipFile.read`` does; compressed, encrypted or damaged members go
    through ``ZipFile.read``, which decompresses them or says what is wrong.
    """

    def __init__(self, archive: zipfile.ZipFile, path: Path):
        self._archive = archive
        self._infos = {info.filename: info for info in archive.infolist()}
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._map.close()

    def read(self, name: str) -> bytes:
        info = self._infos[name]
        if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
            offset, data = info.header_offset, self._map
            if data[offset:offset + 4] == b"PK\x03\x04":
                name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
                start = offset + 30 + name_len + extra_len
                payload = data[start:start + info.compress_size]
                if len(payload) == info.compress_size and zlib.crc32(payload) == info.CRC:
                    return payload
        return self._archive.read(info)


def _decode_all(entries, read, problems) -> dict:
    """Decode each entry's image into one array; unreadable ones go to ``problems``.

    Chunks of entries are decoded by a few threads: Pillow releases the GIL while its JPEG
    decoder runs, which is most of the time per face.
    """
    images = np.empty((len(entries), *IMAGE_SHAPE), dtype=np.uint8)
    ok = np.ones(len(entries), dtype=bool)
    kind = problems.unit

    def decode_range(start: int, stop: int) -> None:
        for k in range(start, stop):
            order, name, _, _ = entries[k]
            try:
                images[k] = decode_face(read(name))
            except _ZIP_ERRORS as exc:
                problems.add(order, f"{kind} '{name}'",
                             f"cannot be read ({exc}); {_SIZE_EXPECTED}")
                ok[k] = False
            except BadFace as exc:
                problems.add(order, f"{kind} '{name}'", str(exc))
                ok[k] = False

    n = len(entries)
    n_threads = min(_N_THREADS, -(-n // _CHUNK))
    if n_threads <= 1:
        decode_range(0, n)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            futures = [pool.submit(decode_range, start, min(start + _CHUNK, n))
                       for start in range(0, n, _CHUNK)]
            for future in futures:
                future.result()
    kept = [e for e, good in zip(entries, ok, strict=True) if good]
    return dict(
        images=images if ok.all() else images[ok],  # no 71 MB copy when all are good
        codes=np.fromiter((e[2] for e in kept), dtype=np.int64, count=len(kept)),
        usage=np.asarray([e[3] for e in kept], dtype=object),
        member=np.asarray([e[1] for e in kept], dtype=object),
    )


def decode_face(payload: bytes) -> np.ndarray:
    """Decode one image file's bytes into a (48, 48) uint8 array, or raise BadFace.

    Any format Pillow reads will do; the size is checked from the header, before decoding.
    Colour images of the right size are converted to grayscale, as FER2013 is gray.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(payload)) as image:
            if image.size != IMAGE_SHAPE[::-1]:
                raise BadFace(
                    f"image is {image.size[0]}x{image.size[1]} pixels; {_SIZE_EXPECTED}"
                )
            image.load()
            if image.mode != "L":
                image = image.convert("L")
            return np.asarray(image)
    except BadFace:
        raise
    except Exception as exc:  # PIL raises many types; to the user all mean "unreadable"
        raise BadFace(
            f"cannot be read as an image ({type(exc).__name__}: {exc}); {_SIZE_EXPECTED}"
        ) from None
