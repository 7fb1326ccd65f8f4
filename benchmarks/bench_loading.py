"""Loading speed and memory: ``load_fer2013`` against the plain loops people write by hand.

Two measurements, each a ratio against a baseline timed in the same run, round-robin (see
``_timing.interleaved``), reported as the ratio of the best times and the median ratio of
the rounds:

- **image archive**: the full ``../shared/data/fer2013-images.zip`` (32,298 JPEGs). Baseline:
  a loop that opens each member with ``zipfile`` and ``PIL.Image.open`` into a NumPy array.
  Candidates: ``load_fer2013(zip)`` as shipped (threaded), the same with one thread, and with
  ``cache=`` when the cache is warm (the cold load that fills it is timed too).
- **CSV**: a synthetic 35,887-row ``fer2013.csv`` written to a temporary folder, from the
  archive's faces when it is there (cycled to 35,887 rows) or random pixels otherwise.
  Baseline: ``pandas.read_csv`` and a per-row ``np.array(s.split(), dtype=np.uint8)``.
  Candidates: ``load_fer2013(csv)``, and the pixel-parsing step alone against the per-row
  split of the same strings.

Peak memory (Linux ``VmHWM``) of each way is read in a fresh interpreter, minus what the
imports alone take.

Usage, from the repository root::

    .venv/bin/python benchmarks/bench_loading.py             # 7 rounds (archive), 3 (CSV)
    .venv/bin/python benchmarks/bench_loading.py --quick     # 2 rounds each
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import (
    ARCHIVE,
    fmt,
    interleaved,
    load_note,
    median,
    peak_rss_mib,
    rss_mib,
    run_child,
)

SECTION = "FER2013 loading speed and memory"
N_CSV_ROWS = 35_887
SPLITS = (("Training", 28_709), ("PublicTest", 3_589), ("PrivateTest", 3_589))
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


# --------------------------------------------------------------------- the baselines ---


def plain_archive_loop(path: Path):
    """What a person writes: open every member with PIL, label it by its folder."""
    from PIL import Image

    images, labels = [], []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            with archive.open(info) as f:
                images.append(np.asarray(Image.open(f)))
            labels.append(info.filename.split("/")[-2])
    return np.stack(images), np.asarray(labels)


def naive_csv(path: Path):
    """pandas for the table, then a Python split per row: the common tutorial code."""
    import pandas as pd

    frame = pd.read_csv(path)
    images = np.array([np.array(s.split(), dtype=np.uint8) for s in frame["pixels"]])
    return images.reshape(-1, 48, 48), frame["emotion"].to_numpy()


def naive_parse(strings) -> np.ndarray:
    return np.array([np.array(s.split(), dtype=np.uint8) for s in strings])


def ferkit_parse(strings) -> np.ndarray:
    from ferkit.datasets._base import ProblemLog
    from ferkit.datasets._csv import parse_pixels

    rows = np.arange(len(strings)) + 2
    images, ok = parse_pixels(strings, rows, ProblemLog("bench", "row"))
    assert ok.all()
    return images


# ------------------------------------------------------------------------- the data ---


def write_fer2013_csv(path: Path) -> str:
    """A 35,887-row fer2013.csv with FER2013's split sizes; returns where its pixels came from."""
    if ARCHIVE.exists():
        from ferkit.datasets import load_fer2013

        faces = load_fer2013(ARCHIVE)
        take = np.arange(N_CSV_ROWS) % len(faces.data)
        data = faces.data[take]
        codes = np.asarray([EMOTIONS.index(t) for t in faces.target])[take]
        origin = f"the archive's {len(faces.data):,} faces, cycled to {N_CSV_ROWS:,} rows"
    else:
        rng = np.random.default_rng(0)
        data = rng.integers(0, 256, size=(N_CSV_ROWS, 2304), dtype=np.uint8)
        codes = rng.integers(0, 7, size=N_CSV_ROWS)
        origin = f"random pixels ({ARCHIVE} not found)"
    usage = np.repeat([s for s, _ in SPLITS], [n for _, n in SPLITS])
    text = [str(v) for v in range(256)]
    with open(path, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for row, code, split in zip(data.tolist(), codes, usage, strict=True):
            f.write(f"{code},{' '.join(map(text.__getitem__, row))},{split}\n")
    return origin


# ---------------------------------------------------------------- memory (children) ---


def child(way: str, path: str, cache: str | None) -> None:
    """Run one way of loading in this fresh interpreter and print its memory as JSON."""
    import pandas  # noqa: F401 - imported up front so only the loading counts
    import PIL.Image  # noqa: F401

    from ferkit.datasets import load_fer2013

    before = rss_mib()
    start = time.perf_counter()
    if way == "plain loop":
        result = plain_archive_loop(Path(path))[0]
    elif way == "naive CSV":
        result = naive_csv(Path(path))[0]
    else:
        result = load_fer2013(path, cache=cache or False).images
    seconds = time.perf_counter() - start
    print(json.dumps(dict(way=way, seconds=seconds, before=before, peak=peak_rss_mib(),
                          result_mib=result.nbytes / 2**20)))


def memory(ways: list[tuple[str, str, str | None]]) -> dict[str, dict]:
    return {way: run_child(Path(__file__), ["--child", way, path, cache or ""])
            for way, path, cache in ways}


# ---------------------------------------------------------------------------- main ---


def ratios(times: dict[str, list[float]], baseline: str) -> dict[str, tuple[float, float]]:
    """Per candidate: (best time / best baseline time, median of the per-round ratios)."""
    base = times[baseline]
    return {
        name: (min(t) / min(base), median([a / b for a, b in zip(t, base, strict=True)]))
        for name, t in times.items()
    }


def time_rows(times, baseline, memory_of, note_of) -> list[dict]:
    rel = ratios(times, baseline)
    rows = []
    for name, t in times.items():
        mem = memory_of.get(name)
        rows.append({
            "way": name,
            "best s": fmt(min(t)),
            "median s": fmt(median(t)),
            "best / baseline": fmt(rel[name][0]),
            "median ratio": fmt(rel[name][1]),
            "peak MiB above imports": fmt(mem["peak"] - mem["before"], 0) if mem else "-",
            "notes": note_of.get(name, ""),
        })
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds each")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.child[2] or None)
        return 0

    from ferkit.datasets import _image_folder, load_fer2013

    rounds_zip, rounds_csv = (2, 2) if args.quick else (7, 3)
    sections = [f"Machine load at start: {load_note()}."]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"

        if ARCHIVE.exists():
            def ferkit_one_thread():
                saved = _image_folder._N_THREADS
                _image_folder._N_THREADS = 1
                try:
                    return load_fer2013(ARCHIVE)
                finally:
                    _image_folder._N_THREADS = saved

            start = time.perf_counter()
            load_fer2013(ARCHIVE, cache=cache)  # fills the cache
            cold_cache = time.perf_counter() - start
            plain, _ = plain_archive_loop(ARCHIVE)
            with zipfile.ZipFile(ARCHIVE) as archive:
                names = [i.filename for i in archive.infolist() if not i.is_dir()]
            position = {name: k for k, name in enumerate(names)}
            ours = load_fer2013(ARCHIVE)
            assert len(ours.member) == len(names), "ferkit and the PIL loop differ"
            assert np.array_equal(ours.images, plain[[position[m] for m in ours.member]])
            del plain, ours

            candidates = {
                "plain PIL loop (baseline)": lambda: plain_archive_loop(ARCHIVE),
                f"load_fer2013 ({_image_folder._N_THREADS} threads)":
                    lambda: load_fer2013(ARCHIVE),
                "load_fer2013, 1 thread": ferkit_one_thread,
                "load_fer2013, cache=, warm": lambda: load_fer2013(ARCHIVE, cache=cache),
            }
            times = interleaved(candidates, repeats=rounds_zip, warmup=0)
            mem = memory([("plain loop", str(ARCHIVE), None),
                          ("load_fer2013", str(ARCHIVE), None),
                          ("load_fer2013 cached", str(ARCHIVE), str(cache))])
            names = list(candidates)
            memory_of = {names[0]: mem["plain loop"], names[1]: mem["load_fer2013"],
                         names[3]: mem["load_fer2013 cached"]}
            notes = {names[0]: "zipfile + Image.open per member",
                     names[2]: "same code, decoding threads = 1",
                     names[3]: f"cold load that fills the cache: {cold_cache:.2f} s"}
            rows = time_rows(times, names[0], memory_of, notes)
            print(markdown_table(rows))
            sections.append(
                f"### Image archive: `{ARCHIVE.name}`, 32,298 JPEGs, {rounds_zip} rounds\n\n"
                "Goal: at most 0.5x the plain loop. Same faces, same order checked first. "
                "Result arrays are 71 MiB.\n\n" + markdown_table(rows)
            )
        else:
            sections.append(f"### Image archive\n\nSkipped: {ARCHIVE} not found.")

        csv = tmp / "fer2013.csv"
        origin = write_fer2013_csv(csv)
        import pandas as pd

        strings = pd.read_csv(csv)["pixels"].to_numpy(dtype=object)
        assert np.array_equal(naive_parse(strings[:500]), ferkit_parse(strings[:500]))
        assert np.array_equal(naive_csv(csv)[0], load_fer2013(csv).images)
        candidates = {
            "pandas + per-row split (baseline)": lambda: naive_csv(csv),
            "load_fer2013": lambda: load_fer2013(csv),
        }
        times = interleaved(candidates, repeats=rounds_csv, warmup=0)
        parse_times = interleaved(
            {"per-row split of the pixel strings (baseline)": lambda: naive_parse(strings),
             "ferkit's vectorised parser": lambda: ferkit_parse(strings)},
            repeats=rounds_csv, warmup=0,
        )
        mem = memory([("naive CSV", str(csv), None), ("load_fer2013", str(csv), None)])
        names = list(candidates)
        rows = time_rows(times, names[0],
                         {names[0]: mem["naive CSV"], names[1]: mem["load_fer2013"]},
                         {names[1]: "validates every row; errors name the row"})
        rows += time_rows(parse_times, next(iter(parse_times)), {},
                          {"ferkit's vectorised parser": "pixel step only, same strings"})
        print(markdown_table(rows))
        size = csv.stat().st_size / 2**20
        sections.append(
            f"### CSV: synthetic `fer2013.csv`, {N_CSV_ROWS:,} rows ({size:.0f} MiB), "
            f"{rounds_csv} rounds\n\nPixels from {origin}. Goal: vectorised parsing, "
            "faster than the per-row split.\n\n" + markdown_table(rows)
        )
    sections.append(
        f"Machine load at end: {load_note()}. Ratios are of times measured in the same run "
        "(round-robin); \"best / baseline\" divides the best times, \"median ratio\" is the "
        "median over rounds of each round's ratio. Peak memory is Linux VmHWM of a fresh "
        "interpreter running one load, minus its resident memory after the imports."
    )
    write_section(SECTION, "\n\n".join(sections),
                  command=".venv/bin/python benchmarks/bench_loading.py"
                  + (" --quick" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
