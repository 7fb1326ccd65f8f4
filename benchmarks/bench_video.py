"""Video: predict_video's memory on a long clip, and its speed against decode + detect.

Clips are synthetic, written by this script with ``ferkit.video.write_video`` (H.264) into a
temporary folder deleted afterwards: the astronaut's face from scikit-image and its mirror
image, moving back and forth on either half of a grey frame, 25 frames a second.

- **Memory**: peak resident memory (``ru_maxrss``) of ``predict_video`` on a 10-second and a
  10-minute clip (320x240), each in a fresh process, so that each peak is its own. Both
  analyse one frame in five (``every=5``: 50 and 3,000 analysed frames, two faces each;
  every frame is still decoded), so that the 10-minute run takes two or three minutes on two
  busy cores rather than the quarter of an hour every frame would; what is measured is
  whether memory grows with length, and only the rows should. Goal: the 10-minute peak
  within 200 MB of the 10-second one. The peak before the video is opened (the model loaded,
  TensorFlow imported) is given beside each.
- **Speed**: analysed frames per second of ``predict_video`` on a 20-second 640x480 clip
  (``every=5``: 100 analysed frames) against the bare loop a person would write to find the
  faces: the same ``VideoReader``, the same detector object, the same frames (decode,
  grayscale, detect; no crops, no network, no tracking, no table). Rounds alternate
  (ABBA) in one process; the ratio is of the medians. The network's share is the time spent
  inside the model's ``predict_proba`` over predict_video's time.

The model is the shipped ``fer2013-7`` and the detector MTCNN (the defaults of
``ferkit predict``). ``--quick`` (the smoke test's size) uses 2- and 6-second 160x120 clips,
the LBP cascade and a logistic regression on random pixels instead, so that no TensorFlow is
loaded: its figures mean nothing.

Usage, from the repository root::

    .venv/bin/python benchmarks/bench_video.py            # a few minutes on 2 cores
    .venv/bin/python benchmarks/bench_video.py --quick    # seconds
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
from _timing import fmt, load_note, median

SECTION = "video: predict_video memory and speed"
FPS = 25
#: Clip lengths (seconds), sizes (width, height) and ``every`` of the memory and speed parts.
FULL = {"short": 10, "long": 600, "memory_size": (320, 240), "memory_every": 5,
        "speed": 20, "speed_size": (640, 480), "speed_every": 5, "rounds": 2,
        "detector": "mtcnn"}
QUICK = {"short": 2, "long": 6, "memory_size": (160, 120), "memory_every": 5,
         "speed": 2, "speed_size": (160, 120), "speed_every": 5, "rounds": 1,
         "detector": "lbp"}


def frames(seconds: float, size: tuple[int, int]):
    """Frames of two faces moving back and forth, each on its half of the frame."""
    from skimage.data import astronaut
    from skimage.transform import resize

    width, height = size
    side = height * 2 // 5
    face = (resize(astronaut()[20:220, 140:320], (side, side * 9 // 10), anti_aliasing=True)
            * 255).astype(np.uint8)
    faces = (face, face[:, ::-1])
    travel = width // 2 - face.shape[1] - 4
    top = (height - side) // 2
    for i in range(int(seconds * FPS)):
        frame = np.full((height, width, 3), 96, np.uint8)
        shift = int(travel * (0.5 + 0.5 * np.sin(2 * np.pi * i / (4 * FPS))))  # 4 s period
        for half, pixels in enumerate(faces):
            x = 2 + half * width // 2 + (shift if half == 0 else travel - shift)
            frame[top:top + side, x:x + pixels.shape[1]] = pixels
        yield frame


def quick_model():
    """A logistic regression on random 48x48 pixel rows (no TensorFlow, fitted at once): the
    smoke test's model, which only has to give probabilities."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    return LogisticRegression(max_iter=50).fit(rng.integers(0, 256, (40, 48 * 48)),
                                               np.repeat(["happy", "sad"], 20))


def get_model(quick: bool):
    if quick:
        return quick_model(), "a logistic regression on random pixels (--quick)"
    import ferkit

    return ferkit.load_pretrained("fer2013-7"), "the shipped fer2013-7"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def child(clip: str, every: int, detector: str, quick: bool) -> None:
    """In a fresh process: predict_video on ``clip``; print its figures as JSON."""
    import ferkit

    model, _ = get_model(quick)
    before = peak_rss_mb()
    start = time.perf_counter()
    table = ferkit.predict_video(model, clip, every=every, detector=detector)
    seconds = time.perf_counter() - start
    print(json.dumps({"before_mb": before, "peak_mb": peak_rss_mb(), "seconds": seconds,
                      "rows": len(table), "analysed": int(table["frame"].nunique())}))


def measure_memory(folder: Path, size, every: int, detector: str, quick: bool,
                   lengths: dict[str, float]) -> dict[str, dict]:
    """Each clip's predict_video figures, each in a fresh process."""
    from ferkit.video import write_video

    results = {}
    for name, seconds in lengths.items():
        clip = folder / f"{name}.mp4"
        start = time.perf_counter()
        write_video(clip, frames(seconds, size), fps=FPS)
        written = time.perf_counter() - start
        argv = [sys.executable, __file__, "--child", str(clip), "--every", str(every),
                "--detector", detector, *(["--quick"] if quick else [])]
        out = subprocess.run(argv, capture_output=True, text=True, check=True)
        results[name] = {**json.loads(out.stdout.strip().splitlines()[-1]),
                         "video_s": seconds, "write_s": written}
        clip.unlink()
    return results


