"""Prediction speed: ``predict_proba`` against plain Keras, in batches and one face at a time.

One network (the default architecture, trained one epoch on the embedded sample: speed does
not depend on the weights) is called through ferkit and through every plain-Keras path, on the
same scaled float32 faces: FER2013's 3,589 PublicTest faces when ``../shared`` has the archive,
the sample otherwise. The paths are timed round-robin, in a fresh random order each repetition,
so load from other processes falls on all of them alike and no path always runs right after
``model.predict`` (whose threads and cache misses slow down the next call).

- Batch throughput (images per second, median of the repetitions): ``predict_proba`` against
  ``model.predict`` (its default batch of 32, and 256 as ferkit uses) and direct calls
  ``model(x, training=False)`` over chunks of 256. Target: at least 0.95x the best.
- Single-face latency (median and 95th percentile over 200 calls): ``predict_proba`` on one
  face against ``model(x, training=False)``, ``model.predict_on_batch`` and ``model.predict``.
  Target: no worse than the best plain-Keras path.

Usage, from the repository root::

    python benchmarks/bench_prediction.py            # 3,589 faces, 5 repeats, 200 calls
    python benchmarks/bench_prediction.py --quick    # sample, tiny network, few calls
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import (
    as_network_input,
    fer_split,
    fmt,
    interleaved,
    load_note,
    median,
    p95,
)

SECTION = "prediction speed"
TARGET_BATCH = 0.95
N_TEST = 3589
NETWORKS = {
    "default": dict(filters=(32, 64, 128), dense_units=(256, 128)),
    "tiny": dict(filters=(4, 8), dense_units=(8,)),
}
CHUNK = 256


def fitted_classifier(network: str):
    """A ferkit classifier of the given architecture, trained briefly on the sample."""
    from ferkit import FacialExpressionClassifier
    from ferkit.datasets import load_sample

    sample = load_sample()
    return FacialExpressionClassifier(
        **NETWORKS[network], epochs=1, validation_split=0.0, random_state=0
    ).fit(as_network_input(sample.images), sample.target)


def test_faces(quick: bool) -> tuple[np.ndarray, str]:
    images, _, source = fer_split("PublicTest", quick=quick)
    return as_network_input(images), source


def batch_candidates(clf, X):
    model = clf.model_

    def direct_chunks():
        return np.concatenate(
            [np.asarray(model(X[i:i + CHUNK], training=False)) for i in range(0, len(X), CHUNK)]
        )

    return {
        "ferkit `predict_proba`": lambda: clf.predict_proba(X),
        "`model.predict` (batch 32, its default)": lambda: model.predict(X, verbose=0),
        f"`model.predict(batch_size={CHUNK})`":
            lambda: model.predict(X, batch_size=CHUNK, verbose=0),
        f"`model(x, training=False)`, chunks of {CHUNK}": direct_chunks,
    }


def single_candidates(clf, x1):
    model = clf.model_
    return {
        "ferkit `predict_proba`": lambda: clf.predict_proba(x1),
        "`model(x, training=False)`": lambda: np.asarray(model(x1, training=False)),
        "`model.predict_on_batch`": lambda: model.predict_on_batch(x1),
        "`model.predict`": lambda: model.predict(x1, verbose=0),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="sample, tiny network, 1 batch repeat, 10 single-face calls")
    parser.add_argument("--repeats", type=int, default=5, help="batch repetitions per path")
    parser.add_argument("--calls", type=int, default=200, help="single-face calls per path")
    args = parser.parse_args(argv)
    network = "tiny" if args.quick else "default"
    repeats, calls = (1, 10) if args.quick else (args.repeats, args.calls)

    X, source = test_faces(args.quick)
    clf = fitted_classifier(network)
    ferkit_out = clf.predict_proba(X)
    keras_out = clf.model_.predict(X, verbose=0)
    # Same network, same answers: the paths differ only in the way they call it.
    np.testing.assert_allclose(ferkit_out, keras_out, rtol=1e-4, atol=1e-5)

    load_before = load_note()
    batch = interleaved(batch_candidates(clf, X), repeats=repeats)
    single = interleaved(single_candidates(clf, X[:1]), repeats=calls, warmup=3)
    load_after = load_note()

    ferkit_name = "ferkit `predict_proba`"
    speed = {name: len(X) / median(times) for name, times in batch.items()}
    best_plain = max(v for k, v in speed.items() if k != ferkit_name)
    batch_rows = []
    for name, value in speed.items():
        row = {"path": name, "images / s (median)": fmt(value, 0),
               "ferkit / this": fmt(speed[ferkit_name] / value)}
        batch_rows.append(row)
    batch_ratio = speed[ferkit_name] / best_plain

    lat = {name: (median(times) * 1e3, p95(times) * 1e3) for name, times in single.items()}
    fastest = {name: min(times) * 1e3 for name, times in single.items()}
    plain = {k: v for k, v in lat.items() if k != ferkit_name}
    best_median = min(plain, key=lambda k: plain[k][0])
    best_p95 = min(plain, key=lambda k: plain[k][1])
    single_rows = [
        {"path": name, "median ms": fmt(m, 3), "p95 ms": fmt(p, 3),
         "fastest ms": fmt(fastest[name], 3),
         "ferkit / this (median)": fmt(lat[ferkit_name][0] / m)}
        for name, (m, p) in lat.items()
    ]
    median_ratio = lat[ferkit_name][0] / plain[best_median][0]
    p95_ratio = lat[ferkit_name][1] / plain[best_p95][1]

    verdict = [
        {"figure": "batch throughput vs best plain path", "ferkit / best": fmt(batch_ratio),
         "target": f">= {TARGET_BATCH}", "met": "yes" if batch_ratio >= TARGET_BATCH else "NO"},
        {"figure": f"single-face median vs best ({best_median})", "ferkit / best":
         fmt(median_ratio), "target": "<= 1.00 (no worse)",
         "met": "yes" if median_ratio <= 1.0 else "NO"},
        {"figure": f"single-face p95 vs best ({best_p95})", "ferkit / best": fmt(p95_ratio),
         "target": "<= 1.00 (no worse)", "met": "yes" if p95_ratio <= 1.0 else "NO"},
    ]
    tables = (
        f"Batch of {len(X):,} faces, {repeats} repetition(s) per path:\n\n"
        f"{markdown_table(batch_rows)}\n\n"
        f"One face, {calls} calls per path (interleaved call by call, random order; "
        "\"fastest\" is the "
        "least disturbed call, closest to the path's own cost):\n\n"
        f"{markdown_table(single_rows)}\n\n"
        f"{markdown_table(verdict)}\n"
    )
    body = (
        f"Faces: {source}. Network: `{network}` ({NETWORKS[network]}), input float32 "
        f"(n, 48, 48, 1) scaled to 0-1, the same array for every path; one fitted classifier, "
        "whose `model_` the plain-Keras paths call. Outputs agree (checked).\n\n"
        f"Machine load: {load_before} at the start, {load_after} at the end (shared machine: "
        "compare the ratios, which are measured under the same load, rather than the absolute "
        "figures).\n\n" + tables
    )
    print(tables)
    command = "python benchmarks/bench_prediction.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
