"""The estimator classes a ferkit model file may name, and how their fitted state is kept.

A model file names classes by their public dotted path (``"ferkit.preprocessing.PixelScaler"``)
and :func:`resolve` imports only names on these lists, so a file cannot make ``load`` import
an arbitrary module. To support a new transformer, add its public path to
:data:`TRANSFORMERS`: its parameters and fitted attributes are stored as plain values
(:mod:`ferkit.persistence._codec`), so it qualifies when everything it learns in ``fit`` is
numbers, strings, tuples, lists, dicts and NumPy arrays, and it holds no code (no callables
among its parameters).
"""

from __future__ import annotations

import importlib
import inspect
import re

#: The network estimator: its Keras model goes to ``model.json`` + ``model.weights.h5``.
CLASSIFIER = "ferkit.FacialExpressionClassifier"

#: The only container supported.
PIPELINE = "sklearn.pipeline.Pipeline"

#: An ensemble of classifiers, each with its own network files; alone or a pipeline's last step.
VOTING = "sklearn.ensemble.VotingClassifier"

#: Transformers allowed as pipeline steps. Their fitted state is every instance attribute
#: that is not a parameter (public ``name_`` attributes and private ``_name`` ones).
TRANSFORMERS: frozenset[str] = frozenset({
    "ferkit.preprocessing.FaceCropper",
    "ferkit.preprocessing.HistogramEqualizer",
    "ferkit.preprocessing.ImageReshaper",
    "ferkit.preprocessing.PixelScaler",
    "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.Normalizer",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.StandardScaler",
})

#: A pipeline step that turns faces into a ferkit network's features. When its ``model`` is a
#: shipped model's name only the name is stored; otherwise the model's networks are.
EMBEDDER = "ferkit.FaceEmbedder"

#: scikit-learn classifiers allowed as a pipeline's last step (after a FaceEmbedder): their
#: fitted state is plain arrays (``coef_``, ``intercept_``, ``classes_``), each checked on load
#: by :mod:`ferkit.persistence._linear`. RidgeClassifier is not one: it keeps its classes in a
#: private LabelBinarizer.
LINEAR: frozenset[str] = frozenset({
    "sklearn.linear_model.LogisticRegression",
    "sklearn.svm.LinearSVC",
})

#: Pipeline entries that are not estimators.
PASSTHROUGH = "passthrough"

#: Ensemble members left out of fitting (VotingClassifier's ``"drop"``).
DROP = "drop"

#: Every class a model file may name.
ALLOWED: frozenset[str] = frozenset({CLASSIFIER, PIPELINE, VOTING, EMBEDDER, *LINEAR,
                                     *TRANSFORMERS})

# Fitted attributes are restored with setattr: public ones end in "_", private ones start with
# one "_"; dunders and names of class attributes (methods, properties) are never set.
_STATE_NAME = re.compile(r"^(_[A-Za-z][A-Za-z0-9_]*|[A-Za-z][A-Za-z0-9_]*_)$")


def supported() -> list[str]:
    """All class names a model file may contain, for error messages."""
    return sorted(ALLOWED)


def resolve(name: str, *, file) -> type:
    """Import the class ``name`` if it is on the allow-list.

    Parameters
    ----------
    name : str
        Public dotted path, e.g. ``"sklearn.preprocessing.StandardScaler"``.
    file : path-like
        The model file naming it, for error messages.

    Returns
    -------
    type
        The class.

    Raises
    ------
    ValueError
        If ``name`` is not allowed, or is allowed but missing from this installation.
    """
    if not isinstance(name, str) or name not in ALLOWED:
        raise ValueError(
            f"{file} names the estimator class {name!r}, which ferkit does not load: model "
            f"files may only contain {supported()}. Refusing to import it."
        )
    module, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"{file} needs the class {name}, which this installation does not provide "
            f"({exc}). Was the model saved by a newer ferkit?"
        ) from exc


def name_of(estimator) -> str | None:
    """The allow-listed public name of ``estimator``'s exact class, or None."""
    cls = type(estimator)
    for name in sorted(ALLOWED):
        if name.rpartition(".")[2] != cls.__name__:
            continue
        try:
            if resolve(name, file="") is cls:
                return name
        except ValueError:  # allowed but not (yet) available: cannot be this class
            continue
    return None


def fitted_state(estimator, params: dict) -> dict:
    """The fitted attributes of a transformer (``name_``): its public instance attributes
    minus its parameters. Private ones are implementation details and are not saved."""
    state = {k: v for k, v in vars(estimator).items()
             if k not in params and not k.startswith("_")}
    for key in state:
        check_state_name(type(estimator), key, file=None)
    return state


def check_state_name(cls: type, key, *, file) -> None:
    """Refuse attribute names that ``setattr`` must not touch.

    Raises
    ------
    ValueError
        If ``key`` is not a fitted-attribute name (``name_`` or ``_name``) or is a method or
        property of ``cls``.
    """
    where = f"{file}: " if file is not None else ""
    if not isinstance(key, str) or not _STATE_NAME.match(key) or key.startswith("__"):
        raise ValueError(
            f"{where}{cls.__name__} attribute {key!r} is not a fitted attribute name "
            "('name_' or '_name'); refusing to set it."
        )
    try:
        static = inspect.getattr_static(cls, key)
    except AttributeError:
        return
    if callable(static) or hasattr(static, "__get__"):
        raise ValueError(
            f"{where}{cls.__name__} attribute {key!r} is a method or property of the class; "
            "refusing to replace it."
        )
