"""TensorFlow's thread pools sized to a worker process's share of the cores.

Parallel cross-validation and searches (scikit-learn's ``n_jobs``, joblib's loky and Dask
backends, ``OptunaSearchCV(n_jobs=...)``) fit in several worker processes at once. Each
worker is told its share of the machine through ``OMP_NUM_THREADS``: joblib's loky backend
sets it to ``cpu_count() // n_jobs`` in its workers, and Dask's nanny to 1 in the worker
processes it starts (``distributed.nanny.pre-spawn-environ``). TensorFlow ignores that
variable: left alone, every worker sizes its intra-op and inter-op pools to all the cores,
and ``n_jobs`` workers run ``n_jobs`` times more busy threads than there are cores (on two
cores, ``cross_val_score(n_jobs=2)`` then ran slower than ``n_jobs=1``).

So ``import ferkit`` (which every worker runs before unpickling a ferkit estimator, hence
before TensorFlow starts) calls :func:`size_tensorflow_threads`: where ``OMP_NUM_THREADS``
is set and TensorFlow's own ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` are not,
it sets them to the same number. TensorFlow reads them when it runs its first operation. A
variable the user set is never changed, and nothing happens where ``OMP_NUM_THREADS`` is
unset (a plain ``python`` session keeps TensorFlow's defaults).

The number of intra-op threads decides how TensorFlow splits some sums, so a fit in a
one-thread worker and the same fit in a two-thread process end with weights a few last bits
apart (about 1e-9 in the probabilities after a short fit); over many epochs the difference
can grow until a face here and there changes class. Workers and a serial run with the same
number of threads give identical results: ``OMP_NUM_THREADS=1`` in the environment of the
script gives its own TensorFlow one thread too (and joblib passes that value on to its
workers), as does ``TF_NUM_INTRAOP_THREADS`` set by hand.

Only ``os`` is imported here: ``import ferkit`` stays light.
"""

from __future__ import annotations

import os

#: The variable joblib's and Dask's workers receive as their share of the cores.
SHARE_VARIABLE = "OMP_NUM_THREADS"
#: TensorFlow's variables for the sizes of its two CPU thread pools.
TF_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def worker_share(environ=None) -> int | None:
    """Threads this process may use, from ``OMP_NUM_THREADS``; None when unset or invalid."""
    environ = os.environ if environ is None else environ
    try:
        share = int(environ.get(SHARE_VARIABLE, ""))
    except ValueError:
        return None
    return share if share > 0 else None


def size_tensorflow_threads(environ=None) -> dict[str, str]:
    """Set TensorFlow's pool sizes to this process's share of the cores, where unset.

    Parameters
    ----------
    environ : mapping, default=None
        The environment to read and change; None for ``os.environ``.

    Returns
    -------
    dict of str to str
        The variables set (empty when there was nothing to do).
    """
    environ = os.environ if environ is None else environ
    share = worker_share(environ)
    if share is None:
        return {}
    written = {name: str(share) for name in TF_VARIABLES if not environ.get(name)}
    environ.update(written)
    return written
