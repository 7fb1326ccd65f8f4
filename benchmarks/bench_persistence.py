"""Model files: ``ferkit.save`` / ``ferkit.load`` against pickle, for the default network.

The model is the default pipeline (``make_fer_pipeline()``: three convolution blocks,
dense 256 and 128, seven emotions) trained for one epoch on the embedded 656-face sample;
training length does not change file sizes or timings. Candidates, timed round-robin against
the baseline (``pickle.dump`` / ``pickle.load`` of the fitted pipeline to a file, which goes
through scikeras' own Keras archive):

- ``ferkit.save`` as shipped (float32 weights with the optimizer state, exact);
- ``weights_dtype="float16", include_optimizer=False`` (how the pretrained models ship).

Reported per way: median save and load seconds and their ratio to pickle, folder (or file)
size, and how far the loaded model's probabilities are from the original's on the sample.

Usage, from the repository root::

    .venv/bin/python benchmarks/bench_persistence.py            # 7 rounds
    .venv/bin/python benchmarks/bench_persistence.py --quick    # 3 rounds
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import fmt, interleaved, load_note, median

SECTION = "Model files: ferkit.save / ferkit.load against pickle"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7

    import ferkit
    from ferkit.datasets import load_sample

    faces = load_sample()
    model = ferkit.make_fer_pipeline(epochs=1, random_state=0).fit(faces.data, faces.target)
    reference = model.predict_proba(faces.data)

    work = Path(tempfile.mkdtemp(prefix="ferkit-bench-persistence-"))
    try:
        ways = {
            "pickle (baseline)": (
                work / "model.pkl",
                lambda p: p.write_bytes(pickle.dumps(model)),
                lambda p: pickle.loads(p.read_bytes()),
            ),
            "ferkit.save (float32 + optimizer)": (
                work / "f32",
                lambda p: ferkit.save(model, p, overwrite=True),
                ferkit.load,
            ),
            "ferkit.save (float16, no optimizer)": (
                work / "f16",
                lambda p: ferkit.save(model, p, overwrite=True, weights_dtype="float16",
                                      include_optimizer=False),
                ferkit.load,
            ),
        }
        save_times = interleaved({name: (lambda w=w: w[1](w[0])) for name, w in ways.items()},
                                 repeats=repeats)
        load_times = interleaved({name: (lambda w=w: w[2](w[0])) for name, w in ways.items()},
                                 repeats=repeats)
        base_save = median(save_times["pickle (baseline)"])
        base_load = median(load_times["pickle (baseline)"])
        rows = []
        for name, (path, _, load) in ways.items():
            proba = load(path).predict_proba(faces.data)
            diff = float(np.abs(proba - reference).max())
            same = float(np.mean(proba.argmax(1) == reference.argmax(1)))
            rows.append({
                "way": name,
                "save s": fmt(median(save_times[name]), 3),
                "save / pickle": fmt(median(save_times[name]) / base_save),
                "load s": fmt(median(load_times[name]), 3),
                "load / pickle": fmt(median(load_times[name]) / base_load),
                "size MiB": fmt(_size(path) / 2**20),
                "max abs Δ proba": "0 (exact)" if diff == 0 else f"{diff:.1e}",
                "same label": f"{same:.1%}",
            })
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = markdown_table(rows)
    print(table)
    body = (
        f"Default pipeline (`make_fer_pipeline()`, 7 emotions), medians of {repeats} "
        f"interleaved rounds; {load_note()}. Probabilities compared on the 656-face sample.\n\n"
        f"{table}\n"
    )
    command = "python benchmarks/bench_persistence.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)


if __name__ == "__main__":
    main()
