"""A grid of example faces with their true and predicted emotions.

These are pictures of people: ferkit draws them only when asked (nothing in the library or
the command line writes them by default).
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit.metrics._predictions import class_names, predict_scores, top_labels
from ferkit.plotting._base import as_face_images, pyplot_axes


class FaceGridDisplay:
    """Example faces in a grid, each titled with its true and predicted emotion.

    Wrong predictions are titled in red. Create it with :meth:`from_estimator` or
    :meth:`from_predictions`.

    Parameters
    ----------
    images : ndarray of shape (n_faces, height, width)
        The faces to show.
    y_true : list of str or None
        True emotion of each face, or None when unknown.
    y_pred : list of str or None
        Predicted emotion of each face, or None.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        The grid's Axes (those beyond ``n_faces`` are hidden).
    images_ : list of matplotlib AxesImage
        One per face.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.plotting import FaceGridDisplay
    >>> faces = np.zeros((3, 48, 48), dtype=np.uint8)
    >>> display = FaceGridDisplay(faces, ["happy", "sad", "sad"], ["happy", "happy", "sad"])
    >>> [ax.get_title() for ax in display.plot().axes_[:3]]
    ['true: happy\\npred: happy', 'true: sad\\npred: happy', 'true: sad\\npred: sad']
    """

    def __init__(self, images, y_true=None, y_pred=None):
        self.images = images
        self.y_true = y_true
        self.y_pred = y_pred

    def plot(self, ax=None, *, ncols=None, cmap="gray"):
        """Draw the grid.

        Parameters
        ----------
        ax : sequence of matplotlib Axes, default=None
            At least one Axes per face; None makes a new figure.
        ncols : int, default=None
            Columns of the new figure's grid; None makes it about square.
        cmap : str, default="gray"
            Colour map of the faces.

        Returns
        -------
        self : FaceGridDisplay
        """
        images = as_face_images(self.images)
        n = len(images)
        if n == 0:
            raise ValueError("There are no faces to show.")
        grid, figsize = face_grid_layout(n, ncols)
        axes = np.ravel(np.asarray(pyplot_axes(ax, figsize=figsize, grid=grid), dtype=object))
        if axes.size < n:
            raise ValueError(f"ax holds {axes.size} Axes, but there are {n} faces to show.")
        self.images_ = []
        for i, axis in enumerate(axes):
            axis.set_axis_off()
            if i >= n:
                continue
            self.images_.append(axis.imshow(images[i], cmap=cmap, vmin=0, vmax=_vmax(images)))
            lines, wrong = [], False
            if self.y_true is not None:
                lines.append(f"true: {self.y_true[i]}")
            if self.y_pred is not None:
                lines.append(f"pred: {self.y_pred[i]}")
                wrong = self.y_true is not None and self.y_true[i] != self.y_pred[i]
            axis.set_title("\n".join(lines), fontsize=8, color="tab:red" if wrong else "black")
        self.axes_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    @validate_params(
        {"n_faces": [Interval(Integral, 1, None, closed="left")], "errors_only": ["boolean"],
         "random_state": ["random_state"]},
        prefer_skip_nested_validation=True,
    )
    def from_predictions(cls, X, y_true=None, y_pred=None, *, n_faces=16, errors_only=False,
                         random_state=0, ax=None):
        """Draw a random selection of faces with given true and predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width)
            Faces (square flat rows are reshaped).
        y_true : array-like of shape (n_samples,), default=None
            True labels (emotion names, or FER2013 codes 0-6).
        y_pred : array-like of shape (n_samples,), default=None
            Predicted labels.
        n_faces : int, default=16
            Number of faces to show (all of them if there are fewer).
        errors_only : bool, default=False
            Show only faces whose prediction is wrong.
        random_state : int, RandomState or None, default=0
            Seed of the random selection.
        ax : sequence of matplotlib Axes, default=None
            At least one Axes per face; None makes a new figure.

        Returns
        -------
        FaceGridDisplay
        """
        from sklearn.utils import check_random_state

        images = as_face_images(X)
        y_true = None if y_true is None else np.asarray(class_names(y_true), dtype=object)
        y_pred = None if y_pred is None else np.asarray(class_names(y_pred), dtype=object)
        for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
            if labels is not None and len(labels) != len(images):
                raise ValueError(
                    f"{name} has {len(labels)} labels but X holds {len(images)} faces."
                )
        candidates = np.arange(len(images))
        if errors_only:
            if y_true is None or y_pred is None:
                raise ValueError("errors_only=True needs both y_true and y_pred.")
            candidates = candidates[y_true != y_pred]
            if candidates.size == 0:
                raise ValueError("There are no wrong predictions to show.")
        rng = check_random_state(random_state)
        chosen = np.sort(
            rng.choice(candidates, size=min(n_faces, candidates.size), replace=False)
        )
        display = cls(
            images[chosen],
            None if y_true is None else y_true[chosen].tolist(),
            None if y_pred is None else y_pred[chosen].tolist(),
        )
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, n_faces=16, errors_only=False,
                       random_state=0, ax=None):
        """Draw a random selection of faces with the classifier's predictions.

        Parameters
        ----------
        estimator : estimator
            A fitted classifier with ``predict_proba`` and ``classes_``.
        X : array-like
            Faces as raw pixels, flat rows or images, in a form ``estimator`` takes.
        y : array-like of shape (n_samples,), default=None
            True labels, shown beside the predictions when given.
        n_faces, errors_only, random_state, ax
            As in :meth:`from_predictions`.

        Returns
        -------
        FaceGridDisplay
        """
        y_pred = top_labels(*predict_scores(estimator, X))
        return cls.from_predictions(
            X, y, y_pred, n_faces=n_faces, errors_only=errors_only,
            random_state=random_state, ax=ax,
        )


def face_grid_layout(n: int, ncols=None):
    """``(nrows, ncols)`` and figure size of a grid of ``n`` faces, about square by default."""
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    return (nrows, ncols), (1.6 * ncols, 1.9 * nrows)


def _vmax(images) -> float:
    # Raw pixels span 0-255; scaled ones 0-1. A fixed range keeps faces comparable.
    return 255.0 if np.max(images) > 1.0 else 1.0


def plot_faces(estimator, X, y=None, *, n_faces=16, errors_only=False, random_state=0,
               ax=None):
    """Draw example faces with their true and predicted emotions.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    X : array-like
        Faces as raw pixels, flat rows or images.
    y : array-like of shape (n_samples,), default=None
        True labels.
    n_faces : int, default=16
        Number of faces to show.
    errors_only : bool, default=False
        Show only wrong predictions.
    random_state : int, RandomState or None, default=0
        Seed of the random selection.
    ax : sequence of matplotlib Axes, default=None
        At least one Axes per face; None makes a new figure.

    Returns
    -------
    FaceGridDisplay
    """
    return FaceGridDisplay.from_estimator(
        estimator, X, y, n_faces=n_faces, errors_only=errors_only,
        random_state=random_state, ax=ax,
    )
