"""Reliability diagram: does the model's confidence match how often it is right?"""

from __future__ import annotations

import numpy as np

from ferkit.metrics import expected_calibration_error, top_label_bins
from ferkit.metrics._calibration import top_label_confidence
from ferkit.plotting._base import pyplot_axes, scores_and_name


class ReliabilityDisplay:
    """Top-label reliability (calibration) diagram of a multiclass classifier.

    Each face's *confidence* is its largest predicted probability and the prediction is
    *correct* when that class is the true one. Confidences are put in equal-width bins; the
    diagram plots, per non-empty bin, the fraction correct against the mean confidence,
    beside the diagonal of perfect calibration. The curve is drawn by scikit-learn's
    :class:`~sklearn.calibration.CalibrationDisplay`, on the binary problem "is the top
    prediction correct?", and the legend gives the expected calibration error computed on the
    same bins (:func:`ferkit.report`'s ``ece``).

    Parameters
    ----------
    prob_true : ndarray
        Fraction of correct top predictions in each non-empty bin.
    prob_pred : ndarray
        Mean top-label confidence in each non-empty bin.
    confidence : ndarray of shape (n_samples,)
        Top-label confidence of each sample.
    counts : ndarray of int, shape (n_bins,)
        Number of samples in each bin, empty ones included.
    ece : float
        Expected calibration error on these bins.
    name : str, default=None
        Name of the model, for the legend.

    Attributes
    ----------
    calibration_display_ : sklearn.calibration.CalibrationDisplay
        The display that drew the curve.
    line_ : matplotlib Line2D
        The calibration curve.
    bars_ : matplotlib BarContainer
        The share of faces per bin (with ``show_counts=True``), on ``hist_ax_``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Notes
    -----
    Why top-label rather than one diagram per class: it is the calibration of the prediction
    people read (the emotion shown and its probability), it matches the expected calibration
    error of :func:`ferkit.report`, and every bin pools the faces of all classes. One-vs-rest
    diagrams per class split a test set of a few hundred faces seven ways and are dominated by
    probabilities near zero, so most of their bins are empty or noisy. For per-class
    diagrams, use :meth:`sklearn.calibration.CalibrationDisplay.from_predictions` on
    ``y == emotion`` and the matching ``predict_proba`` column.

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.plotting import ReliabilityDisplay
    >>> proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    >>> display = ReliabilityDisplay.from_predictions(["a", "a", "a", "b"], proba, ["a", "b"])
    >>> display.prob_pred.round(2).tolist(), display.prob_true.tolist(), round(display.ece, 3)
    ([0.6, 0.9], [0.5, 1.0], 0.1)
    """

    def __init__(self, prob_true, prob_pred, confidence, *, counts, ece, name=None):
        self.prob_true = prob_true
        self.prob_pred = prob_pred
        self.confidence = confidence
        self.counts = counts
        self.ece = ece
        self.name = name

    def plot(self, ax=None, *, name=None, show_counts=True):
        """Draw the diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Legend name; None uses the display's ``name``.
        show_counts : bool, default=True
            Also draw, as grey bars on a second y axis, the share of faces in each bin.

        Returns
        -------
        self : ReliabilityDisplay
        """
        from sklearn.calibration import CalibrationDisplay

        ax = pyplot_axes(ax, figsize=(5, 5))
        name = self.name if name is None else name
        label = f"ECE = {self.ece:.3f}" if name is None else f"{name} (ECE = {self.ece:.3f})"
        display = CalibrationDisplay(self.prob_true, self.prob_pred, self.confidence)
        display.plot(ax=ax, name=label, marker="o")
        ax.set_xlabel("Mean top-label confidence")
        ax.set_ylabel("Fraction correct")
        ax.set_title(f"Reliability diagram ({len(self.counts)} bins)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        # Above the diagonal's start, where the curve and the bars rarely are.
        ax.legend(loc="upper left")
        if show_counts:
            # A bin of one face can sit anywhere on the diagram: show how full each bin is.
            counts = np.asarray(self.counts)
            n_bins = counts.size
            centers = (np.arange(n_bins) + 0.5) / n_bins
            hist_ax = ax.twinx()
            self.bars_ = hist_ax.bar(
                centers, counts / max(counts.sum(), 1), width=1 / n_bins, color="gray",
                alpha=0.25, label="share of faces",
            )
            hist_ax.set_ylim(0, 1.02)
            hist_ax.set_ylabel("Share of faces in the bin")
            ax.set_zorder(hist_ax.get_zorder() + 1)
            ax.patch.set_visible(False)
            self.hist_ax_ = hist_ax
        self.calibration_display_ = display
        self.line_ = display.line_
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, y_proba, classes, *, n_bins=15, ax=None, name=None):
        """Compute and plot the diagram from true labels and predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities, columns following ``classes``.
        classes : array-like of shape (n_classes,)
            The classifier's ``classes_``.
        n_bins : int, default=15
            Number of equal-width bins on [0, 1].
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Name of the model, for the legend.

        Returns
        -------
        ReliabilityDisplay
        """
        from sklearn.calibration import calibration_curve

        # top_label_bins checks n_bins; calibration_curve would take 10**20 and fail in NumPy.
        counts, _, _ = top_label_bins(y_true, y_proba, classes, n_bins=n_bins)
        confidence, correct = top_label_confidence(y_true, y_proba, classes)
        prob_true, prob_pred = calibration_curve(
            correct.astype(int), np.clip(confidence, 0, 1), n_bins=n_bins, strategy="uniform",
            pos_label=1,
        )
        ece = expected_calibration_error(y_true, y_proba, classes, n_bins=n_bins)
        display = cls(prob_true, prob_pred, confidence, counts=counts, ece=ece, name=name)
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, n_bins=15, ax=None, name=None):
        """Compute and plot the diagram of a fitted classifier on ``(X, y)``.

        Parameters
        ----------
        estimator : estimator
            A fitted classifier with ``predict_proba`` and ``classes_``.
        X : array-like
            Faces, in the form ``estimator`` takes.
        y : array-like of shape (n_samples,)
            True labels.
        n_bins : int, default=15
            Number of equal-width bins on [0, 1].
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Name of the model for the legend; None uses the classifier's class name.

        Returns
        -------
        ReliabilityDisplay
        """
        y_proba, classes, name = scores_and_name(estimator, X, name)
        return cls.from_predictions(y, y_proba, classes, n_bins=n_bins, ax=ax, name=name)


def plot_reliability_diagram(estimator, X, y, *, n_bins=15, ax=None):
    """Plot the top-label reliability diagram of a fitted classifier.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    X : array-like
        Faces, in the form ``estimator`` takes.
    y : array-like of shape (n_samples,)
        True labels.
    n_bins : int, default=15
        Number of equal-width bins on [0, 1].
    ax : matplotlib Axes, default=None
        Axes to draw on; None makes a new figure.

    Returns
    -------
    ReliabilityDisplay
        See it for why the diagram is top-label rather than one per class.
    """
    return ReliabilityDisplay.from_estimator(estimator, X, y, n_bins=n_bins, ax=ax)
