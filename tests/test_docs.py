"""The documentation builds without warnings, and its examples run.

- ``sphinx-build -W`` on a copy of ``docs/`` (so generated API stubs land in tmp_path, not in
  the checkout), once; the built pages are then checked for what must be in them.
- The user guide's ``>>>`` examples (``docs/*.rst``) run as doctests.
- The docstring examples of the light modules run as doctests; those of the modules whose
  examples train networks or draw (the classifier, persistence, plotting, report, model
  selection, faces: a dozen tiny networks, about 25 s of CPU) run as a slow test.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Public modules the API reference must cover, each with a generated page per public name.
API_MODULES = (
    "ferkit", "ferkit.datasets", "ferkit.preprocessing", "ferkit.persistence",
    "ferkit.metrics", "ferkit.plotting", "ferkit.model_selection", "ferkit.faces",
)

#: Modules (with their submodules) whose docstring examples train no network.
LIGHT_MODULES = (
    "ferkit._emotions", "ferkit.preprocessing", "ferkit.datasets", "ferkit._presets",
    "ferkit._pipeline",
)
#: Modules whose docstring examples train tiny networks, detect faces or draw.
HEAVY_MODULES = (
    "ferkit._classifier", "ferkit.metrics", "ferkit.persistence", "ferkit.plotting",
    "ferkit.model_selection", "ferkit.faces",
)

GUIDE_PAGES = sorted(p for p in DOCS.glob("*.rst") if ">>>" in p.read_text(encoding="utf-8"))

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build the HTML docs once with warnings as errors; the output folder."""
    work = tmp_path_factory.mktemp("docs")
    source = work / "source"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated"))
    out = work / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(source), str(out)],
        capture_output=True, text=True, timeout=600, cwd=work,
    )
    warnings = [line for line in proc.stderr.splitlines()
                if "WARNING" in line or "ERROR" in line]
    # TensorFlow's C++ logging also says "WARNING"; it goes to stderr before Sphinx starts.
    warnings = [w for w in warnings if "absl::InitializeLog" not in w]
    assert proc.returncode == 0, "sphinx-build -W failed:\n" + "\n".join(warnings or
                                                                           [proc.stderr[-3000:]])
    return out


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))


def test_docs_build_without_warnings(built_docs):
    for page in ("index", "install", "quickstart", "estimator", "transformers", "datasets",
                 "evaluation", "persistence", "tuning", "scaling", "photos", "cli",
                 "model_card", "api"):
        assert (built_docs / f"{page}.html").is_file(), page


@pytest.mark.parametrize("module_name", API_MODULES)
def test_api_reference_covers_module_all(built_docs, module_name):
    """Every public name of every public module has its own page, made from its docstring."""
    module = importlib.import_module(module_name)
    assert (built_docs / "generated" / f"{module_name}.html").is_file()
    for name in module.__all__:
        if name.startswith("_"):
            continue
        page = built_docs / "generated" / f"{module_name}.{name}.html"
        assert page.is_file(), f"no API page for {module_name}.{name}"
        obj = getattr(module, name)
        summary = (obj.__doc__ or "").strip().splitlines()[:1] if callable(obj) else []
        if summary:
            # The docstring's summary line made it into the page: its first plain words
            # (roles such as :func:`...` render differently, so they are left out).
            plain = re.sub(r":?\w*:?`[^`]*`+", " ", summary[0]).split()
            words = [w.strip(".,;()") for w in plain if w.strip(".,;()").isalpha()][:3]
            assert all(word in _text(page) for word in words), (name, words)


def test_cli_page_shows_every_subcommand(built_docs):
    import argparse

    from ferkit.cli import build_parser

    text = _text(built_docs / "cli.html")
    (subparsers,) = [action for action in build_parser()._actions
                     if isinstance(action, argparse._SubParsersAction)]
    names = list(subparsers.choices)
    assert {"demo", "train", "evaluate", "predict", "tune", "info"} <= set(names)
    for name in names:
        assert f"usage: ferkit {name}" in text, name


def test_docs_build_needs_no_network():
    """No intersphinx (it downloads inventories): the build must work offline."""
    import ast

    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    assigned = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    extensions = ast.literal_eval(assigned["extensions"])
    assert "sphinx.ext.autodoc" in extensions
    assert not [e for e in extensions if "intersphinx" in e]
    assert "intersphinx_mapping" not in assigned


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=[p.stem for p in GUIDE_PAGES])
def test_guide_examples(page, tmp_path, monkeypatch):
    """The ``>>>`` examples of a user-guide page run and print what the page shows."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the pages' mkdtemp() go here
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(str(page), module_relative=False, optionflags=FLAGS,
                              verbose=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) of {page.name} failed (see above)"


def _submodules(name: str) -> list[str]:
    module = importlib.import_module(name)
    names = [name]
    if hasattr(module, "__path__"):
        names += [f"{name}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
    return names


def _run_docstring_examples(name: str) -> doctest.TestResults:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    finder = doctest.DocTestFinder()
    for module_name in _submodules(name):
        module = importlib.import_module(module_name)
        for test in finder.find(module, module_name):
            if test.examples:
                runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize(
    "name",
    [*LIGHT_MODULES, *(pytest.param(name, marks=pytest.mark.slow) for name in HEAVY_MODULES)],
)
def test_docstring_examples(name, tmp_path, monkeypatch):
    """The Examples sections of the modules' docstrings run as doctests."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # their mkdtemp() go here
    monkeypatch.chdir(tmp_path)
    result = _run_docstring_examples(name)
    assert result.failed == 0, f"{result.failed} docstring example(s) in {name} failed"
    if name != "ferkit._emotions":  # its functions are internal helpers without Examples
        assert result.attempted > 0, f"no docstring examples found in {name}"
