"""Helpers shared by the ferkit displays: fitted histories, faces, new Axes, legend names.

The checks of labels and scores are :mod:`ferkit.metrics`' (``_predictions``), shared with
:func:`ferkit.report`. Nothing here imports matplotlib or TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from ferkit.metrics._predictions import predict_scores


def final_estimator(estimator):
    """The estimator that holds ``history_``: the last step of a Pipeline, the best of a search."""
    while True:
        if hasattr(estimator, "history_"):
            return estimator
        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        else:
            return estimator


def as_face_images(X) -> np.ndarray:
    """Faces as a ``(n, height, width)`` array for imshow: square flat rows are reshaped."""
    X = np.asarray(X)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim == 2:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise ValueError(
                f"X holds flat rows of {X.shape[1]} values, which are not square images; pass "
                "images of shape (n, height, width)."
            )
        X = X.reshape(len(X), side, side)
    if X.ndim != 3:
        raise ValueError(
            f"X must hold faces as flat rows (n, pixels) or images (n, height, width); got shape "
            f"{X.shape}."
        )
    return X


def estimator_name(estimator) -> str:
    """A short legend name: the class of the final estimator."""
    return type(final_estimator(estimator)).__name__


def scores_and_name(estimator, X, name):
    """``predict_proba(X)``, ``classes_`` and the legend name (``name``, else the class's)."""
    y_proba, classes = predict_scores(estimator, X)
    return y_proba, classes, estimator_name(estimator) if name is None else name


def pyplot_axes(ax, *, figsize, grid=None):
    """``ax`` as given, or the Axes of a new pyplot figure: one, or a ``grid=(rows, cols)``."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    if grid is None:
        return plt.subplots(figsize=figsize)[1]
    return plt.subplots(*grid, figsize=figsize, squeeze=False)[1]
