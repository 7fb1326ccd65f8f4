"""Run every benchmark, print a summary table, and leave ``benchmarks/RESULTS.md`` complete.

Runs each ``benchmarks/bench_*.py`` in turn (each in its own process, so one's memory and
TensorFlow state do not affect the next), then ``accuracy.py report`` (which tabulates the
training runs already finished; it trains nothing). Every script writes its own section of
RESULTS.md; this one adds an overview at the top: what ran, how long it took, whether it
succeeded, and how busy the machine was.

Usage, from the repository root::

    python benchmarks/run_all.py              # everything, full size (about an hour on 2 cores)
    python benchmarks/run_all.py --quick      # every script's --quick mode (a few minutes)
    python benchmarks/run_all.py --only training prediction

``FERKIT_RESULTS=path`` writes every section to another file instead of RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import markdown_table, results_path, write_section  # noqa: E402
from _timing import PYTHON, ROOT, load_note  # noqa: E402

SECTION = "overview"
#: Scripts that are not a benchmark of their own, with the arguments that make them report.
EXTRA = {"accuracy.py": ["report"]}


def scripts() -> list[tuple[str, list[str]]]:
    found = [(p.name, []) for p in sorted(HERE.glob("bench_*.py"))]
    return found + [(name, args) for name, args in EXTRA.items() if (HERE / name).exists()]


def supports_quick(name: str) -> bool:
    return '"--quick"' in (HERE / name).read_text()


def _short_name(name: str) -> str:
    return name.removeprefix("bench_").removesuffix(".py")


def run(name: str, args: list[str], timeout: float) -> dict:
    command = [PYTHON, str(HERE / name), *args]
    shown = " ".join(["python", f"benchmarks/{name}", *args])
    print(f"\n=== {shown}", flush=True)
    start = time.perf_counter()
    try:
        code = subprocess.run(command, cwd=ROOT, timeout=timeout).returncode
        status = "ok" if code == 0 else f"FAILED (exit {code})"
    except subprocess.TimeoutExpired:
        status = f"TIMED OUT after {timeout:.0f} s"
    return {"script": f"`{shown}`", "status": status,
            "seconds": f"{time.perf_counter() - start:.0f}"}


def _overview_first() -> None:
    """Move the overview section right under the file's header."""
    path = results_path()
    text = path.read_text()
    match = re.search(rf"<!-- BEGIN {SECTION} -->.*?<!-- END {SECTION} -->\n?", text, re.S)
    first = text.find("<!-- BEGIN ")
    if match is None or match.start() == first:
        return
    rest = text[:match.start()] + text[match.end():]
    first = rest.find("<!-- BEGIN ")
    path.write_text(rest[:first] + match.group(0).rstrip("\n") + "\n\n" + rest[first:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="pass --quick to every script that has it")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="run only these (e.g. training prediction accuracy)")
    parser.add_argument("--timeout", type=float, default=3 * 3600,
                        help="seconds allowed per script (default 3 hours)")
    args = parser.parse_args(argv)

    todo = scripts()
    if args.only:
        names = {_short_name(n) for n, _ in todo}
        unknown = sorted(set(args.only) - names)
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(names)}")
        todo = [(n, a) for n, a in todo if _short_name(n) in args.only]
    load_before = load_note()
    rows = []
    for name, extra in todo:
        quick = ["--quick"] if args.quick and supports_quick(name) else []
        rows.append(run(name, [*extra, *quick], args.timeout))
    load_after = load_note()

    table = markdown_table(rows)
    print("\n" + table)
    failed = [r for r in rows if r["status"] != "ok"]
    body = (
        "Every figure below is a ratio against a baseline measured in the same run, on the "
        "machine each section names. The machines are shared: each script interleaves ferkit "
        "and its baseline so that load falls on both alike, and says how loaded the machine "
        "was.\n\n"
        f"Run {'in quick mode (smoke-test sizes: the figures are not meaningful)' if args.quick else 'at full size'}"  # noqa: E501
        f"; machine load {load_before} at the start, {load_after} at the end.\n\n{table}\n"
        + (f"\n{len(failed)} script(s) did not finish: their sections are from earlier runs "
           "or missing.\n" if failed else "")
    )
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "")
    write_section(SECTION, body, command=command)
    _overview_first()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
