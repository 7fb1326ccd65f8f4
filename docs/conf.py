"""Sphinx configuration of the ferkit user guide.

Build with ``sphinx-build -W -b html docs docs/_build/html`` from the repository root. The
build needs no network: there is no intersphinx mapping, and nothing is downloaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# TensorFlow's start-up chatter is noise in a docs build; autodoc imports the classifier.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import ferkit  # noqa: E402

project = "ferkit"
author = "The ferkit developers"
copyright = "The ferkit developers, BSD-3-Clause"
release = ferkit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "ferkit_cli",  # docs/_ext/ferkit_cli.py: `ferkit ... --help` rendered at build time
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "README.md"]
templates_path = ["_templates"]

# -- API reference -------------------------------------------------------------------------
# Stub pages are generated from each module's __all__ at build time (see
# _templates/autosummary/module.rst), so a public name added to a module shows up without
# editing the docs, and nothing stale is left behind.
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections already give the types
add_module_names = False

# numpydoc renders the Parameters/Returns/... sections. Class members are listed by our
# autosummary class template instead of numpydoc, which would add a second table.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# No intersphinx: the build must not touch the network.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# -- HTML ----------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"ferkit {release}"
html_theme_options = {
    "description": "Facial expression recognition that fits the scikit-learn ecosystem",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []


# -- Docstrings of exported data -----------------------------------------------------------
# A constant re-exported from a private module (``ferkit.EMOTIONS`` is defined in
# ``ferkit._emotions``) has no docstring of its own: autodoc would show its type's docstring
# ("Built-in immutable sequence...") instead. Use the ``#:`` comment where it is defined.


def _attribute_doc(package: str, name: str, value) -> list[str] | None:
    from sphinx.pycode import ModuleAnalyzer

    for modname, module in sorted(sys.modules.items()):
        if not (modname == package or modname.startswith(package + ".")):
            continue
        if getattr(module, name, None) is not value:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # no source to analyse (a compiled or odd module)
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def _data_docstring(app, what, name, obj, options, lines):
    if what != "data":
        return
    from sphinx.util.docstrings import prepare_docstring

    type_doc = [line.strip() for line in prepare_docstring(type(obj).__doc__ or "")]
    if lines and [line.strip() for line in lines if line.strip()] != [
        line for line in type_doc if line
    ]:
        return  # the attribute has a docstring of its own
    package, _, attr = name.rpartition(".")
    lines[:] = _attribute_doc(package, attr, obj) or []


def setup(app):
    # Before numpydoc (priority 500) reformats the lines.
    app.connect("autodoc-process-docstring", _data_docstring, priority=400)
