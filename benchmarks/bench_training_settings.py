"""Training throughput under each Keras/TensorFlow setting issue #20 asks about, on one network.

The accuracy runs (``benchmarks/accuracy.py``) train the ``large`` network in Keras'
``mixed_bfloat16`` policy for hundreds of epochs on two cores, so a setting that trains more
faces per second is hours saved. ``bench_training.py`` compares ferkit with plain Keras and
bfloat16 with float32; this script holds everything else fixed and changes one setting at a
time against a baseline measured in the same run:

- **batch size** (64, the recipe's, against 128 and 256): larger batches feed the
  convolutions bigger matrices, but also change the optimisation (fewer, larger steps an
  epoch; the learning rate would have to follow), so a faster row here is a candidate for an
  accuracy run, not a free win;
- **steps_per_execution** (``Model.compile``): several training steps per call of the
  compiled function, less Python between steps;
- **the input pipeline**: ``Model.fit`` on NumPy arrays (what ferkit does; Keras slices them
  itself) against a ``tf.data`` pipeline that shuffles, batches and prefetches;
- **thread pools**: TensorFlow's inter-op and intra-op pools (``TF_NUM_INTEROP_THREADS``,
  ``TF_NUM_INTRAOP_THREADS``) at one thread instead of their default, one per core.

Each run is plain Keras (``ferkit._network.build_cnn``, Adam, one epoch over the first
``--faces`` Training faces, every k-th so that all classes are in) in a fresh process, so that
the thread settings take effect and no run inherits another's state; the clock covers
building, compiling and training. Runs are interleaved (the order reversed every other round)
and each row gives the median and the median of the per-round ratios to the baseline.

Usage, from the repository root::

    python benchmarks/bench_training_settings.py            # 8,192 faces, large, 2 rounds
    python benchmarks/bench_training_settings.py --quick    # sample, tiny network, 1 round
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import (
    as_network_input,
    cpu_seconds,
    fer_split,
    fmt,
    load_note,
    median,
    run_child,
)
from bench_training import NETWORKS

SECTION = "training settings: batch size, steps per execution, input pipeline, threads"
BASELINE = "batch 64 (baseline)"
#: Setting -> what it changes from the baseline (batch 64, one step per execution, NumPy
#: arrays, TensorFlow's default thread pools).
SETTINGS: dict[str, dict] = {
    BASELINE: {},
    "batch 128": {"batch_size": 128},
    "batch 256": {"batch_size": 256},
    "steps_per_execution 8": {"steps_per_execution": 8},
    "tf.data input with prefetch": {"pipeline": "tf.data"},
    "inter-op pool 1 thread": {"env": {"TF_NUM_INTEROP_THREADS": "1"}},
    "intra-op pool 1 thread": {"env": {"TF_NUM_INTRAOP_THREADS": "1"}},
}
#: A setting's speed must differ from the baseline's by this fraction, in the ratio of the
#: medians and in the median of the paired ratios, before the notes call it faster or slower.
NOISE = 0.05


def train(X: np.ndarray, y: np.ndarray, *, network: str, precision: str, batch_size: int = 64,
          steps_per_execution: int = 1, pipeline: str = "arrays") -> None:
    """One epoch of plain Keras training with the given settings."""
    import keras

    from ferkit._network import build_cnn

    keras.config.set_dtype_policy(precision)  # this process trains one network only
    classes, codes = np.unique(y, return_inverse=True)
    Y = np.eye(len(classes), dtype=np.float32)[codes]
    model = build_cnn(X.shape[1:], len(classes), **NETWORKS[network])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    if pipeline == "arrays":
        model.fit(X, Y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        return
    import tensorflow as tf

    data = (tf.data.Dataset.from_tensor_slices((X, Y)).shuffle(len(X))
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    model.fit(data, epochs=1, verbose=0)


def child(args) -> int:
    with np.load(args.data, allow_pickle=False) as npz:
        X, y = as_network_input(npz["images"]), npz["target"]
    options = {k: v for k, v in SETTINGS[args.child].items() if k != "env"}
    import ferkit._network  # noqa: F401  (imports are not training)

    cpu_start, start = cpu_seconds(), time.perf_counter()
    train(X, y, network=args.network, precision=args.precision, **options)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    print(json.dumps({"seconds": seconds, "images_per_s": len(X) / seconds,
                      "images_per_cpu_s": len(X) / cpu}))
    return 0


def measure(data: Path, *, network: str, precision: str, rounds: int) -> dict[str, list[dict]]:
    """Every setting once a round, each run a fresh process; the order reversed every other
    round so that each setting runs early and late alike."""
    names = list(SETTINGS)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            run = run_child(Path(__file__), ["--child", name, "--data", str(data),
                                             "--network", network, "--precision", precision],
                            env=SETTINGS[name].get("env"))
            print(f"  {name}: {run['images_per_s']:.0f} images/s", flush=True)
            runs[name].append(run)
    return runs


def rows_of(runs: dict[str, list[dict]]) -> list[dict]:
    base = runs[BASELINE]
    speed0 = median([r["images_per_s"] for r in base])
    cpu0 = median([r["images_per_cpu_s"] for r in base])
    rows = []
    for name, measured in runs.items():
        speed = median([r["images_per_s"] for r in measured])
        paired = median([a["images_per_s"] / b["images_per_s"]
                         for a, b in zip(measured, base, strict=True)])
        rows.append({
            "setting": name, "images/s (median)": fmt(speed, 0),
            "vs baseline": fmt(speed / speed0), "median paired ratio": fmt(paired),
            "images per CPU-second vs baseline":
                fmt(median([r["images_per_cpu_s"] for r in measured]) / cpu0),
            "seconds per run": ", ".join(fmt(r["seconds"], 1) for r in measured),
        })
    return rows


def verdict(rows: list[dict]) -> str:
    """Which settings were faster or slower than the baseline beyond the noise margin."""
    faster, slower = [], []
    for row in rows[1:]:
        ratios = (float(row["vs baseline"]), float(row["median paired ratio"]))
        if min(ratios) >= 1 + NOISE:
            faster.append(f"{row['setting']} ({row['vs baseline']}x)")
        elif max(ratios) <= 1 - NOISE:
            slower.append(f"{row['setting']} ({row['vs baseline']}x)")
    return (f"Faster than the baseline by {NOISE:.0%} or more in both ratios: "
            f"{', '.join(faster) or 'none'}. Slower by as much: {', '.join(slower) or 'none'}. "
            "The rest are within the noise of a shared machine.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="embedded sample, tiny network, one round")
    parser.add_argument("--faces", type=int, default=8192,
                        help="Training faces of each run's epoch (default 8192)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per setting (default 2)")
    parser.add_argument("--precision", default="mixed_bfloat16",
                        help="Keras dtype policy of every run (default: the accuracy runs')")
    parser.add_argument("--child", choices=sorted(SETTINGS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="large",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    network = "tiny" if args.quick else args.network
    rounds = 1 if args.quick else args.rounds
    images, target, source = fer_split("Training", quick=args.quick)
    step = max(1, len(images) // max(1, args.faces))
    images, target = images[::step][:args.faces], target[::step][:args.faces]
    load_before = load_note()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "faces.npz"
        np.savez(data, images=images, target=np.asarray(target, dtype=str))
        runs = measure(data, network=network, precision=args.precision, rounds=rounds)
    rows = rows_of(runs)
    table = markdown_table(rows)
    print(table)
    body = (
        f"Data: every {step}-th face of {source}: {len(images):,} faces. Network: `{network}` "
        f"({NETWORKS[network]}), Keras policy `{args.precision}`, Adam, one epoch a run, "
        f"{rounds} run(s) per setting, each a fresh process, order reversed every other "
        "round; the clock covers building, compiling and training. Baseline: batch 64, "
        "`steps_per_execution=1`, `fit` on NumPy arrays, TensorFlow's default thread pools. "
        "A batch size is a change of recipe too (fewer, larger steps): its speed alone does "
        "not make it better.\n\n"
        f"Machine load: {load_before} at the start, {load_note()} at the end.\n\n"
        f"{table}\n\n{verdict(rows)}\n"
    )
    command = "python benchmarks/bench_training_settings.py" + (
        " --quick" if args.quick else f" --faces {args.faces} --rounds {rounds}")
    write_section(SECTION, body, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
