"""Training speed and peak memory: ``FacialExpressionClassifier.fit`` against plain Keras.

Both sides train the same network (``ferkit._network.build_cnn``, the default architecture),
compiled the same way (Adam, categorical cross-entropy, accuracy), with the same batch size, on
the same scaled float32 images: FER2013's Training split when ``../shared`` has the archive,
the embedded sample otherwise. The clock covers everything a user waits for: building,
compiling, encoding the labels and training. ferkit runs with ``validation_split=0`` so both
sides train on exactly the same images.

Each run is a fresh process (so peak memory is that run's own), and the runs alternate
ferkit, Keras, Keras, ferkit... so that the machine's load falls on both alike. Target:
ferkit at least 0.95x the images per second of plain Keras.

Usage, from the repository root::

    python benchmarks/bench_training.py             # full Training split, 1 epoch, 2 repeats
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


def train_ferkit(X: np.ndarray, y: np.ndarray, network: str, epochs: int) -> None:
    from ferkit import FacialExpressionClassifier

    FacialExpressionClassifier(
        **NETWORKS[network], epochs=epochs, batch_size=BATCH_SIZE, validation_split=0.0,
        random_state=SEED,
    ).fit(X, y)


def train_keras(X: np.ndarray, y: np.ndarray, network: str, epochs: int) -> None:
    """What a person writes with Keras alone for the same network and data."""
    import keras

    from ferkit._network import build_cnn

    keras.utils.set_random_seed(SEED)
    classes, codes = np.unique(y, return_inverse=True)
    Y = np.eye(len(classes), dtype=np.float32)[codes]
    model = build_cnn(X.shape[1:], len(classes), **NETWORKS[network], seed=SEED)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    model.fit(X, Y, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0)


SIDES = {"ferkit": train_ferkit, "keras": train_keras}


def one_run(side: str, X: np.ndarray, y: np.ndarray, network: str, epochs: int) -> dict:
    # Imports are not training: both sides' modules are loaded before the clock starts.
    import ferkit._classifier
    import ferkit._network  # noqa: F401

    before = rss_mib()
    start = time.perf_counter()
    SIDES[side](X, y, network, epochs)
    seconds = time.perf_counter() - start
    return {"side": side, "seconds": seconds, "images_per_s": len(X) * epochs / seconds,
            "rss_before_mib": before, "peak_rss_mib": peak_rss_mib()}


def child(args) -> int:
    with np.load(args.data, allow_pickle=False) as npz:
        images, target = npz["images"], npz["target"].astype(object)
    X = as_network_input(images)
    del images
    print(json.dumps(one_run(args.child, X, target, args.network, args.epochs)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="embedded sample, tiny network, one repeat, in-process")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs per side (default 2: ferkit, keras, keras, ferkit)")
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
    # ABBA order: ferkit, keras, keras, ferkit, ... so a drift in load hits both alike.
    order = [side for r in range(repeats)
             for side in (("ferkit", "keras") if r % 2 == 0 else ("keras", "ferkit"))]
    if args.quick:
        X = as_network_input(images)
        for side in SIDES:  # warm-up: first-use costs of TensorFlow fall on neither side
            step = max(1, len(X) // BATCH_SIZE)  # every class, not the first one only
            one_run(side, X[::step], target[::step], network, 1)
        for side in order:
            runs.append(one_run(side, X, target, network, args.epochs))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "faces.npz"
            np.savez(data, images=images, target=np.asarray(target, dtype=str))
            for side in order:
                runs.append(run_child(Path(__file__), [
                    "--child", side, "--data", str(data), "--network", network,
                    "--epochs", str(args.epochs)]))
                print(f"  {side}: {runs[-1]['images_per_s']:.0f} images/s", flush=True)
    load_after = load_note()

    by_side = {side: [r for r in runs if r["side"] == side] for side in SIDES}
    speed = {side: median([r["images_per_s"] for r in rs]) for side, rs in by_side.items()}
    ratio = speed["ferkit"] / speed["keras"]
    n = len(images)
    rows = [
        {"": "images / second (median)", "ferkit fit": fmt(speed["ferkit"], 0),
         "plain Keras": fmt(speed["keras"], 0), "ferkit / Keras": fmt(ratio),
         "target": f">= {TARGET}", "met": "yes" if ratio >= TARGET else "NO"},
        {"": "seconds per run (each)",
         "ferkit fit": ", ".join(fmt(r["seconds"], 1) for r in by_side["ferkit"]),
         "plain Keras": ", ".join(fmt(r["seconds"], 1) for r in by_side["keras"])},
    ]
    memory = ""
    if not args.quick:
        peak = {side: max(r["peak_rss_mib"] for r in rs) for side, rs in by_side.items()}
        base = {side: min(r["rss_before_mib"] for r in rs) for side, rs in by_side.items()}
        data_u8 = images.nbytes / 2**20
        data_f32 = n * images[0].size * 4 / 2**20
        rows.append({"": "peak RSS, MiB (whole process)", "ferkit fit": fmt(peak["ferkit"], 0),
                     "plain Keras": fmt(peak["keras"], 0),
                     "ferkit / Keras": fmt(peak["ferkit"] / peak["keras"])})
        rows.append({"": "RSS before training, MiB", "ferkit fit": fmt(base["ferkit"], 0),
                     "plain Keras": fmt(base["keras"], 0)})
        growth = {side: peak[side] - base[side] for side in SIDES}
        rows.append({"": "growth during training, MiB", "ferkit fit": fmt(growth["ferkit"], 0),
                     "plain Keras": fmt(growth["keras"], 0),
                     "ferkit / Keras": fmt(growth["ferkit"] / growth["keras"])})
        memory = (
            f"\nData: {n:,} faces are {data_u8:.0f} MiB as uint8 and {data_f32:.0f} MiB as the "
            f"float32 tensor both sides train on. Peak RSS of ferkit's training process is "
            f"{peak['ferkit'] / data_u8:.1f}x the uint8 data and "
            f"{peak['ferkit'] / data_f32:.1f}x the float32 tensor (plain Keras: "
            f"{peak['keras'] / data_u8:.1f}x and {peak['keras'] / data_f32:.1f}x). The process "
            "figure includes TensorFlow itself and the float32 copy loaded before the clock "
            "starts (\"RSS before training\"); \"growth\" is what training added.\n"
        )
    table = markdown_table(rows, ["", "ferkit fit", "plain Keras", "ferkit / Keras", "target",
                                  "met"])
    mode = ("quick mode: in-process, tiny network" if args.quick
            else "each run a fresh process")
    body = (
        f"Data: {source}. Network: `{network}` ({NETWORKS[network]}), batch size {BATCH_SIZE}, "
        f"{args.epochs} epoch(s), {repeats} run(s) per side in ABBA order ({mode}). The clock "
        "covers building, compiling, label encoding and training. ferkit: "
        "`FacialExpressionClassifier(validation_split=0)`, its other defaults (early-stopping "
        "callback included); plain Keras: `build_cnn` + `compile` + `fit`.\n\n"
        f"Machine load: {load_before} at the start, {load_after} at the end (other work was "
        "running: figures are ratios of runs interleaved under the same load).\n\n"
        f"{table}\n{memory}"
    )
    print(table)
    if memory:
        print(memory)
    command = "python benchmarks/bench_training.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
