"""Shared by every benchmark script: the machine description and RESULTS.md sections.

Each benchmark owns one section of ``benchmarks/RESULTS.md``, delimited by HTML comments, and
rewrites only that section, so scripts can run in any order or alone.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
#: Environment variable that redirects every section to another file (tests write to tmp_path).
RESULTS_ENV = "FERKIT_RESULTS"
_HEADER = (
    "# ferkit benchmark results\n\n"
    "Every figure is measured by the script named in its section, on the machine it names. "
    "Speed goals are ratios against a baseline measured in the same run.\n"
)


def machine() -> str:
    """One line describing this machine and the library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        mem_s = ""
    versions = []
    for dist in ("ferkit", "tensorflow-cpu", "tensorflow", "keras", "scikeras", "scikit-learn",
                 "numpy"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return (
        f"{cpu}, {os.cpu_count()} cores{mem_s}; {platform.system()} {platform.release()}; "
        f"Python {sys.version.split()[0]}; " + ", ".join(versions)
    )


def results_path() -> Path:
    """The results file: ``$FERKIT_RESULTS`` when set, else ``benchmarks/RESULTS.md``."""
    return Path(os.environ.get(RESULTS_ENV) or RESULTS)


def write_section(name: str, body: str, *, command: str) -> None:
    """Replace (or append) the section ``name`` of RESULTS.md with ``body``."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    section = (
        f"<!-- BEGIN {name} -->\n## {name}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}  \nDate: {stamp}\n\n"
        f"{body.strip()}\n<!-- END {name} -->"
    )
    results = results_path()
    text = results.read_text() if results.exists() else _HEADER
    pattern = re.compile(
        rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    tmp = results.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(results)


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of dicts as a Markdown table (also fine to print)."""
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)
