"""Confusion matrix with emotion names, through scikit-learn's ConfusionMatrixDisplay."""

from __future__ import annotations

from ferkit.metrics._predictions import (
    check_predictions,
    class_names,
    predict_scores,
    present_labels,
    top_labels,
)

_NORMALIZE_TITLES = {
    None: "Confusion matrix (counts)",
    "true": "Confusion matrix (normalised over true labels)",
    "pred": "Confusion matrix (normalised over predictions)",
    "all": "Confusion matrix (normalised over all samples)",
}


def plot_confusion_matrix(
    estimator, X, y, *, normalize=None, ax=None, cmap="Blues", colorbar=True,
    values_format=None, xticks_rotation=45,
):
    """Plot the confusion matrix of a fitted classifier with emotion names on the axes.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba`` and ``classes_`` (a ferkit classifier, a
        Pipeline ending in one, or any scikit-learn classifier).
    X : array-like
        Faces, in the form ``estimator`` takes.
    y : array-like of shape (n_samples,)
        True labels.
    normalize : {None, "true", "pred", "all"}, default=None
        None shows counts; ``"true"`` divides each row by the number of faces of that emotion
        (each diagonal cell is then the recall of its class).
    ax : matplotlib Axes, default=None
        Axes to draw on; None makes a new figure.
    cmap : str or matplotlib Colormap, default="Blues"
        Colour map of the cells.
    colorbar : bool, default=True
        Whether to add a colour bar.
    values_format : str, default=None
        Format of the cell values; None gives ``"d"`` for counts and ``".2f"`` when
        normalised.
    xticks_rotation : float or {"vertical", "horizontal"}, default=45
        Rotation of the predicted-label names.

    Returns
    -------
    sklearn.metrics.ConfusionMatrixDisplay
        With ``confusion_matrix``, ``display_labels``, ``figure_`` and ``ax_``.

    Notes
    -----
    Rows and columns are the classes found in ``y`` or among the predictions, in the
    classifier's ``classes_`` order (the same as :func:`ferkit.report`).

    Examples
    --------
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> from ferkit.plotting import plot_confusion_matrix
    >>> faces = load_sample(emotions=("angry", "happy", "sad"))
    >>> model = ferkit.make_fer_pipeline(filters=(4, 8), dense_units=(8,), epochs=1,
    ...                                  random_state=0).fit(faces.data, faces.target)
    >>> display = plot_confusion_matrix(model, faces.data, faces.target)
    >>> list(display.display_labels), int(display.confusion_matrix.sum())
    (['angry', 'happy', 'sad'], 300)
    """
    y_proba, classes = predict_scores(estimator, X)
    return confusion_matrix_from_predictions(
        y, y_proba, classes, normalize=normalize, ax=ax, cmap=cmap, colorbar=colorbar,
        values_format=values_format, xticks_rotation=xticks_rotation,
    )


def confusion_matrix_from_predictions(
    y_true, y_proba, classes, *, normalize=None, ax=None, cmap="Blues", colorbar=True,
    values_format=None, xticks_rotation=45,
):
    """Plot a confusion matrix from true labels and predicted probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns following ``classes``; the prediction is the most
        probable class.
    classes : array-like of shape (n_classes,)
        The classifier's ``classes_``.
    normalize, ax, cmap, colorbar, values_format, xticks_rotation
        As in :func:`plot_confusion_matrix`.

    Returns
    -------
    sklearn.metrics.ConfusionMatrixDisplay
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    if normalize not in _NORMALIZE_TITLES:
        raise ValueError(
            f"normalize must be one of {list(_NORMALIZE_TITLES)}; got {normalize!r}."
        )
    y_true, y_proba, classes = check_predictions(y_true, y_proba, classes)
    y_pred = top_labels(y_proba, classes)
    labels = present_labels(classes, y_true, y_pred)
    if values_format is None:
        values_format = "d" if normalize is None else ".2f"
    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, display_labels=class_names(labels),
        normalize=normalize, ax=ax, cmap=cmap, colorbar=colorbar,
        values_format=values_format, xticks_rotation=xticks_rotation,
    )
    display.ax_.set_title(_NORMALIZE_TITLES[normalize])
    return display
