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

A second part (its own section of RESULTS.md) measures training precision on the ``large``
preset's network, the one issue #20's recipes train: plain Keras in float32 against ferkit in
float32 and in Keras' ``mixed_bfloat16`` policy (set in the run's own process), one epoch over
the first ``--precision-faces`` Training faces, runs interleaved. Besides images per second
and per CPU-second it gives the fraction of the CPU's peak FLOP rate an epoch reaches: the
network's multiply-adds counted layer by layer (convolutions and dense layers; a training step
taken as three forward passes), against cores x clock x FLOPs per cycle (AVX-512: two FMA
units of 16 float32 lanes; AMX for bfloat16: 1,024 FLOPs per cycle), the clock being what
``/proc/cpuinfo`` reports. bfloat16 is ferkit's candidate, not its default: issue #20 makes it
a parameter only once accuracy holds within 0.3 points on PublicTest.

Usage, from the repository root::

    python benchmarks/bench_training.py             # full Training split, 1 epoch, 4 repeats
    python benchmarks/bench_training.py --part precision   # the precision part only
    python benchmarks/bench_training.py --quick     # sample, tiny network, in-process (seconds)
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
    "large": dict(filters=(32, 64, 128, 256), convs_per_block=2, dense_units=(256,)),
}
PRECISION_SECTION = "training precision: bfloat16 against float32"
#: Precision part: side -> (trainer, Keras dtype policy); the first is the baseline.
PRECISION_SIDES = {
    "keras float32": ("keras", "float32"),
    "ferkit float32": ("ferkit", "float32"),
    "ferkit mixed_bfloat16": ("ferkit", "mixed_bfloat16"),
}
#: FLOPs per cycle and core: AVX-512 float32 (two FMA units, 16 lanes, 2 FLOPs a lane) and
#: AMX bfloat16 (Intel's figure for a Sapphire Rapids core).
PEAK_FLOPS_PER_CYCLE = {"float32": 64, "mixed_bfloat16": 1024}
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


def _in_policy(policy: str, train, *args) -> None:
    """``train(*args)`` with Keras' dtype policy set for this process's networks, then reset
    (an in-process --quick run must not leak it into the next)."""
    import keras

    keras.config.set_dtype_policy(policy)
    try:
        train(*args)
    finally:
        keras.config.set_dtype_policy("float32")


#: Every way of training a run can take: the pairs' sides and the precision part's.
TRAINERS = {
    **SIDES,
    "keras float32": train_keras,
    "ferkit float32": train_ferkit,
    "ferkit mixed_bfloat16": lambda *a: _in_policy("mixed_bfloat16", train_ferkit, *a),
}


def one_run(side: str, X: np.ndarray, y: np.ndarray, network: str, epochs: int) -> dict:
    # Imports are not training: both sides' modules are loaded before the clock starts.
    import ferkit._classifier
    import ferkit._network  # noqa: F401

    before = rss_mib()
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    TRAINERS[side](X, y, network, epochs)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_start
    return {"side": side, "seconds": seconds, "images_per_s": len(X) * epochs / seconds,
            "images_per_cpu_s": len(X) * epochs / cpu,
            "rss_before_mib": before, "peak_rss_mib": peak_rss_mib()}


def child(args) -> int:
    with np.load(args.data, allow_pickle=False) as npz:
        images, target = npz["images"], npz["target"].astype(object)
    X = as_network_input(images)
    del images
    print(json.dumps(one_run(args.child, X, target, args.network, args.epochs)))
    return 0


