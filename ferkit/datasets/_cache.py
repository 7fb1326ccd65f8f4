"""Opt-in cache of decoded FER2013 faces, keyed by the source's content so it is never stale.

Decoding 32,298 JPEGs or parsing 290 MB of CSV text takes seconds; hashing the same bytes
takes a fraction of that, and loading the decoded arrays back from an ``.npz`` even less. The
key is the SHA-256 of the file's bytes (of every file's path and bytes, for a directory) and
of the cache format, so any change to the data, however small and whatever its time stamps,
gives a new key. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

#: Bumped whenever what the readers return changes, so old entries are not reused.
_FORMAT = b"ferkit-fer2013-cache-1"


def cache_dir(cache) -> Path | None:
    """Where cached faces live: None (no cache), the default folder (True) or ``cache``.

    The default is ``ferkit/fer2013`` under ``$XDG_CACHE_HOME`` where that is set, else under
    scikit-learn's data home (:func:`sklearn.datasets.get_data_home`: ``$SCIKIT_LEARN_DATA``,
    or ``~/scikit_learn_data``).
    """
    if cache is False or cache is None:
        return None
    if cache is True:
        from sklearn.datasets import get_data_home

        base = os.environ.get("XDG_CACHE_HOME") or get_data_home()
        return Path(base) / "ferkit" / "fer2013"
    if isinstance(cache, str | os.PathLike):
        return Path(cache)
    raise TypeError(f"cache must be True, False or a directory path; got {cache!r}.")


def content_key(path: Path) -> str:
    """SHA-256 of the source's content (and of the cache format), as hex."""
    digest = hashlib.sha256(_FORMAT)
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                file = Path(root, name)
                digest.update(file.relative_to(path).as_posix().encode() + b"\0")
                digest.update(file.read_bytes())
    else:
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def load(entry: Path) -> dict | None:
    """The faces stored at ``entry``, or None if there is no (readable) entry."""
    try:
        with np.load(entry, allow_pickle=False) as npz:
            found = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # missing, or damaged
        return None
    if "images" not in found:
        return None
    for name in ("codes", "usage"):
        found.setdefault(name, None)
    if found["usage"] is not None:
        found["usage"] = found["usage"].astype(object)
    if "member" in found:
        found["member"] = found["member"].astype(object)
    return found


def store(entry: Path, found: dict) -> None:
    """Save ``found`` at ``entry`` atomically (a reader never sees a half-written file)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        name: (np.asarray(value, dtype=str) if value.dtype == object else value)
        for name, value in found.items() if value is not None
    }
    fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, entry)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
