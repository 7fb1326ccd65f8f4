"""Every script in ``examples/`` runs to completion, as a user would start it.

Each example is started as its own process from an empty working folder, with
``FERKIT_EXAMPLE_FAST=1``: the convention every example follows to train a tiny network for
a couple of epochs on the embedded sample instead of its normal settings. New examples are
picked up by the glob.

An example must take under a minute. The machine running the suite may be shared, so the
limit is checked on the CPU time the example's processes used (which contention barely
changes), and the wall clock only guards against a hang.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: CPU seconds (user + system, the example and its child processes) an example may use.
CPU_LIMIT_S = 60
#: Wall-clock seconds before an example is taken to hang.
WALL_LIMIT_S = 300

#: Lines (regular expressions) an example must print, beyond printing something: what it
#: exists to show. The tuning examples are checked here only, not run again in-process.
PRINTS = {
    "grid_search_pipeline.py": [
        r"best parameters: \{'clf__dropout': [\d.]+\}",
        r"best cross-validated accuracy: [01]\.\d{3}",
        r"accuracy of the refit best pipeline on \d+ held-out faces: [01]\.\d{3}",
    ],
    "valence.py": [
        r"656 faces, \d+ features each from fer2013-\d: negative 356, neutral 100, positive 200",
        r"most common label alone: 0\.543",
        r"cross-validated accuracy \(5 folds\): [01]\.\d{3} \+/- [01]\.\d{3}",
        r"a face labelled 'happy' is predicted '(positive|neutral|negative)'",
    ],
    "optuna_search.py": [
        # The second worker joins the stored study: its trial is the study's third.
        r"worker 1: the study holds 2 trials",
        r"worker 2: the study holds 3 trials \(stored in .*study\.db\)",
        r"(?m)^\s+2\s+COMPLETE\s",
        r"best cross-validated accuracy: [01]\.\d{3}",
        r"optimization_history: .*optimization_history\.png",
    ],
}

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


def run_example(script: Path, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess,
                                                              float]:
    """Run ``script`` with ``args`` in ``cwd``; return the finished process and CPU seconds."""
    env = dict(os.environ, FERKIT_EXAMPLE_FAST="1", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=WALL_LIMIT_S,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu


def _failure(proc: subprocess.CompletedProcess) -> str:
    return (f"exit status {proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}\n"
            f"--- stderr ---\n{proc.stderr[-3000:]}")


def test_examples_exist():
    names = {path.name for path in EXAMPLES}
    assert {"three_emotions.py", "pipeline_cross_validation.py", "save_and_load.py"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(script, tmp_path):
    proc, cpu = run_example(script, cwd=tmp_path)
    assert proc.returncode == 0, _failure(proc)
    assert proc.stdout.strip(), f"{script.name} printed nothing"
    for pattern in PRINTS.get(script.name, []):
        assert re.search(pattern, proc.stdout), f"{pattern!r} not printed\n{_failure(proc)}"
    assert "Traceback" not in proc.stderr, _failure(proc)
    assert cpu < CPU_LIMIT_S, f"{script.name} used {cpu:.0f} s of CPU time"
    # Pictures (some of people) are written only when asked for, and nothing was asked.
    images = [p for p in tmp_path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    assert not images, f"{script.name} wrote images without being asked: {images}"


def test_three_emotions_on_fer2013_csv_with_plots(tmp_path, sample3):
    """``--data`` reads FER2013 from a file (here a fer2013.csv written from the sample's
    faces: Training and PublicTest rows), and ``--plots`` writes the pictures."""
    rng = np.random.default_rng(0)
    usage = np.where(rng.random(len(sample3.target)) < 0.75, "Training", "PublicTest")
    codes = {"angry": 0, "happy": 3, "sad": 4}
    # Rows of other emotions and of PrivateTest must be left out by the example.
    extra_pixels = " ".join(map(str, sample3.data[0]))
    lines = ["emotion,pixels,Usage", f"6,{extra_pixels},Training",
             f"0,{extra_pixels},PrivateTest"]
    lines += [f"{codes[e]},{' '.join(map(str, row))},{u}"
              for e, row, u in zip(sample3.target, sample3.data, usage, strict=True)]
    csv = tmp_path / "fer2013.csv"
    csv.write_text("\n".join(lines) + "\n")
    plots = tmp_path / "plots"

    proc, _ = run_example(ROOT / "examples" / "three_emotions.py", "--data", str(csv),
                          "--plots", str(plots), cwd=tmp_path)

    assert proc.returncode == 0, _failure(proc)
    n_train, n_test = int((usage == "Training").sum()), int((usage == "PublicTest").sum())
    assert f"{n_train} training faces, {n_test} test faces" in proc.stdout
    assert "emotions ['angry', 'happy', 'sad']" in proc.stdout
    for emotion in ("angry", "happy", "sad"):
        assert any(line.startswith(emotion) for line in proc.stdout.splitlines())
    written = sorted(p.name for p in plots.iterdir())
    assert written == [
        "confusion_matrix.png", "confusion_matrix_normalized.png", "learning_curves.png"
    ]
    from PIL import Image

    for name in written:
        with Image.open(plots / name) as image:
            assert image.format == "PNG" and min(image.size) > 100
