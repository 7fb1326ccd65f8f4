"""Atomic folder writes: build beside the target, flush to disk, then swap into place.

A model is written into a hidden temporary folder next to the target
(``.<name>.ferkit-tmp-<pid>-<random>``), every file and the folder are fsync'ed, and only then
is it moved to the target name. Replacing an existing model uses Linux's
``renameat2(RENAME_EXCHANGE)``, which swaps the two folders in one atomic step, so at every
instant the target name holds either the complete old model or the complete new one. Where
that call is unavailable (other systems, some network file systems) the old folder is first
renamed aside, into ``.<name>.ferkit-old-<pid>-<random>/model``, and then the new one into
place. An error between those two renames puts the old model back; a process killed there
leaves the target missing, and the next save to it or load of it (:func:`recover`) moves the
old model back once that process is gone.

A failed save removes its temporary folder. A killed process cannot; its leftover is hidden,
holds no ``ferkit.json`` until it is complete (the manifest is written last), and the next save
to the same target removes it once its process is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

_TMP_TAG = "ferkit-tmp"
_OLD_TAG = "ferkit-old"


@contextlib.contextmanager
def atomic_folder(target: Path, *, overwrite: bool, is_model_folder, check_replaceable=None):
    """Yield an empty temporary folder; on success move it to ``target`` atomically.

    Parameters
    ----------
    target : Path
        Final folder.
    overwrite : bool
        Whether an existing model folder at ``target`` may be replaced.
    is_model_folder : callable
        ``is_model_folder(path) -> bool``; only such folders (or empty ones) are replaced, so
        a mistyped path never deletes an unrelated directory.
    check_replaceable : callable, optional
        ``check_replaceable(path)``, called before a non-empty model folder is replaced;
        raises :class:`FileExistsError` if replacing it would delete anything but the model
        (files its manifest does not list...).

    Raises
    ------
    FileExistsError
        If ``target`` exists and ``overwrite`` is False, it is not a model folder (or
        ``check_replaceable`` refuses it), or it is a symbolic link to nothing.

    Notes
    -----
    A ``target`` that is a symbolic link to a folder is followed: the folder it points to is
    written or replaced, and the link stays as it was. (Swapping the link itself would leave
    the model it points to unchanged, and the link hidden under a temporary name.)
    """
    target = _follow_link(Path(target))
    # First: a model whose replacement a dead process left half done is still the model
    # saved there, for the overwrite check as for a load.
    recover(target, is_model_folder)
    _check_target(target, overwrite=overwrite, is_model_folder=is_model_folder,
                  check_replaceable=check_replaceable)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_TMP_TAG}-{os.getpid()}-",
                                dir=target.parent))
    # mkdtemp makes the folder private (0700); a saved model gets the user's usual mode.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        yield tmp
        _fsync_tree(tmp)
        # Checked again: another process may have created the target while we wrote.
        _check_target(target, overwrite=overwrite, is_model_folder=is_model_folder,
                      check_replaceable=check_replaceable)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _follow_link(target: Path) -> Path:
    if not target.is_symlink():
        return target
    if not target.exists():
        raise FileExistsError(
            f"{target} is a symbolic link to {os.readlink(target)}, which does not exist; "
            "not saving through it. Remove the link or save to the folder itself."
        )
    return Path(os.path.realpath(target))


def _check_target(target: Path, *, overwrite: bool, is_model_folder,
                  check_replaceable=None) -> None:
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a folder; not replacing it.")
    if not overwrite:
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True to replace the model saved there."
        )
    if not is_model_folder(target) and any(target.iterdir()):
        raise FileExistsError(
            f"{target} exists and is not a ferkit model folder (it has no ferkit.json); "
            "refusing to replace it even with overwrite=True. Choose another path."
        )
    if check_replaceable is not None and any(target.iterdir()):
        check_replaceable(target)


def _move_into_place(tmp: Path, target: Path) -> None:
    if not target.exists():
        try:
            os.rename(tmp, target)  # replaces nothing, or an empty folder
        except OSError as exc:
            raise FileExistsError(f"could not move the saved model to {target}: {exc}") from exc
    elif _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous model
    else:
        # Two renames. In between the target is missing; the old model waits in a hidden
        # folder named after this process, so that recover() can tell, should this process
        # die there, that nobody will finish the job, and put the old model back.
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_OLD_TAG}-{os.getpid()}-",
                                    dir=target.parent))
        aside = old / "model"
        try:
            os.rename(target, aside)
            os.rename(tmp, target)
        except BaseException:
            # Checked on disk rather than by which call raised: an interrupt (Ctrl-C) may
            # arrive just after a rename returned. With the new model in place, nothing to undo.
            if aside.exists() and tmp.exists():
                try:
                    os.rename(aside, target)
                except OSError as exc:
                    # `old` is kept: it holds the only copy of the model.
                    raise OSError(
                        f"could not move the saved model to {target}, nor put the previous "
                        f"model back ({exc}); it is kept in {aside}, and the next save to or "
                        f"load of {target} moves it back once this process has exited."
                    ) from exc
            shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux ``renameat2``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28, musl
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # pragma: no cover
        return False  # this file system cannot exchange: fall back to two renames
    raise OSError(err, os.strerror(err), str(b))  # pragma: no cover


def recover(target: Path, is_model_folder) -> bool:
    """Put back the model that a process killed between the two renames left aside.

    Returns whether ``target`` exists now. Only folders of dead processes are touched: a live
    one is inside its own replacement and finishes or undoes it itself.

    Raises
    ------
    FileNotFoundError
        If ``target`` is missing, a previous model was left aside, and it cannot be moved back
        (a read-only folder...); the message names where it is.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        return True
    try:
        kept = [entry / "model" for entry in _dead_leftovers(target, _OLD_TAG)
                if is_model_folder(entry / "model")]
        # One at most when every save recovers first; otherwise the newest is the model that
        # was in place last.
        model = max(kept, key=lambda path: path.stat().st_mtime_ns, default=None)
    except OSError:  # an unreadable folder, or another process is recovering it right now
        model = None
    if model is None:
        return target.exists()
    try:
        os.rename(model, target)
    except OSError as exc:
        if target.exists():
            return True  # another process put it back first
        raise FileNotFoundError(
            f"No ferkit model at {target}: a save replacing it was interrupted, and the "
            f"previous model, kept in {model}, cannot be moved back ({exc}). Move that "
            f"folder to {target}."
        ) from exc
    shutil.rmtree(model.parent, ignore_errors=True)
    _fsync_dir(target.parent)
    return True


def _remove_stale(target: Path) -> None:
    """Remove temporary folders of earlier saves to ``target`` whose process has died."""
    for tag in (_TMP_TAG, _OLD_TAG):
        for entry in list(_dead_leftovers(target, tag)):
            if tag == _OLD_TAG and not target.exists():
                continue  # the only copy of a model whose replacement was interrupted
            shutil.rmtree(entry, ignore_errors=True)


def _dead_leftovers(target: Path, tag: str):
    """Hidden folders of saves to ``target`` (of kind ``tag``) whose process has died."""
    if not target.parent.is_dir():
        return
    prefix = f".{target.name}.{tag}-"
    for entry in target.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix):].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            yield entry


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # pragma: no cover - no cheap check: keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
