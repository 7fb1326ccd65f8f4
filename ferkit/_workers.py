"""Batch prediction in worker processes: the model travels as its files, never pickled.

``predict_image`` over many photos, ``predict_video`` over many clips and ``ferkit predict``
take ``n_jobs``. Their work is cut into chunks of consecutive inputs, run through joblib
(loky processes by default; a Dask cluster inside ``joblib.parallel_backend("dask")``), and
the chunks' rows come back in input order.

Workers get the model's folder, not the model: each loads it once with :func:`ferkit.load`
(JSON and plain weights, checksums checked, no pickle) and keeps it for the following
chunks and calls. Pickling a fitted Keras network would send the whole model with every
task and make the workers unpickle it; a model in memory is therefore written once with
:func:`ferkit.save` to a temporary folder that the workers read. On a cluster of several
machines, pass the model as a folder they can all read (a shared file system).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: Chunks per worker: enough that a slow chunk does not leave the others idle for long and
#: that progress is reported often, few enough that sending them costs nothing measurable.
CHUNKS_PER_WORKER = 8

# A Dask worker runs tasks in several threads of one process: they share one loaded model.
_LOCK = threading.Lock()


def is_parallel(n_jobs) -> bool:
    """Whether ``n_jobs`` asks for worker processes (None and 1 predict in this process)."""
    return n_jobs is not None and n_jobs != 1


def model_token(folder: Path) -> str:
    """A fingerprint of a saved model: the hash of its manifest, which holds every file's
    SHA-256, so a model saved again in the same folder is loaded again."""
    from ferkit.persistence._format import MANIFEST_FILE

    manifest = Path(folder) / MANIFEST_FILE
    try:
        return hashlib.sha256(manifest.read_bytes()).hexdigest()
    except OSError as exc:
        raise FileNotFoundError(
            f"model {folder}: not a folder written by ferkit.save (no readable "
            f"{MANIFEST_FILE}: {exc.strerror or exc})"
        ) from exc


def load_model(model):
    """``model`` itself, or the model saved in the folder ``model`` names."""
    if isinstance(model, str | os.PathLike):
        from ferkit.persistence import load

        return load(model)
    return model


@contextmanager
def model_files(model) -> Iterator[tuple[str, str]]:
    """``(folder, token)`` for the workers: the folder ``model`` names, or a temporary one
    that ``model`` is saved to (and removed afterwards)."""
    if isinstance(model, str | os.PathLike):
        folder = Path(model)
        yield str(folder), model_token(folder)
        return
    from ferkit.persistence import save

    with tempfile.TemporaryDirectory(prefix="ferkit-workers-") as tmp:
        folder = Path(tmp) / "model"
        try:
            save(model, folder)
        except TypeError as exc:
            raise TypeError(
                f"n_jobs needs a model that ferkit.save can write, so that each worker "
                f"loads it from its files: {exc}"
            ) from exc
        yield str(folder), model_token(folder)


@functools.lru_cache(maxsize=2)
def _loaded(folder: str, token: str):
    from ferkit.persistence import load

    return load(folder)


def worker_model(folder: str, token: str):
    """In a worker: the model of ``folder``, loaded at the first chunk and kept."""
    with _LOCK:
        return _loaded(folder, token)


def _run_chunk(func: Callable, folder: str, token: str, chunk: Sequence, kwargs: dict):
    model = worker_model(folder, token)
    return [func(model, item, **kwargs) for item in chunk]


def chunks(items: Sequence, n_jobs: int, size: int | None = None) -> list[Sequence]:
    """``items`` cut into runs of ``size`` consecutive items; by default about
    :data:`CHUNKS_PER_WORKER` runs a worker."""
    import joblib

    if size is None:
        workers = joblib.effective_n_jobs(n_jobs)
        size = max(1, -(-len(items) // (workers * CHUNKS_PER_WORKER)))
    return [items[i:i + size] for i in range(0, len(items), size)]


def map_in_workers(func: Callable, model, items: Sequence, *, n_jobs,
                   chunk_size: int | None = None, **kwargs) -> Iterator[list]:
    """``[func(model, item, **kwargs) for item in chunk]`` for each chunk of ``items``, run in
    joblib's workers; yields each chunk's results as soon as it and those before it are done,
    so the results come in input order.

    ``func`` must be a module-level function (joblib pickles it by name); ``model`` a fitted
    model or a saved model's folder; ``items`` and ``kwargs`` are pickled to the workers;
    ``chunk_size`` items make a chunk (by default, see :func:`chunks`).
    """
    import joblib

    with model_files(model) as (folder, token):
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
        yield from parallel(
            joblib.delayed(_run_chunk)(func, folder, token, chunk, kwargs)
            for chunk in chunks(items, n_jobs, chunk_size)
        )
