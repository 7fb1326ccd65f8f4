"""Save a fitted pipeline as plain files, load it in a new Python process, predict the same.

``ferkit.save`` writes a folder of JSON and HDF5 files (no pickle), atomically;
``ferkit.load`` reads it back running no code from it. This script trains a small pipeline
on the FER2013 sample shipped with ferkit, saves it, shows what the folder holds, then loads
it in a fresh Python process and checks that the probabilities are exactly the same.

Run from the repository root::

    .venv/bin/python examples/save_and_load.py              # into a temporary folder
    .venv/bin/python examples/save_and_load.py --out my-model

Set FERKIT_EXAMPLE_FAST=1 to train a tiny network for two epochs (for smoke tests).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up messages

import numpy as np

import ferkit
from ferkit.datasets import load_sample

FAST = os.environ.get("FERKIT_EXAMPLE_FAST") == "1"
PARAMS = (
    dict(filters=(4, 8), dense_units=(8,), epochs=2)
    if FAST
    else dict(filters=(16, 32, 64), dense_units=(64,), epochs=10)
)

# Run in a new interpreter: nothing of this process (no Keras session, no cached objects)
# can help the loaded model predict.
_FRESH = """
import sys
import numpy as np
import ferkit
from ferkit.datasets import load_sample
model = ferkit.load(sys.argv[1])
np.save(sys.argv[2], model.predict_proba(load_sample().data))
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="DIR", help="model folder to write (default: a "
                        "temporary folder, deleted at the end)")
    args = parser.parse_args(argv)

    faces = load_sample()
    model = ferkit.make_fer_pipeline(random_state=0, **PARAMS).fit(faces.data, faces.target)
    before = model.predict_proba(faces.data)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out) if args.out else Path(tmp) / "fer-model"
        # overwrite=True replaces a model saved there before, never another kind of folder.
        ferkit.save(model, folder, overwrite=True)

        print(f"saved to {folder}:")
        for path in sorted(folder.iterdir()):
            print(f"  {path.name:<18} {path.stat().st_size:>9,} bytes")
        manifest = json.loads((folder / "ferkit.json").read_text())
        summary = manifest["summary"]
        print(f"format version {manifest['format_version']}, written by ferkit "
              f"{manifest['written_by']['ferkit']}, Keras {manifest['written_by']['keras']}")
        print(f"classes {summary['classes']}, input shape {summary['input_shape']}, "
              f"{summary['epochs_run']} epochs run")
        print("pipeline steps:", [step["name"] for step in manifest["estimator"]["steps"]])

        loaded = ferkit.load(folder)
        same_params = all(
            loaded.named_steps[name].get_params() == step.get_params()
            for name, step in model.named_steps.items()
        )
        same_here = np.array_equal(loaded.predict_proba(faces.data), before)

        fresh = Path(tmp) / "fresh.npy"
        subprocess.run([sys.executable, "-c", _FRESH, str(folder), str(fresh)], check=True)
        same_fresh = np.array_equal(np.load(fresh), before)

    print(f"loaded here: same parameters {same_params}, same probabilities {same_here}")
    print(f"loaded in a new process: same probabilities {same_fresh}")
    if not (same_params and same_here and same_fresh):
        sys.exit("the loaded model does not predict as the saved one did")


if __name__ == "__main__":
    main()
