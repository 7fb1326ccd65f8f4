"""Reliability figures: the bad-input corpus, and fault injection on saving.

Runs ``tests/test_robustness.py`` (hypothesis properties over shapes, dtypes, NaN/inf, value
ranges, empty and single-row inputs, unicode and missing paths, across the estimator,
transformers, loaders, persistence, faces and the command line) with a fixed number of
examples, and reports how many cases were tried and how each ended: a correct result, a clear
ferkit error, a known issue already reported, or a failure. Examples are derandomised, so the
same command tries the same cases.

It also runs the persistence engineer's fault-injection tests (a save interrupted by an
exception and by a killed process; the previous model must still load) rather than
duplicating them, and reports their outcome.

Usage, from the repository root::

    python benchmarks/bench_robustness.py            # corpus at 4x the test suite's examples
    python benchmarks/bench_robustness.py --quick    # 0.3x, no fault injection (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import PYTHON, ROOT, load_note

SECTION = "reliability: bad-input corpus and interrupted saves"
CORPUS = "tests/test_robustness.py"
#: The persistence tests that interrupt a save (by name), and what each shows.
FAULT_TESTS = {
    "test_failed_save_keeps_the_previous_model":
        "an exception at this step of the save (the id names it): previous model loads, "
        "predictions unchanged, no leftovers",
    "test_killed_save_keeps_the_previous_model":
        "the saving process killed (SIGKILL) at this point: previous model loads, predictions "
        "unchanged; the next save clears the dead process's temporary folder",
    "test_failed_second_rename_puts_the_previous_model_back":
        "fallback without an atomic exchange: a failure or interrupt between its two renames "
        "puts the previous model back",
    "test_load_puts_back_a_model_left_aside_by_a_killed_save":
        "fallback: a save killed between its two renames; load puts the previous model back",
    "test_next_save_puts_back_a_model_left_aside_by_a_dead_process":
        "fallback: the next save recovers a model a dead process left aside",
    "test_overwrite_replaces_the_model_and_leaves_nothing_behind":
        "a successful overwrite leaves only the new model",
    "test_stale_temporary_folders_of_dead_processes_are_removed":
        "temporary folders of dead processes are cleaned up",
}
OUTCOMES = ["correct result", "clear error", "known issue", "failed"]
#: Validation fixes made while building the corpus (see the commits for details).
FIXES = [
    "`check_pixel_array`: dates and durations (datetime64/timedelta64 arrays or DataFrame "
    "columns) were cast to numbers silently; now a TypeError.",
    "`check_pixel_array`: strings that are not numbers in a DataFrame raised pandas' own "
    "ValueError from inside pandas; now a ferkit ValueError naming the argument.",
    "`as_images`: float64 values beyond float32's range became infinity silently "
    "(`ImageReshaper` returned inf); now a ValueError naming the row and value.",
    "`FacialExpressionClassifier.fit`: `filters`/`dense_units` with 0, negative or "
    "non-integer sizes failed inside Keras or were truncated (4.5 -> 4); an unknown "
    "`optimizer` failed inside Keras; now ValueErrors naming the parameter.",
    "`FaceCropper`: an empty array batch returned an empty result while an empty list was "
    "refused; both are refused now.",
    "`check_pixel_array`: arrays with a zero-size image dimension, e.g. (1, 48, 0), passed "
    "(scikit-learn counts features of 2-D input only): `PixelScaler('dataset')` returned an "
    "empty result, `HistogramEqualizer` failed inside NumPy; now a ValueError.",
    "`ferkit.load`: a `model.json` declaring one enormous layer (checksums matching) was "
    "allocated in full before the weights were compared; now the declared shapes are computed "
    "without allocating and refused, naming the file (tested under an address-space limit of "
    "the baseline plus 20x the folder's size plus 32 MiB); JSON nested thousands deep or with "
    "5000-digit integers ended in Python's own errors; now ValueErrors naming the file.",
    "`ferkit.save(overwrite=True)`: any folder with a file named ferkit.json was replaced, "
    "deleting the user's other files; now only a valid model holding just its listed files, "
    "and a symlink to a model updates the model it points to.",
    "`predict_image`/`FaceCropper` margin inf or 1e308 (OverflowError), detector "
    "`step_ratio=inf` (a hang), labels mixing names and codes (NumPy's TypeError), a truncated "
    "zip ('not a FER2013 file'): now errors naming the parameter or the damage.",
    "`ferkit` CLI: TensorFlow's start-up log lines on stderr, which ignore "
    "TF_CPP_MIN_LOG_LEVEL; now filtered unless --debug.",
]


def _pytest(args: list[str], env: dict) -> tuple[int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    summary = next((line for line in reversed(proc.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed|error)", line)), proc.stdout[-300:])
    return proc.returncode, summary.strip("= "), time.perf_counter() - start


def run_corpus(scale: float, tmp: Path, select: str | None = None) -> dict:
    tally_file = tmp / "tally.json"
    env = dict(os.environ, FERKIT_ROBUSTNESS_SCALE=str(scale),
               FERKIT_ROBUSTNESS_TALLY=str(tally_file), TF_CPP_MIN_LOG_LEVEL="3")
    code, summary, seconds = _pytest([CORPUS, *(["-k", select] if select else [])], env)
    if not tally_file.exists():
        raise RuntimeError(f"the corpus did not run: {summary}")
    data = json.loads(tally_file.read_text())
    by_area: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for key, n in data["tally"].items():
        area, outcome = key.split("|")
        by_area[area][outcome] += n
    return {"code": code, "summary": summary, "seconds": seconds, "by_area": dict(by_area),
            "known_issues": data["known_issues"]}


def run_fault_injection(tmp: Path) -> list[dict]:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_persistence*.py"))
    if not files:
        return []
    report = tmp / "faults.xml"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    _pytest([*files, "-k", " or ".join(FAULT_TESTS), f"--junitxml={report}"], env)
    rows = []
    if report.exists():
        for case in ET.parse(report).iter("testcase"):
            name = case.get("name", "")
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if case.find(tag) is not None:
                    outcome = {"failure": "FAILED", "error": "ERROR"}.get(tag, "skipped")
            rows.append({"test": f"`{case.get('classname', '').split('.')[-1]}::{name}`",
                         "shows": FAULT_TESTS.get(name.split("[")[0], ""),
                         "outcome": outcome, "seconds": f"{float(case.get('time', 0)):.1f}"})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="0.3x the examples, no fault injection")
    parser.add_argument("--scale", type=float, default=4.0,
                        help="examples per property, as a multiple of the test suite's")
    parser.add_argument("--select", metavar="EXPR",
                        help="only the corpus tests pytest -k EXPR selects (the test suite's "
                             "smoke test of this script; the table then covers only those)")
    args = parser.parse_args(argv)
    scale = 0.3 if args.quick else args.scale

    load_before = load_note()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = run_corpus(scale, Path(tmp), args.select)
        faults = [] if args.quick else run_fault_injection(Path(tmp))
    load_after = load_note()

    rows, totals = [], dict.fromkeys(OUTCOMES, 0)
    for area in sorted(corpus["by_area"]):
        counts = corpus["by_area"][area]
        tried = sum(counts.values())
        for outcome in OUTCOMES:
            totals[outcome] += counts[outcome]
        rows.append({"area": area, "tried": tried,
                     "passed": counts["correct result"] + counts["clear error"], **counts})
    tried = sum(totals.values())
    passed = totals["correct result"] + totals["clear error"]
    rows.append({"area": "**all**", "tried": f"**{tried}**", "passed": f"**{passed}**",
                 **{k: f"**{v}**" for k, v in totals.items()}})
    headline = (f"**{tried} cases tried, {passed} passed** ({totals['correct result']} correct "
                f"results, {totals['clear error']} clear errors); {totals['known issue']} "
                f"known issue(s), {totals['failed']} failed.")
    known = "\n".join(f"- {reason}" for reason in corpus["known_issues"]) or "- none"
    fixes = "\n".join(f"- {fix}" for fix in FIXES)
    if faults:
        fault_text = ("Fault injection on saving (the persistence tests, run here, not "
                      f"duplicated):\n\n{markdown_table(faults)}\n")
    elif args.quick:
        fault_text = "Fault injection on saving: not run in quick mode.\n"
    else:
        fault_text = "Fault injection on saving: no `tests/test_persistence*.py` found.\n"
    body = (
        f"Corpus: `{CORPUS}` at {scale:g}x its examples per property (derandomised: the same "
        f"command tries the same cases); pytest: {corpus['summary']} in "
        f"{corpus['seconds']:.0f} s. A case *passes* when it ends in a correct result "
        "(checked against what the input should give) or in a clear ferkit error "
        "(ValueError, TypeError or a file error raised by ferkit or scikit-learn's "
        "validation, with a message) - never an exception from TensorFlow, Keras, PIL, "
        "pandas or h5py, and never a result for input that must be refused (NaN, wrong "
        "shape, empty).\n\n"
        f"{headline}\n\n{markdown_table(rows)}\n\n"
        f"Known issues (reported to their owners; tallied, not failing the suite):\n\n"
        f"{known}\n\nFixed while building the corpus:\n\n{fixes}\n\n{fault_text}\n"
        f"Machine load: {load_before} at the start, {load_after} at the end.\n"
    )
    print(headline)
    print(markdown_table(rows))
    if faults:
        print(markdown_table(faults))
    command = "python benchmarks/bench_robustness.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)
    return 0 if totals["failed"] == 0 and corpus["code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
