"""Start-up costs: ``import ferkit`` against ``import sklearn``, and time to first prediction.

Every figure comes from fresh interpreters, alternated so that machine load falls on both
sides alike (medians of the repetitions).

- Import time: seconds spent in the import statement (measured inside the child) of
  ``import ferkit`` (and, for information, ``ferkit.datasets`` and ``ferkit.preprocessing``)
  against ``import sklearn``; the child also reports whether TensorFlow, Keras or matplotlib
  got loaded (they must not be). Target: ``import ferkit`` under 1.5x ``import sklearn``.
- Time to first prediction: from launching ``python`` to the first face's emotion, with a
  saved model: ``ferkit.load_pretrained("fer2013-3")`` (one network; ``fer2013-7`` is a vote
  of several, which plain Keras would not load as one file) when the pretrained models are
  installed, else a default-architecture pipeline saved with ``ferkit.save`` (the section
  says which); against plain Keras loading the same network from a ``.keras`` file and
  calling ``model.predict`` or ``model(x, training=False)``.

Usage, from the repository root::

    python benchmarks/bench_import.py            # 10 import rounds, 3 cold-start rounds
    python benchmarks/bench_import.py --quick    # 2 import rounds, 1 cold-start round
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import PYTHON, ROOT, fmt, load_note, median

SECTION = "start-up: import and first prediction"
TARGET_IMPORT = 1.5
HEAVY = ("tensorflow", "keras", "scikeras", "matplotlib", "optuna")

_IMPORT_CHILD = """
import json, resource, sys, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start, start_cpu = time.perf_counter(), cpu()
import {module}
seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
print(json.dumps({{"seconds": seconds, "cpu": cpu_seconds,
                  "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""

# Children for the first prediction. ``sys.argv[1]`` is the launch time (time.time()) taken
# by the parent just before starting the interpreter, so the figure includes its start-up.
_FIRST_PREDICTION = {
    "ferkit": """
import json, sys, time
import numpy as np
import ferkit
model = {loader}
face = np.load({face!r})
emotion = model.predict(face)[0]
print(json.dumps({{"seconds": time.time() - float(sys.argv[1]), "emotion": str(emotion)}}))
""",
    "keras `model.predict`": """
import json, sys, time
import numpy as np
import keras
model = keras.saving.load_model({keras_file!r})
face = np.load({face!r})
x = (face.reshape(1, 48, 48, 1) / 255.0).astype("float32")
proba = model.predict(x, verbose=0)
print(json.dumps({{"seconds": time.time() - float(sys.argv[1]), "argmax": int(proba.argmax())}}))
""",
    "keras `model(x, training=False)`": """
import json, sys, time
import numpy as np
import keras
model = keras.saving.load_model({keras_file!r})
face = np.load({face!r})
x = (face.reshape(1, 48, 48, 1) / 255.0).astype("float32")
proba = np.asarray(model(x, training=False))
print(json.dumps({{"seconds": time.time() - float(sys.argv[1]), "argmax": int(proba.argmax())}}))
""",
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter: its JSON result, plus ``process_cpu``, the CPU
    seconds of the whole process (start-up and exit included)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cpu_before = _children_cpu()
    proc = subprocess.run([PYTHON, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_cpu"] = _children_cpu() - cpu_before
    return result


def import_times(modules: list[str], repeats: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {m: [] for m in modules}
    for r in range(repeats):
        shift = r % len(modules)
        for module in modules[shift:] + modules[:shift]:
            out[module].append(_child(_IMPORT_CHILD.format(module=module, heavy=HEAVY)))
    return out


def saved_model(folder: Path, quick: bool) -> tuple[str, str, Path]:
    """(ferkit loader expression, description, .keras file of the same network)."""
    import ferkit
    from ferkit._pretrained import available_pretrained

    if not quick and "fer2013-3" in available_pretrained():
        model = ferkit.load_pretrained("fer2013-3")
        loader = 'ferkit.load_pretrained("fer2013-3")'
        what = "the pretrained model `fer2013-3` (`ferkit.load_pretrained`)"
    else:
        from ferkit.datasets import load_sample

        params = (dict(filters=(4, 8), dense_units=(8,)) if quick else {})
        faces = load_sample()
        model = ferkit.make_fer_pipeline(epochs=1, random_state=0, **params).fit(
            faces.data, faces.target)
        path = ferkit.save(model, folder / "fer-model")
        loader = f"ferkit.load({str(path)!r})"
        why = "quick mode" if quick else "the pretrained models are not installed yet"
        net = "a tiny network" if quick else "the default network"
        what = (f"a freshly saved pipeline ({net}, one epoch on the sample) loaded with "
                f"`ferkit.load`, because {why}")
    keras_file = folder / "model.keras"
    network = model[-1].model_ if hasattr(model, "steps") else model.model_
    network.save(keras_file)
    return loader, what, keras_file


def first_prediction_times(folder: Path, quick: bool, repeats: int):
    from ferkit.datasets import load_sample

    loader, what, keras_file = saved_model(folder, quick)
    face = folder / "face.npy"
    np.save(face, load_sample().data[:1])
    codes = {name: code.format(loader=loader, face=str(face), keras_file=str(keras_file))
             for name, code in _FIRST_PREDICTION.items()}
    if quick:  # one plain-Keras path is enough to exercise the comparison
        del codes["keras `model(x, training=False)`"]
    names = list(codes)
    out: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            launched = time.time()
            out[name].append(_child(codes[name], repr(launched)))
    return out, what


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 import rounds, 1 cold-start round, tiny model")
    parser.add_argument("--repeats", type=int, default=10, help="import rounds")
    parser.add_argument("--cold-repeats", type=int, default=3, help="first-prediction rounds")
    args = parser.parse_args(argv)
    repeats, cold = (2, 1) if args.quick else (args.repeats, args.cold_repeats)

    load_before = load_note()
    modules = ["ferkit", "sklearn", "ferkit.datasets", "ferkit.preprocessing"]
    imports = import_times(modules, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        first, what = first_prediction_times(Path(tmp), args.quick, cold)
    load_after = load_note()

    base = median([r["seconds"] for r in imports["sklearn"]])
    base_cpu = median([r["cpu"] for r in imports["sklearn"]])
    import_rows = []
    for module, runs in imports.items():
        seconds = median([r["seconds"] for r in runs])
        cpu = median([r["cpu"] for r in runs])
        loaded = sorted({m for r in runs for m in r["loaded"]})
        row = {"import": f"`import {module}`", "wall s": fmt(seconds, 3),
               "/ sklearn (wall)": fmt(seconds / base), "CPU s": fmt(cpu, 3),
               "/ sklearn (CPU)": fmt(cpu / base_cpu),
               "heavy modules loaded": ", ".join(loaded) or "none"}
        if module == "ferkit":
            ok = seconds / base < TARGET_IMPORT and cpu / base_cpu < TARGET_IMPORT and not loaded
            row.update(target=f"< {TARGET_IMPORT}x, no TensorFlow", met="yes" if ok else "NO")
        import_rows.append(row)

    def wall(runs):
        return median([r["seconds"] for r in runs])

    def cpu(runs):
        return median([r["process_cpu"] for r in runs])

    plain = {k: v for k, v in first.items() if k != "ferkit"}
    best = min(plain, key=lambda k: wall(plain[k]))
    best_cpu = min(plain, key=lambda k: cpu(plain[k]))
    first_rows = [{"path": name, "wall s (median)": fmt(wall(runs), 2),
                   "runs": ", ".join(fmt(r["seconds"], 2) for r in runs),
                   "ferkit / this (wall)": fmt(wall(first["ferkit"]) / wall(runs)),
                   "process CPU s": fmt(cpu(runs), 2),
                   "ferkit / this (CPU)": fmt(cpu(first["ferkit"]) / cpu(runs))}
                  for name, runs in first.items()]
    columns = ["import", "wall s", "/ sklearn (wall)", "CPU s", "/ sklearn (CPU)",
               "heavy modules loaded", "target", "met"]
    tables = (
        f"Import, {repeats} fresh interpreter(s) per module, alternated (wall and CPU "
        f"seconds of the import statement, medians):\n\n"
        f"{markdown_table(import_rows, columns)}\n\n"
        f"Time from launching `python` to the first prediction of one face, {cold} cold "
        f"process(es) per path, alternated (process CPU counts the whole process, exit "
        f"included):\n\n{markdown_table(first_rows)}\n\n"
        f"ferkit's first prediction takes "
        f"{fmt(wall(first['ferkit']) / wall(plain[best]))}x the wall time of the fastest "
        f"plain-Keras path ({best}) and {fmt(cpu(first['ferkit']) / cpu(plain[best_cpu]))}x "
        f"the CPU time of the cheapest ({best_cpu}).\n"
    )
    body = (
        f"Model for the first prediction: {what}; the plain-Keras side loads the same network "
        "from a `.keras` file (`keras.saving.load_model`) and scales the face itself. "
        "Heavy modules checked: " + ", ".join(HEAVY) + ".\n\n"
        f"Machine load: {load_before} at the start, {load_after} at the end (shared machine; "
        "the ratios compare runs made under the same load).\n\n" + tables
    )
    print(tables)
    command = "python benchmarks/bench_import.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
