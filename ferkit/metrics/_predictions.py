"""Checks and names shared by the metrics and the plots: a classifier's labels and scores.

Nothing here imports matplotlib or TensorFlow.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ferkit._emotions import EMOTIONS


def class_names(classes) -> list[str]:
    """Readable names for class labels: FER2013 codes 0-6 become emotion names.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        Class labels as a classifier holds them in ``classes_``.

    Returns
    -------
    list of str
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "iu" and classes.size and 0 <= classes.min() and (
        classes.max() < len(EMOTIONS)
    ):
        return [EMOTIONS[int(c)] for c in classes]
    return [str(c) for c in classes]


def check_estimator_scores(estimator):
    """Check that ``estimator`` is a fitted classifier with ``predict_proba``; return classes_."""
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_proba; ferkit's reports and plots need "
            "a classifier that gives class probabilities."
        )
    try:
        classes = estimator.classes_
    except AttributeError as exc:
        raise ValueError(
            f"This {type(estimator).__name__} is not fitted yet (it has no classes_): call fit "
            "first."
        ) from exc
    return np.asarray(classes)


def predict_scores(estimator, X):
    """``(estimator.predict_proba(X), estimator.classes_)``, once the estimator is checked."""
    classes = check_estimator_scores(estimator)
    return estimator.predict_proba(X), classes


def check_predictions(y_true, y_proba, classes, *, name: str = "y"):
    """Validate true labels against probabilities whose columns follow ``classes``.

    Returns
    -------
    y_true : ndarray of shape (n_samples,)
    y_proba : ndarray of float64, shape (n_samples, n_classes)
    classes : ndarray of shape (n_classes,)
    """
    classes = np.asarray(classes)
    y_true = column_or_1d(np.asarray(y_true), warn=True)
    y_proba = np.asarray(y_proba, dtype=np.float64)
    if y_proba.ndim != 2 or y_proba.shape[1] != classes.size:
        raise ValueError(
            f"The probabilities must have one column per class ({classes.size}: "
            f"{classes.tolist()}); got an array of shape {y_proba.shape}."
        )
    check_consistent_length(y_true, y_proba)
    if y_true.size == 0:
        raise ValueError(f"{name} is empty: at least one labelled sample is needed.")
    if not np.isfinite(y_proba).all() or (y_proba < 0).any() or (y_proba > 1 + 1e-6).any():
        raise ValueError("The probabilities must be finite and lie in [0, 1].")
    known = np.isin(y_true, classes)
    if not known.all():
        unknown = sorted({str(v) for v in y_true[~known].tolist()})
        raise ValueError(
            f"{name} contains label(s) the model does not know: {unknown[:10]}; the model's "
            f"classes are {classes.tolist()}."
        )
    return y_true, y_proba, classes


def top_labels(y_proba, classes) -> np.ndarray:
    """The predicted label of each sample: the class of its most probable column."""
    return np.asarray(classes)[np.argmax(y_proba, axis=1)]


def present_labels(classes, y_true, y_pred) -> np.ndarray:
    """The classes found in ``y_true`` or ``y_pred``, in ``classes`` order."""
    classes = np.asarray(classes)
    return classes[np.isin(classes, y_true) | np.isin(classes, y_pred)]
