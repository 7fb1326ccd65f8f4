"""ferkit: facial expression recognition that fits the scikit-learn ecosystem.

``import ferkit`` is light: TensorFlow is imported only when a network is built or loaded.
Public names are resolved on first use (PEP 562), so ``from ferkit import X`` imports only
what ``X`` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ferkit._emotions import EMOTIONS, THREE_EMOTIONS
from ferkit._threads import size_tensorflow_threads

# In a parallel worker (joblib, Dask), TensorFlow's pools get the worker's share of the cores
# rather than all of them; before TensorFlow starts. See ferkit/_threads.py.
size_tensorflow_threads()

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "FacialExpressionClassifier": "ferkit._classifier",
    "FaceEmbedder": "ferkit._embedding",
    "make_fer_pipeline": "ferkit._pipeline",
    "PRESETS": "ferkit._presets",
    "save": "ferkit.persistence",
    "load": "ferkit.persistence",
    "load_pretrained": "ferkit._pretrained",
    "available_pretrained": "ferkit._pretrained",
    "detect_faces": "ferkit.faces",
    "predict_image": "ferkit.faces",
    "predict_video": "ferkit.video",
    "report": "ferkit.metrics",
    "ClassificationReport": "ferkit.metrics",
}
_SUBMODULES = {
    "datasets", "preprocessing", "persistence", "plotting", "model_selection", "faces",
    "metrics", "video",
}

__all__ = ["EMOTIONS", "THREE_EMOTIONS", "__version__", *sorted(_LAZY)]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ferkit._classifier import FacialExpressionClassifier as FacialExpressionClassifier
    from ferkit._pipeline import make_fer_pipeline as make_fer_pipeline


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"ferkit.{name}")
    raise AttributeError(f"module 'ferkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
