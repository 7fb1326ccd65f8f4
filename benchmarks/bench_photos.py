"""Photo speed: face detection plus emotion prediction, per photo and for a folder.

Photos are synthetic 640x480 JPEGs made from scikit-image's own pictures (the astronaut's
photo, scaled, flipped and re-lit, pasted on its landscapes and textures), written to a
temporary folder that is deleted afterwards: no photo is kept.

The candidates are timed in the same run, photo by photo and round-robin (each photo is
handed to every candidate in turn, in an order that rotates from one photo to the next), so
that bursts of load from other processes fall on all of them alike:

- **raw cascade** (the baseline): what a person writes by hand with scikit-image alone:
  ``skimage.io.imread`` the file, ``rgb2gray``, and ``Cascade.detect_multi_scale`` with the
  search ferkit uses (scale factor 1.1, step 1.5, 24-pixel to whole-image windows) and
  scikit-image's own merging;
- **mtcnn package** (the plain detector call, only when the ``mtcnn`` package is importable;
  it is not a ferkit dependency): ``MTCNN().detect_faces(path)``, the upstream code ferkit's
  default detector comes from;
- **detect_faces lbp** / **detect_faces**: ``ferkit.detect_faces(path, detector="lbp")`` and
  the default ``ferkit.detect_faces(path)`` (MTCNN): reading, detection, the table;
- **predict_image lbp** (today's LBP path, what ``ferkit predict`` did before MTCNN) and
  **predict_image** (the new default): ``ferkit.predict_image(model, path)``, everything
  ``ferkit predict`` does per photo: detection, aligned 48x48 crops and the network's
  probabilities. The default detector must be no slower than the LBP path.

Ratios are against the raw cascade. The model is the pretrained ``fer2013-7`` when this
installation has it, else the default network trained for one epoch on the embedded sample
(the same architecture, so the same prediction cost).

Usage, from the repository root::

    .venv/bin/python benchmarks/bench_photos.py            # 1 photo x 30, folder of 100
    .venv/bin/python benchmarks/bench_photos.py --quick    # 1 photo x 5, folder of 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import fmt, load_note, median, p95

SECTION = "photo detection and prediction speed"
SIZE = (640, 480)  # width, height
BACKGROUNDS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "horse", "camera")


def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` 640x480 JPEG photos with one face each, in ``folder``."""
    from PIL import Image, ImageEnhance, ImageOps
    from skimage import data

    rng = np.random.default_rng(seed)
    person = Image.fromarray(data.astronaut())
    backgrounds = [
        Image.fromarray(getattr(data, name)()).convert("RGB").resize(SIZE) for name in BACKGROUNDS
    ]
    paths = []
    for i in range(n):
        photo = backgrounds[i % len(backgrounds)].copy()
        side = int(rng.integers(240, 481))  # the face is then about 45-95 pixels wide
        pasted = person.resize((side, side))
        if rng.random() < 0.5:
            pasted = ImageOps.mirror(pasted)
        pasted = ImageEnhance.Brightness(pasted).enhance(float(rng.uniform(0.6, 1.2)))
        photo.paste(pasted, (int(rng.integers(0, SIZE[0] - side + 1)), SIZE[1] - side))
        path = folder / f"photo{i:03d}.jpg"
        photo.save(path, quality=90)
        paths.append(path)
    return paths


def get_model():
    """The pretrained seven-emotion model, or the default network fitted on the sample."""
    import ferkit

    try:
        return ferkit.load_pretrained("fer2013-7"), "pretrained fer2013-7"
    except (FileNotFoundError, ValueError, OSError, AttributeError, ImportError):
        from ferkit.datasets import load_sample

        sample = load_sample()
        model = ferkit.make_fer_pipeline(epochs=1, random_state=0)
        model.fit(sample.data, sample.target)
        return model, "default network, 1 epoch on the embedded sample (pretrained not found)"


def raw_cascade():
    """The baseline: scikit-image alone, by hand."""
    from skimage import io
    from skimage.color import rgb2gray
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    cascade = Cascade(lbp_frontal_face_cascade_filename())

    def detect(path):
        gray = rgb2gray(io.imread(path))
        return cascade.detect_multi_scale(
            img=gray, scale_factor=1.1, step_ratio=1.5, min_size=(24, 24), max_size=gray.shape
        )

    return detect


def mtcnn_package():
    """The upstream ``mtcnn`` package's own call, or None where it is not installed."""
    try:
        from mtcnn import MTCNN
    except ImportError:
        return None
    detector = MTCNN()
    return lambda path: detector.detect_faces(str(path))