def measure_speed(clip: Path, model, detector: str, every: int, rounds: int) -> dict:
    """Analysed frames per second of predict_video and of the bare loop, ABBA, and the
    network's seconds inside predict_video."""
    import ferkit
    from ferkit.faces import make_detector
    from ferkit.faces._io import to_gray
    from ferkit.video import VideoReader

    finder = make_detector(detector)
    network = [0.0]  # seconds inside predict_proba, one entry per predict_video run
    inner = model.predict_proba

    def timed_predict_proba(X):
        start = time.perf_counter()
        try:
            return inner(X)
        finally:
            network[-1] += time.perf_counter() - start

    model.predict_proba = timed_predict_proba  # this instance only

    def ours():
        network.append(0.0)
        return ferkit.predict_video(model, clip, every=every, detector=finder)["frame"].nunique()

    def bare():
        n = 0
        for _, _, rgb in VideoReader(clip, every=every, color="rgb"):
            finder(to_gray(rgb), rgb)
            n += 1
        return n

    ferkit.predict_video(model, clip, every=every, detector=finder, duration=0.5)  # warm-up
    network.clear()
    times = {"predict_video": [], "decode + detect": []}
    counts = {}
    for _ in range(rounds):
        for name, run in (("predict_video", ours), ("decode + detect", bare),
                          ("decode + detect", bare), ("predict_video", ours)):
            start = time.perf_counter()
            counts[name] = run()
            times[name].append(time.perf_counter() - start)
    del model.predict_proba
    return {"times": times, "counts": counts, "network": network}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny clips, LBP, no network")
    parser.add_argument("--child", metavar="CLIP", help=argparse.SUPPRESS)
    parser.add_argument("--every", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--detector", default="mtcnn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.every, args.detector, args.quick)
        return 0
    size = QUICK if args.quick else FULL
    load_before = load_note()
    with tempfile.TemporaryDirectory(prefix="ferkit-bench-video-") as tmp:
        folder = Path(tmp)
        memory = measure_memory(folder, size["memory_size"], size["memory_every"],
                                size["detector"], args.quick,
                                {"short": size["short"], "long": size["long"]})
        model, model_note = get_model(args.quick)
        clip = folder / "speed.mp4"
        from ferkit.video import write_video

        write_video(clip, frames(size["speed"], size["speed_size"]), fps=FPS)
        speed = measure_speed(clip, model, size["detector"], size["speed_every"],
                              size["rounds"])
    body = report(memory, speed, size, model_note, load_before)
    write_section(SECTION, body, command=" ".join(["python benchmarks/bench_video.py",
                                                   *(argv or sys.argv[1:])]))
    return 0


def report(memory: dict, speed: dict, size: dict, model_note: str, load_before: str) -> str:
    """The section's text: both tables and what they say."""
    rows = []
    for r in memory.values():
        rows.append({
            "clip": f"{r['video_s']:g} s ({int(r['video_s'] * FPS)} frames)",
            "analysed frames": r["analysed"], "rows": r["rows"],
            "predict_video (s)": fmt(r["seconds"], 1),
            "peak RSS before the video (MB)": fmt(r["before_mb"], 0),
            "peak RSS (MB)": fmt(r["peak_mb"], 0),
        })
    growth = memory["long"]["peak_mb"] - memory["short"]["peak_mb"]
    memory_table = markdown_table(rows)
    times, counts = speed["times"], speed["counts"]
    fps = {name: counts[name] / median(times[name]) for name in times}
    ratio = fps["predict_video"] / fps["decode + detect"]
    share = sum(speed["network"]) / sum(times["predict_video"])
    speed_table = markdown_table([{
        "loop": name, "analysed frames": counts[name],
        "seconds per run (each)": ", ".join(fmt(t, 2) for t in times[name]),
        "analysed frames/s (median)": fmt(fps[name], 1),
        "vs decode + detect": fmt(fps[name] / fps["decode + detect"]) + "x",
    } for name in times])
    print(memory_table, "\n", speed_table, sep="\n")
    width, height = size["memory_size"]
    sw, sh = size["speed_size"]
    return "\n".join([
        f"Model: {model_note}; detector: {size['detector']}. Synthetic H.264 clips, {FPS} fps, "
        "two faces (the astronaut's and its mirror image) moving back and forth. "
        f"Machine load at the start: {load_before}; at the end: {load_note()}.",
        "",
        f"**Memory**: each clip {width}x{height}, `every={size['memory_every']}` (so the long "
        "run analyses one frame in every "
        f"{size['memory_every']} and decodes them all), each in a fresh process "
        "(`ru_maxrss`).",
        "",
        memory_table,
        "",
        f"The long clip's peak is {growth:+.0f} MB from the short clip's (goal: within "
        f"200 MB: {'met' if abs(growth) <= 200 else 'NOT met'}). Writing the clips took "
        f"{memory['short']['write_s']:.0f} s and {memory['long']['write_s']:.0f} s.",
        "",
        f"**Speed**: a {size['speed']} s {sw}x{sh} clip, `every={size['speed_every']}`; "
        f"{len(times['predict_video'])} runs of each, ABBA, in one process.",
        "",
        speed_table,
        "",
        f"predict_video analyses {ratio:.2f}x the frames per second of the bare decode + "
        f"detect loop. The network's share of predict_video's time: {share:.0%} (time inside "
        "the model's `predict_proba`, faces batched 64 at a time); the rest of the gap is "
        "the crops and alignment, tracking and building the table.",
    ])


if __name__ == "__main__":
    sys.exit(main())
