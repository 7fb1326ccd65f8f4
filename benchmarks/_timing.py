"""Shared by the speed benchmarks: fair timing on a noisy machine, the data, memory readings.

Every speed figure is a ratio of ferkit against plain Keras (or scikit-learn) measured in the
same run. The machines these run on are shared, so the candidates are interleaved: each
repetition runs every candidate once, in a fresh random order, so that a burst of load from
another process falls on all of them alike; figures are medians.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "fer2013-images.zip"
PYTHON = sys.executable


def load_note() -> str:
    """How busy the machine was: load averages against the number of cores."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux/macOS
        return "load average unknown"
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def interleaved(candidates: dict[str, Callable[[], object]], *, repeats: int,
                warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each candidate, measured round-robin.

    Each repetition runs every candidate once, in a fresh random order (seeded, so runs are
    repeatable): slow drifts in machine load affect all alike, and no candidate always runs
    right after the same other one. (A rotating order keeps the cyclic order, so one
    candidate would always follow, say, ``Model.predict``, and pay for the threads and cache
    misses it leaves behind.)
    """
    names = list(candidates)
    for _ in range(warmup):
        for name in names:
            candidates[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    order = np.random.default_rng(0)
    for _ in range(repeats):
        for i in order.permutation(len(names)):
            start = time.perf_counter()
            candidates[names[i]]()
            times[names[i]].append(time.perf_counter() - start)
    return times


def median(values) -> float:
    return float(statistics.median(values))


def p95(values) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), 95))


def cpu_seconds() -> float:
    """CPU time of this process, all threads: less sensitive to other processes than wall
    time (a busy machine delays a run more than it makes it do more work)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process so far (Linux ``VmHWM``), in MiB."""
    return _status_field("VmHWM")


def rss_mib() -> float | None:
    """Resident memory of this process now (Linux ``VmRSS``), in MiB."""
    return _status_field("VmRSS")


def _status_field(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not on Linux
        return None
    return None


def fer_split(usage: str, *, quick: bool = False):
    """Images (n, 48, 48) uint8, labels and a description of one FER2013 split.

    The split comes from ``../shared/data/fer2013-images.zip`` when it is there (``usage``
    "Training" or "PublicTest"), otherwise from the sample shipped with ferkit; ``quick``
    always uses the sample.
    """
    if not quick and ARCHIVE.exists():
        from ferkit.datasets import load_fer2013

        start = time.perf_counter()
        faces = load_fer2013(ARCHIVE, usage=usage)
        seconds = time.perf_counter() - start
        source = (f"FER2013 {usage} split, {len(faces.target):,} faces, read from "
                  f"`{ARCHIVE.name}` with `ferkit.datasets.load_fer2013` in {seconds:.1f} s")
        return faces.images, np.asarray(faces.target, dtype=object), source
    from ferkit.datasets import load_sample

    faces = load_sample()
    why = "quick mode" if quick else f"{ARCHIVE} not found"
    return (faces.images, np.asarray(faces.target, dtype=object),
            f"the embedded {len(faces.target)}-face sample ({why})")


def as_network_input(images: np.ndarray) -> np.ndarray:
    """uint8 faces as the scaled float32 (n, 48, 48, 1) tensor both sides are given."""
    return (images[..., None] / np.float32(255.0)).astype(np.float32)


def run_child(script: Path, args: list[str], *, timeout: float = 1800,
              env: dict[str, str] | None = None) -> dict:
    """Run ``script`` with ``args`` in a fresh interpreter (``env`` added to this process's
    environment); its last stdout line is JSON."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    proc = subprocess.run([PYTHON, str(script), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{script.name} {' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"
