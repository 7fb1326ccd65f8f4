"""Shared fixtures: tiny networks and the embedded sample, so the suite stays fast."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import os
import select
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

#: The full FER2013 image archive, present on developers' machines and in CI beside the repo.
SHARED_ARCHIVE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013-images.zip"
)

#: A network small enough to train in a second on two CPU cores.
TINY = dict(filters=(4, 8), dense_units=(8,), epochs=2, batch_size=64, random_state=0)


@pytest.fixture(scope="session")
def tiny_params():
    """Parameters of a tiny, deterministic FacialExpressionClassifier."""
    return dict(TINY)


@pytest.fixture(scope="session")
def sample():
    """The embedded FER2013 sample (656 PublicTest faces)."""
    from ferkit.datasets import load_sample

    return load_sample()


@pytest.fixture(scope="session")
def sample3():
    """The embedded sample restricted to the original work's three emotions."""
    from ferkit.datasets import load_sample

    return load_sample(emotions=("angry", "happy", "sad"))


@pytest.fixture(scope="session")
def fitted_pipeline(sample3):
    """A tiny default pipeline fitted on the three-emotion sample (shared; do not mutate)."""
    from ferkit import make_fer_pipeline

    return make_fer_pipeline(**TINY).fit(sample3.data, sample3.target)


@pytest.fixture(scope="session")
def shared_archive():
    """Path of ``../shared/data/fer2013-images.zip``; skips the test when it is absent."""
    if not SHARED_ARCHIVE.exists():
        pytest.skip(f"full FER2013 archive not found at {SHARED_ARCHIVE}")
    return SHARED_ARCHIVE


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def kill_when_printed():
    """Run a command and SIGKILL it once it prints a given line: a crash at a known point."""

    def run(argv, line: str, *, timeout: float = 240, **popen) -> None:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, **popen)
        try:
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            assert ready and proc.stdout.readline().strip() == line
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=60)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL

    return run


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of our own for the session (``tests/_postgres.py``): a temporary
    folder, a Unix socket only, stopped at the end even when tests fail. Skips the tests
    that need it, saying why, where it cannot be found or started."""
    import _postgres

    try:
        server = _postgres.start()
    except _postgres.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """URL of a fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database(request.node.name)


@pytest.fixture
def study_storage(request, tmp_path):
    """URL of an empty Optuna storage of the kind the test is parametrized with (indirectly):
    ``"sqlite"``, a file in tmp_path, or ``"postgresql"``, a fresh database on the session's
    PostgreSQL server (skipped, saying why, where none can be run)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    raise ValueError(f"unknown storage {request.param!r}")


@pytest.fixture(scope="session")
def happy_sad_60():
    """60 sample faces, 30 happy and 30 sad: enough for 2-fold stratified cross-validation
    with a validation split, small enough for searches and parallel runs to stay quick."""
    from ferkit.datasets import load_sample

    X, y = load_sample(emotions=("happy", "sad"), return_X_y=True)
    rng = np.random.default_rng(0)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), 30, replace=False)
                           for c in ("happy", "sad")])
    return X[keep], y[keep]
