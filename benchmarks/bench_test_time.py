"""Test-time views: what averaging over mirrored and cropped faces buys the shipped models.

The shipped ``fer2013-7`` and ``fer2013-3`` as they are (no training), each predicting
FER2013's PublicTest faces with its networks' test-time views set to:

- the face alone;
- the face and its mirror image (``test_time_flip=True``: what the models ship with);
- five crops (``test_time_crops=f``: four corners and the centre, each ``f`` of the side,
  resized back to 48x48), and the ten-crop (the five and their mirror images), for a few
  fractions ``f``.

Reported per row: accuracy and macro-F1, forward passes per network for one face, and the
milliseconds per face of the whole model's ``predict`` (batches of the whole split) with
its cost against the shipped setting measured in the same run. The networks were selected on
PublicTest (their epochs), so these figures compare settings; they are not a held-out score.

Usage, from the repository root::

    .venv/bin/python benchmarks/bench_test_time.py            # full PublicTest (~10 minutes)
    .venv/bin/python benchmarks/bench_test_time.py --quick    # smoke test

``--quick`` measures 140 random faces of the sample shipped with ferkit (PublicTest faces)
and one fraction. Without ``../shared/data/fer2013-images.zip`` the full run measures the
whole sample (656 faces) and says so.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _results import markdown_table, write_section
from _timing import ARCHIVE, load_note

SECTION = "test-time views"
COMMAND = ".venv/bin/python benchmarks/bench_test_time.py"
FRACTIONS = (0.96, 0.92, 0.875)
TASKS = ("fer2013-7", "fer2013-3")


def _faces(quick: bool):
    """``(pixels, labels, description)``: PublicTest, or the sample without the archive."""
    from ferkit.datasets import load_fer2013, load_sample

    if quick or not ARCHIVE.exists():
        sample = load_sample()
        n = 140 if quick else len(sample.target)
        keep = np.random.default_rng(0).permutation(len(sample.target))[:n]  # all emotions
        why = "quick mode" if quick else f"{ARCHIVE} not found"
        return (sample.data[keep], sample.target[keep],
                f"{n} PublicTest faces of the sample shipped with ferkit ({why})")
    public = load_fer2013(ARCHIVE, usage="PublicTest")
    return public.data, public.target, f"FER2013's PublicTest ({len(public.target):,} faces)"


def _settings(quick: bool) -> list[tuple[str, dict, int]]:
    """(name, classifier parameters, forward passes per network) of each row."""
    rows = [("face", {"test_time_flip": False, "test_time_crops": None}, 1),
            ("face + mirror (shipped)", {"test_time_flip": True, "test_time_crops": None}, 2)]
    for fraction in FRACTIONS[1:2] if quick else FRACTIONS:
        rows.append((f"5 crops of {fraction:g}",
                     {"test_time_flip": False, "test_time_crops": fraction}, 5))
        rows.append((f"ten-crop of {fraction:g}",
                     {"test_time_flip": True, "test_time_crops": fraction}, 10))
    return rows


def _networks(model) -> list:
    """The classifiers of a shipped pipeline: the members of its vote, or its classifier."""
    return list(getattr(model[-1], "estimators_", [model[-1]]))


def task_rows(task: str, X, y, quick: bool) -> list[dict]:
    from sklearn.metrics import accuracy_score, f1_score

    from ferkit import load_pretrained

    model = load_pretrained(task)
    keep = np.isin(y, model.classes_)
    X, y = X[keep], y[keep]
    networks = _networks(model)
    rows = []
    for name, params, passes in _settings(quick):
        for network in networks:
            network.set_params(**params)
        model.predict(X[:8])  # traces the forward pass: not part of the timing
        start = time.perf_counter()
        pred = model.predict(X)
        seconds = time.perf_counter() - start
        rows.append({"task": task, "views": name, "passes": passes * len(networks),
                     "accuracy": round(float(accuracy_score(y, pred)), 4),
                     "macro-F1": round(float(f1_score(y, pred, average="macro")), 4),
                     "ms/face": round(1000 * seconds / len(y), 2)})
    shipped = next(row for row in rows if row["views"].endswith("(shipped)"))
    for row in rows:
        row["cost vs shipped"] = f"{row['ms/face'] / shipped['ms/face']:.2f}x"
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="140 faces of the shipped sample, one crop fraction")
    args = parser.parse_args(argv)
    start_load = load_note()
    X, y, description = _faces(args.quick)
    print(description, flush=True)
    rows = [row for task in TASKS for row in task_rows(task, X, y, args.quick)]
    table = markdown_table(rows)
    print(table)
    body = (
        f"{description}; each model restricted to the faces of its classes. Machine load: "
        f"{start_load} at the start, {load_note()} at the end. *passes*: forward passes of "
        "one face through the whole model (networks x views); *ms/face*: the model's "
        "`predict` over the whole set, divided by its faces; crops are resized back to "
        "48x48 (bilinear). The networks' epochs were selected on PublicTest: compare rows, "
        "do not read them as held-out scores.\n\n" + table
    )
    write_section(SECTION, body, command=COMMAND + (" --quick" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