def _child_run(side: str, data: Path, network: str, epochs: int) -> dict:
    """One run in a fresh process, on the faces saved in ``data``."""
    run = run_child(Path(__file__), ["--child", side, "--data", str(data), "--network",
                                     network, "--epochs", str(epochs)])
    print(f"  {side}: {run['images_per_s']:.0f} images/s, peak RSS "
          f"{run['peak_rss_mib']:.0f} MiB", flush=True)
    return run


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
    parser.add_argument("--part", choices=("all", "speed", "precision"), default="all",
                        help="the ferkit-against-Keras pairs (speed), the precision part, or "
                             "both (default)")
    parser.add_argument("--precision-faces", type=int, default=8192, metavar="N",
                        help="Training faces of the precision part's epoch (default 8192, "
                             "every k-th face so that all classes are in)")
    parser.add_argument("--child", choices=sorted(TRAINERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="default",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    images, target, source = fer_split("Training", quick=args.quick)
    if args.part in ("all", "precision"):
        precision_part(args, images, target, source)
    if args.part in ("all", "speed"):
        speed_part(args, images, target, source)
    return 0


def speed_part(args, images: np.ndarray, target: np.ndarray, source: str) -> None:
    """ferkit against plain Keras, unseeded and repeatable, on the default network."""
    network = "tiny" if args.quick else args.network
    repeats = 1 if args.quick else args.repeats
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
                runs.append(_child_run(side, data, network, args.epochs))
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


# -- precision -------------------------------------------------------------------------------


def network_flops(network: str, n_classes: int, side: int = 48) -> int:
    """FLOPs of one face's forward pass: 2 per multiply-add of the convolutions (3x3, same
    padding, each block halved by 2x2 pooling) and dense layers; the rest is negligible."""
    params = NETWORKS[network]
    convs = params.get("convs_per_block", 1)
    flops, channels = 0, 1
    for filters in params["filters"]:
        for _ in range(convs):
            flops += 2 * side * side * filters * 9 * channels
            channels = filters
        side //= 2
    width = side * side * channels
    for units in (*params["dense_units"], n_classes):
        flops += 2 * width * units
        width = units
    return flops


def peak_flops() -> tuple[dict[str, float], str]:
    """The CPU's peak FLOP rate per precision, and how it was computed ({} if unknown)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # pragma: no cover - not Linux
        return {}, "peak unknown (no /proc/cpuinfo)"
    mhz = [float(line.split(":")[1]) for line in info.splitlines()
           if line.startswith("cpu MHz")]
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "").split()
    if not mhz or "avx512f" not in flags:
        return {}, "peak unknown (no clock reported, or no AVX-512)"
    cores, ghz = os.cpu_count() or 1, max(mhz) / 1000
    kinds = ["float32"] + (["mixed_bfloat16"] if "amx_bf16" in flags else [])
    peaks = {kind: cores * ghz * 1e9 * PEAK_FLOPS_PER_CYCLE[kind] for kind in kinds}
    how = "; ".join(f"{kind}: {cores} cores x {ghz:.2f} GHz x {PEAK_FLOPS_PER_CYCLE[kind]} "
                    f"= {peaks[kind] / 1e9:,.0f} GFLOP/s" for kind in kinds)
    return peaks, how


def precision_rows(runs: dict[str, list[dict]], flops_per_image: int,
                   peaks: dict[str, float]) -> list[dict]:
    """One row per side: speed against plain Keras float32's, and the FLOP rate reached."""
    base = next(iter(PRECISION_SIDES))
    speed = {s: median([r["images_per_s"] for r in rs]) for s, rs in runs.items()}
    per_cpu = {s: median([r["images_per_cpu_s"] for r in rs]) for s, rs in runs.items()}
    rows = []
    for side, measured in runs.items():
        policy = side.split()[-1]
        rate = 3 * flops_per_image * speed[side]  # a training step: about three forwards
        peak = peaks.get(policy)
        rows.append({
            "side": side, "images/s (median)": fmt(speed[side], 0),
            "vs Keras float32": fmt(speed[side] / speed[base]),
            "images per CPU-second vs Keras float32": fmt(per_cpu[side] / per_cpu[base]),
            "seconds per run": ", ".join(fmt(r["seconds"], 1) for r in measured),
            "GFLOP/s": fmt(rate / 1e9, 1),
            "of the peak for its precision": "n/a" if not peak else f"{100 * rate / peak:.1f}%",
            "peak RSS MiB": fmt(max(r["peak_rss_mib"] for r in measured), 0),
        })
    return rows


def precision_part(args, images: np.ndarray, target: np.ndarray, source: str) -> None:
    """Plain Keras float32 against ferkit float32 and mixed_bfloat16 on the large network."""
    network = "tiny" if args.quick else "large"
    repeats = 1 if args.quick else max(2, args.repeats - 1)
    step = max(1, len(images) // max(1, args.precision_faces))
    images, target = images[::step][:args.precision_faces], target[::step][:args.precision_faces]
    n_classes = len(np.unique(target))
    load_before = load_note()
    names = list(PRECISION_SIDES)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "faces.npz"
        np.savez(data, images=images, target=np.asarray(target, dtype=str))
        X = as_network_input(images) if args.quick else None
        for r in range(repeats):  # ABC, CBA, ...: each side early and late alike
            for side in names if r % 2 == 0 else names[::-1]:
                runs[side].append(
                    one_run(side, X, target, network, args.epochs) if args.quick
                    else _child_run(side, data, network, args.epochs))
    load_after = load_note()
    flops = network_flops(network, n_classes)
    peaks, how = peak_flops()
    table = markdown_table(precision_rows(runs, flops, peaks))
    print(table)
    mode = "quick mode: in-process, tiny network" if args.quick else "each run a fresh process"
    body = (
        f"Data: every {step}-th face of {source}: {len(images):,} faces, {n_classes} classes. "
        f"Network: `{network}` ({NETWORKS[network]}), batch size {BATCH_SIZE}, "
        f"{args.epochs} epoch(s), {repeats} run(s) per side, order reversed every other "
        f"round ({mode}); the clock covers building, compiling and training. ferkit: "
        "`FacialExpressionClassifier(validation_split=0)` with that network, under Keras' "
        "global dtype policy set in the run's process; Keras: `build_cnn` + `compile` + "
        "`fit`, float32.\n\n"
        f"FLOPs: {flops / 1e6:,.1f} MFLOP a face forward (convolutions and dense layers), a "
        f"training step counted as three forwards. Peak: {how} (the clock /proc/cpuinfo "
        "reports; a turbo clock would lower the fractions).\n\n"
        f"Machine load: {load_before} at the start, {load_after} at the end.\n\n{table}\n\n"
        "bfloat16 is a candidate until the accuracy recipe's runs show PublicTest accuracy "
        "within 0.3 points of float32 (issue #20); ferkit trains in float32 by default.\n"
    )
    command = ("python benchmarks/bench_training.py " + ("--quick" if args.quick else
               f"--part precision --precision-faces {args.precision_faces}"))
    write_section(PRECISION_SECTION, body, command=command)


if __name__ == "__main__":
    sys.exit(main())
