"""Training speed and peak memory: ``FacialExpressionClassifier.fit`` against plain Keras.

Both sides train the same network (``ferkit._network.build_cnn``, the default architecture),
compiled the same way (Adam, categorical cross-entropy, accuracy), with the same batch size, on
the same scaled float32 images: FER2013's Training split when ``../shared`` has the archive,
the embedded sample otherwise. The clock covers everything a user waits for: building,
compiling, encoding the labels and training. ferkit runs with ``validation_split=0`` so both
sides train on exactly the same images.

Two like-for-like pairs:

- **unseeded**: ``FacialExpressionClassifier()`` (``random_state=None``, the default) against
  a plain Keras script;
- **repeatable**: ``FacialExpressionClassifier(random_state=0)``, which makes training
  repeatable on the CPU (scikeras turns on TensorFlow's op determinism during ``fit``),
  against plain Keras made repeatable the same way (``keras.utils.set_random_seed(0)`` and
  ``tf.config.experimental.enable_op_determinism()``).

Each run is a fresh process (so peak memory is that run's own), in ABBA order (ferkit, Keras,
then Keras, ferkit...) so that the machine's load falls on both alike. Target: ferkit at least
0.95x the images per second of plain Keras in each pair.

Usage, from the repository root::

    python benchmarks/bench_training.py             # full Training split, 1 epoch, 4 repeats
    python benchmarks/bench_training.py --quick     # sample, tiny network, in-process (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    fer_split,
    fmt,
    load_note,
    median,
    peak_rss_mib,
    rss_mib,
    run_child,
)

SECTION = "training speed and memory"
TARGET = 0.95
#: The default FacialExpressionClassifier network, and a tiny one for --quick.
NETWORKS = {
    "default": dict(filters=(32, 64, 128), dense_units=(256, 128)),
    "tiny": dict(filters=(4, 8), dense_units=(8,)),
}
BATCH_SIZE = 64
SEED = 0
#: Pair name -> (ferkit side, plain-Keras side).
PAIRS = {
    "unseeded": ("ferkit", "keras"),
    "repeatable": ("ferkit seeded", "keras deterministic"),
}


def train_ferkit(X: np.ndarray, y: np.ndarray, network: str, epochs: int, *,
                 seeded: bool = False) -> None:
    from ferkit import FacialExpressionClassifier

    FacialExpressionClassifier(
        **NETWORKS[network], epochs=epochs, batch_size=BATCH_SIZE, validation_split=0.0,
        random_state=SEED if seeded else None,
    ).fit(X, y)


def train_keras(X: np.ndarray, y: np.ndarray, network: str, epochs: int, *,
                deterministic: bool = False) -> None:
    """What a person writes with Keras alone for the same network and data."""
    import keras
    import tensorflow as tf

    from ferkit._network import build_cnn

    if deterministic:
        keras.utils.set_random_seed(SEED)
        tf.config.experimental.enable_op_determinism()
    classes, codes = np.unique(y, return_inverse=True)
    Y = np.eye(len(classes), dtype=np.float32)[codes]
    model = build_cnn(X.shape[1:], len(classes), **NETWORKS[network],
                      seed=SEED if deterministic else None)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    try:
        model.fit(X, Y, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0)
    finally:
        if deterministic:  # in-process runs (--quick) must not leak it into the next run
            from tensorflow.python.framework import config  # no public switch back off

            config.disable_op_determinism()


SIDES = {
    "ferkit": train_ferkit,
    "keras": train_keras,
    "ferkit seeded": lambda *a: train_ferkit(*a, seeded=True),
    "keras deterministic": lambda *a: train_keras(*a, deterministic=True),
}


def one_run(side: str, X: np.ndarray, y: np.ndarray, network: str, epochs: int) -> dict:
    # Imports are not training: both sides' modules are loaded before the clock starts.
    import ferkit._classifier
    import ferkit._network  # noqa: F401

    before = rss_mib()
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    SIDES[side](X, y, network, epochs)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    return {"side": side, "seconds": seconds, "images_per_s": len(X) * epochs / seconds,
            "images_per_cpu_s": len(X) * epochs / cpu,
            "rss_before_mib": before, "peak_rss_mib": peak_rss_mib()}


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: less sensitive to other processes than wall
    time (a busy machine delays a run more than it makes it do more work)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args) -> int:
    with np.load(args.data, allow_pickle=False) as npz:
        images, target = npz["images"], npz["target"].astype(object)
    X = as_network_input(images)
    del images
    print(json.dumps(one_run(args.child, X, target, args.network, args.epochs)))
    return 0


def run_order(repeats: int) -> list[str]:
    """ABBA: each repetition runs every side once, the next one in reverse order."""
    one = [side for pair in PAIRS.values() for side in pair]
    return [side for r in range(repeats) for side in (one if r % 2 == 0 else one[::-1])]


def pair_rows(by_side: dict[str, list[dict]], memory: bool) -> list[dict]:
    rows = []
    for pair, (ours, theirs) in PAIRS.items():
        speed = {s: median([r["images_per_s"] for r in by_side[s]]) for s in (ours, theirs)}
        ratio = speed[ours] / speed[theirs]
        # Each repetition's own ratio: how far one measurement can be from another.
        paired = [a["images_per_s"] / b["images_per_s"]
                  for a, b in zip(by_side[ours], by_side[theirs], strict=True)]
        per_cpu = {s: median([r["images_per_cpu_s"] for r in by_side[s]])
                   for s in (ours, theirs)}
        # The verdict needs both: the ratio of the medians, and the median of the ratios of
        # runs made back to back (a single slow run cannot carry either alone).
        paired_median = median(paired)
        met = min(ratio, paired_median) >= TARGET
        rows.append({
            "pair": pair, "ferkit images/s": fmt(speed[ours], 0),
            "Keras images/s": fmt(speed[theirs], 0), "ferkit / Keras": fmt(ratio),
            "median paired ratio": fmt(paired_median),
            "target": f">= {TARGET}", "met": "yes" if met else "NO",
            "ratio per repetition": ", ".join(fmt(r) for r in paired),
            "ferkit / Keras, images per CPU-second": fmt(per_cpu[ours] / per_cpu[theirs]),
            "seconds per run (ferkit; Keras)":
                ", ".join(fmt(r["seconds"], 1) for r in by_side[ours]) + "; "
                + ", ".join(fmt(r["seconds"], 1) for r in by_side[theirs]),
        })
        if memory:
            peak = {s: max(r["peak_rss_mib"] for r in by_side[s]) for s in (ours, theirs)}
            base = {s: min(r["rss_before_mib"] for r in by_side[s]) for s in (ours, theirs)}
            growth = {s: peak[s] - base[s] for s in (ours, theirs)}
            rows[-1].update({
                "peak RSS MiB (ferkit; Keras)": f"{fmt(peak[ours], 0)}; {fmt(peak[theirs], 0)}",
                "growth in training MiB (ferkit; Keras)":
                    f"{fmt(growth[ours], 0)}; {fmt(growth[theirs], 0)}",
            })
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="embedded sample, tiny network, one repeat, in-process")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=4,
                        help="runs per side (default 4, in ABBA order)")
    parser.add_argument("--child", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="default",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    network = "tiny" if args.quick else args.network
    repeats = 1 if args.quick else args.repeats
    images, target, source = fer_split("Training", quick=args.quick)
    load_before = load_note()
    runs: list[dict] = []
    if args.quick:
        X = as_network_input(images)
        step = max(1, len(X) // BATCH_SIZE)  # every class, not the first one only
        for side in SIDES:  # warm-up: first-use costs of TensorFlow fall on no side
            one_run(side, X[::step], target[::step], network, 1)
        for side in run_order(repeats):
            runs.append(one_run(side, X, target, network, args.epochs))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "faces.npz"
            np.savez(data, images=images, target=np.asarray(target, dtype=str))
            for side in run_order(repeats):
                runs.append(run_child(Path(__file__), [
                    "--child", side, "--data", str(data), "--network", network,
                    "--epochs", str(args.epochs)]))
                print(f"  {side}: {runs[-1]['images_per_s']:.0f} images/s, peak RSS "
                      f"{runs[-1]['peak_rss_mib']:.0f} MiB", flush=True)
    load_after = load_note()

    by_side = {side: [r for r in runs if r["side"] == side] for side in SIDES}
    rows = pair_rows(by_side, memory=not args.quick)
    speed = {s: median([r["images_per_s"] for r in rs]) for s, rs in by_side.items()}
    determinism = speed["ferkit seeded"] / speed["ferkit"]
    n = len(images)
    notes = (
        f"Repeatable training costs speed: ferkit with `random_state=0` trains at "
        f"{fmt(determinism)}x the images per second of ferkit unseeded (plain Keras with op "
        f"determinism: {fmt(speed['keras deterministic'] / speed['keras'])}x of plain Keras).\n"
    )
    if not args.quick:
        data_u8 = images.nbytes / 2**20
        data_f32 = n * images[0].size * 4 / 2**20
        peak = {s: max(r["peak_rss_mib"] for r in rs) for s, rs in by_side.items()}
        base = min(r["rss_before_mib"] for r in runs)
        notes += (
            f"\nMemory: {n:,} faces are {data_u8:.0f} MiB as uint8 and {data_f32:.0f} MiB as "
            f"the float32 tensor both sides train on. Peak RSS of ferkit's (unseeded) "
            f"training process is {fmt(peak['ferkit'], 0)} MiB: {peak['ferkit'] / data_u8:.1f}x "
            f"the uint8 data, {peak['ferkit'] / data_f32:.1f}x the float32 tensor (plain Keras: "
            f"{fmt(peak['keras'], 0)} MiB). Of that, {fmt(base, 0)} MiB is there before "
            "training starts (Python, TensorFlow and the float32 tensor); \"growth\" is what "
            "training added.\n"
        )
    columns = ["pair", "ferkit images/s", "Keras images/s", "ferkit / Keras",
               "median paired ratio", "target", "met",
               "ratio per repetition", "ferkit / Keras, images per CPU-second",
               "seconds per run (ferkit; Keras)"]
    if not args.quick:
        columns += ["peak RSS MiB (ferkit; Keras)", "growth in training MiB (ferkit; Keras)"]
    table = markdown_table(rows, columns)
    mode = ("quick mode: in-process, tiny network" if args.quick
            else "each run a fresh process")
    body = (
        f"Data: {source}. Network: `{network}` ({NETWORKS[network]}), batch size {BATCH_SIZE}, "
        f"{args.epochs} epoch(s), {repeats} run(s) per side in ABBA order ({mode}). The clock "
        "covers building, compiling, label encoding and training. ferkit: "
        "`FacialExpressionClassifier(validation_split=0)` with its other defaults "
        "(early-stopping callback included); plain Keras: `build_cnn` + `compile` + `fit`. "
        "*unseeded*: no seed on either side; *repeatable*: ferkit `random_state=0` against "
        "Keras `set_random_seed(0)` + `enable_op_determinism()`. The verdict is on wall "
        "time (what a user waits for): *met* needs both the ratio of the medians and the "
        "median of the per-repetition ratios at the target; the CPU-time ratio is less "
        "sensitive to other processes.\n\n"
        f"Machine load: {load_before} at the start, {load_after} at the end (other work was "
        "running: figures are ratios of runs interleaved under the same load).\n\n"
        f"{table}\n\n{notes}"
    )
    print(table)
    print(notes)
    command = "python benchmarks/bench_training.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