def round_robin(candidates: dict, photos: list[Path]) -> dict[str, dict[str, list[float]]]:
    """Wall-clock and CPU seconds of each candidate on each photo, candidates interleaved."""
    names = list(candidates)
    for name in names:  # warm-up: imports, the cascade's file, TensorFlow's first call
        candidates[name](photos[0])
    times = {name: {"wall": [], "cpu": []} for name in names}
    for i, photo in enumerate(photos):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            wall, cpu = time.perf_counter(), time.process_time()
            candidates[name](photo)
            times[name]["cpu"].append(time.process_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, folder of 10")
    parser.add_argument("--photos", type=int, default=None, help="photos in the folder")
    parser.add_argument("--repeats", type=int, default=None, help="single-photo repeats")
    args = parser.parse_args(argv)
    n_photos = args.photos or (10 if args.quick else 100)
    repeats = args.repeats or (5 if args.quick else 30)

    from ferkit import detect_faces, predict_image
    from ferkit.faces import make_detector

    model, model_note = get_model()
    # One detector object each, as ferkit predict builds one for a whole folder.
    mtcnn, lbp = make_detector("mtcnn"), make_detector("lbp")
    candidates = {"raw cascade": raw_cascade()}
    upstream = mtcnn_package()
    if upstream is not None:
        candidates["mtcnn package"] = upstream
    candidates.update({
        "detect_faces lbp": lambda path: detect_faces(path, detector=lbp),
        "detect_faces": lambda path: detect_faces(path, detector=mtcnn),
        "predict_image lbp": lambda path: predict_image(model, path, detector=lbp),
        "predict_image": lambda path: predict_image(model, path, detector=mtcnn),
    })
    with tempfile.TemporaryDirectory(prefix="ferkit-bench-photos-") as tmp:
        paths = make_photos(Path(tmp), n_photos)
        faces_found = sum(len(detect_faces(p, detector=mtcnn)) > 0 for p in paths)
        lbp_found = sum(len(detect_faces(p, detector=lbp)) > 0 for p in paths)
        single = round_robin(candidates, [paths[0]] * repeats)
        start = time.perf_counter()
        folder = round_robin(candidates, paths)
        folder_seconds = time.perf_counter() - start

    def rate(name, clock):
        return n_photos / sum(folder[name][clock])

    base = "raw cascade"
    rows = []
    for name in candidates:
        wall = single[name]["wall"]
        rows.append({
            "candidate": name,
            "1 photo median (ms)": fmt(1000 * median(wall), 1),
            "1 photo p95 (ms)": fmt(1000 * p95(wall), 1),
            "latency vs raw cascade": fmt(median(wall) / median(single[base]["wall"])) + "x",
            "1 photo CPU median (ms)": fmt(1000 * median(single[name]["cpu"]), 1),
            f"folder of {n_photos} (photos/s)": fmt(rate(name, "wall")),
            "throughput vs raw cascade": fmt(rate(name, "wall") / rate(base, "wall")) + "x",
            "photos per CPU-second": fmt(rate(name, "cpu")),
        })
    table = markdown_table(rows)
    print(table)
    vs_lbp = median(single["predict_image"]["wall"]) / median(single["predict_image lbp"]["wall"])
    body = "\n".join([
        f"One 640x480 JPEG photo timed {repeats} times per candidate, then a folder of "
        f"{n_photos} such photos (one face each, 45-95 pixels wide; MTCNN found faces in "
        f"{faces_found} of them, the LBP cascade in {lbp_found}) read one by one, as "
        "`ferkit predict FOLDER` does; candidates interleaved photo by photo. Baseline: "
        "scikit-image alone (`imread`, `rgb2gray`, `Cascade.detect_multi_scale` with the same "
        "search). "
        f"Model: {model_note}. The folder part took {folder_seconds:.0f} s; {load_note()}.",
        "",
        table,
        "",
        "Wall-clock figures are what a person waits; on a busy machine they swing with other "
        "processes' load, so CPU figures (this process's CPU time; TensorFlow may use several "
        "threads) are given beside them. `detect_faces lbp` does the baseline's search plus "
        "its own window merging and scoring; `detect_faces` runs MTCNN's three networks "
        "instead; predict_image adds the 48x48 crops (aligned when MTCNN gives the eyes) and "
        "the model's forward passes (one batch per photo through each of its networks, faces "
        "and their mirror images where the model flips at test time). The first call of each "
        "(TensorFlow's import and tracing, a few seconds) is a warm-up, not timed. "
        "The default photo path (`predict_image`) takes "
        f"{vs_lbp:.2f}x the LBP path's time per photo (goal: at most 1x).",
    ])
    write_section(SECTION, body, command=" ".join(["python benchmarks/bench_photos.py",
                                                   *(argv or sys.argv[1:])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
