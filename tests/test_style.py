"""The code base stays ruff-clean (the rules are in pyproject.toml) and free of import cycles."""

from __future__ import annotations

import ast
import graphlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the 'test' extra)")
    out = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def _ferkit_modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its ``__init__.py``)."""
    modules = {}
    for path in (ROOT / "ferkit").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(name: str, path: Path, modules) -> set[str]:
    """The ferkit modules that importing ``name``, or calling any of its functions, runs.

    Every ``import`` and ``from ... import`` counts, at module level or inside a function.
    Importing ``a.b.c`` also runs the packages ``a.b`` and ``a``, except those that hold
    ``name`` (they are being imported already when ``name`` runs).
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package, level-1 up
                package = name.split(".")[: None if path.name == "__init__.py" else -1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            # ``from package import submodule`` imports the submodule.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target:
                if target in modules and target != name and not name.startswith(target + "."):
                    found.add(target)
                target = target.rpartition(".")[0]
    return found


def test_no_import_cycles():
    """No ferkit module imports, directly or through others, one that imports it back.

    A cycle works only while every import in it happens late enough; one moved import turns
    it into an ImportError, and it ties the modules together so neither can be read alone.
    """
    modules = _ferkit_modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    assert "ferkit.metrics._report" in graph["ferkit.metrics"]  # the graph sees imports
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import cycle: " + " -> ".join(exc.args[1]))
