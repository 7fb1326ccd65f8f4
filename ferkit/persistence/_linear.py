"""The fitted state of scikit-learn's linear classifiers, and its checks on load.

A linear classifier ending a pipeline (``make_pipeline(FaceEmbedder(), LogisticRegression())``)
is its parameters plus a few arrays. Only the attributes its predictions read (and the fit
diagnostics) are stored; on load every one is checked against the others, so that a crafted
file is refused by name instead of failing inside ``predict`` or making it compute with
arrays of a size the file does not justify.
"""

from __future__ import annotations

import numpy as np

from ferkit.persistence._codec import short_repr

#: Attributes every fitted linear classifier has; ``predict`` and ``predict_proba`` read them.
REQUIRED = ("classes_", "coef_", "intercept_", "n_features_in_")
#: Attributes kept when the fit set them: its iterations, and the column names of a DataFrame.
OPTIONAL = ("n_iter_", "feature_names_in_")

#: Array kinds a classifier's labels may have: bool, integers, floats, strings (object arrays
#: come back from the codec holding strings only).
_LABEL_KINDS = "biufUO"


def fitted_state(estimator) -> dict:
    """The attributes of a fitted linear classifier that a model file stores.

    Parameters
    ----------
    estimator : LogisticRegression or LinearSVC
        A fitted classifier.

    Returns
    -------
    dict
        Each of :data:`REQUIRED`, and those of :data:`OPTIONAL` that it has.
    """
    return {key: getattr(estimator, key) for key in (*REQUIRED, *OPTIONAL)
            if hasattr(estimator, key)}


def check_state(state: dict, *, fit_intercept: bool) -> None:
    """Refuse a restored state whose attributes do not belong together.

    Parameters
    ----------
    state : dict
        The decoded attributes, by name.
    fit_intercept : bool
        The classifier's parameter: without an intercept, scikit-learn stores ``0.0``.

    Raises
    ------
    ValueError
        If an attribute is missing or unknown, or its type, dtype or shape disagrees with
        the others: ``coef_`` must be ``(1, n_features_in_)`` for two classes and
        ``(n_classes, n_features_in_)`` for more, finite floats; ``intercept_`` one finite
        float per row of ``coef_``; ``classes_`` at least two distinct labels.
    """
    missing = [key for key in REQUIRED if key not in state]
    unknown = sorted(set(state) - set(REQUIRED) - set(OPTIONAL))
    if missing or unknown:
        raise ValueError(
            f"the fitted attributes must be {list(REQUIRED)}, optionally {list(OPTIONAL)}; "
            f"missing {missing}, unknown {unknown}"
        )
    n_classes = _check_classes(state["classes_"])
    n_features = state["n_features_in_"]
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise ValueError(f"n_features_in_ must be a positive integer; got {n_features!r}")
    # Two classes share one row of coefficients (the second class's score).
    rows = 1 if n_classes == 2 else n_classes
    _check_floats("coef_", state["coef_"], (rows, n_features),
                  f"{n_classes} classes (classes_) and n_features_in_ = {n_features}")
    intercept = state["intercept_"]
    # scikit-learn's liblinear solvers leave a plain 0.0 when there is no intercept.
    if fit_intercept or not (isinstance(intercept, float) and intercept == 0.0):
        _check_floats("intercept_", intercept, (rows,), f"{n_classes} classes (classes_)")
    if "n_iter_" in state:
        _check_n_iter(state["n_iter_"], n_classes)
    if "feature_names_in_" in state:
        names = state["feature_names_in_"]
        if not (isinstance(names, np.ndarray) and names.dtype.kind == "O"
                and names.shape == (n_features,)):
            raise ValueError(
                f"feature_names_in_ must be {n_features} strings (n_features_in_); got "
                f"{_describe(names)}"
            )


def _check_classes(classes) -> int:
    if not (isinstance(classes, np.ndarray) and classes.ndim == 1
            and classes.dtype.kind in _LABEL_KINDS):
        raise ValueError(f"classes_ must be a 1-D array of labels; got {_describe(classes)}")
    if len(classes) < 2 or len(np.unique(classes)) != len(classes):
        raise ValueError(
            f"classes_ must hold at least 2 distinct labels; got {classes.tolist()!r:.200}"
        )
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("classes_ holds NaN or infinite labels")
    return len(classes)


def _check_floats(name: str, value, shape: tuple, why: str) -> None:
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"
            and value.dtype.itemsize in (4, 8)):
        raise ValueError(f"{name} must be an array of float32 or float64; got {_describe(value)}")
    if value.shape != shape:
        raise ValueError(f"{name} has shape {value.shape}; {why} make it {shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} holds NaN or infinite values")


def _check_n_iter(n_iter, n_classes: int) -> None:
    # LogisticRegression keeps an array (one count per fit), LinearSVC an int.
    if isinstance(n_iter, int) and not isinstance(n_iter, bool) and n_iter >= 0:
        return
    if (isinstance(n_iter, np.ndarray) and n_iter.dtype.kind in "iu" and n_iter.ndim == 1
            and 1 <= len(n_iter) <= n_classes):
        return
    raise ValueError(f"n_iter_ must be an iteration count; got {_describe(n_iter)}")


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {short_repr(value)}"
