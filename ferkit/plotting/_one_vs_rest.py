"""One-vs-rest ROC and precision-recall curves, one per emotion, on one Axes.

Each curve is drawn by scikit-learn's own display (RocCurveDisplay, PrecisionRecallDisplay);
these classes compute the per-class values and lay the curves out together.
"""

from __future__ import annotations

import numpy as np

from ferkit.metrics._predictions import check_predictions, class_names
from ferkit.plotting._base import pyplot_axes, scores_and_name


class _OneVsRestDisplay:
    """Shared constructors and layout; subclasses compute and draw one curve per class."""

    _title = ""

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, name=None):
        """Compute and plot the curves of a fitted classifier on ``(X, y)``.

        Parameters
        ----------
        estimator : estimator
            A fitted classifier with ``predict_proba`` and ``classes_``.
        X : array-like
            Faces, in the form ``estimator`` takes.
        y : array-like of shape (n_samples,)
            True labels.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Name of the model for the title; None uses the classifier's class name.

        Returns
        -------
        display
            The display, plotted.
        """
        y_proba, classes, name = scores_and_name(estimator, X, name)
        return cls.from_predictions(y, y_proba, classes, ax=ax, name=name)

    @classmethod
    def from_predictions(cls, y_true, y_proba, classes, *, ax=None, name=None):
        """Compute and plot the curves from true labels and predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities, columns following ``classes``.
        classes : array-like of shape (n_classes,)
            The classifier's ``classes_``.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Name of the model for the title.

        Returns
        -------
        display
            The display, plotted.
        """
        y_true, y_proba, classes = check_predictions(y_true, y_proba, classes)
        # A class with no positive (or no negative) sample has no curve: leave it out.
        keep = [
            i for i, c in enumerate(classes) if 0 < np.sum(y_true == c) < y_true.size
        ]
        if not keep:
            raise ValueError(
                "One-vs-rest curves need at least two classes present in y; y holds only "
                f"{np.unique(y_true).tolist()}."
            )
        values = [cls._curve(y_true == classes[i], y_proba[:, i]) for i in keep]
        names = class_names(classes)
        display = cls(
            **{key: [v[key] for v in values] for key in values[0]},
            display_labels=[names[i] for i in keep],
            name=name,
        )
        return display.plot(ax=ax)

    def _layout(self, ax, summary):
        title = f"{self._title} ({summary})"
        ax.set_title(title if self.name is None else f"{title}\n{self.name}")
        ax.legend(loc="best", fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class RocCurvesDisplay(_OneVsRestDisplay):
    """One-vs-rest ROC curves, one per class, each drawn by scikit-learn's RocCurveDisplay.

    For each class, the faces of that class are the positives and all others the negatives;
    the score is the predicted probability of the class. Create it with
    :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    fpr, tpr : list of ndarray
        False and true positive rates of each class (from :func:`sklearn.metrics.roc_curve`).
    roc_auc : list of float
        Area under each curve.
    display_labels : list of str
        Name of each class.
    name : str, default=None
        Name of the model, for the title.

    Attributes
    ----------
    curve_displays_ : list of sklearn.metrics.RocCurveDisplay
        The per-class displays.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.plotting import RocCurvesDisplay
    >>> proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.5, 0.2], [0.5, 0.4, 0.1]])
    >>> display = RocCurvesDisplay.from_predictions(
    ...     ["angry", "happy", "sad", "happy"], proba, ["angry", "happy", "sad"])
    >>> display.display_labels, [round(a, 2) for a in display.roc_auc]
    (['angry', 'happy', 'sad'], [1.0, 0.75, 1.0])
    """

    _title = "One-vs-rest ROC"

    def __init__(self, *, fpr, tpr, roc_auc, display_labels, name=None):
        self.fpr = fpr
        self.tpr = tpr
        self.roc_auc = roc_auc
        self.display_labels = display_labels
        self.name = name

    @staticmethod
    def _curve(y_binary, score):
        from sklearn.metrics import auc, roc_curve

        fpr, tpr, _ = roc_curve(y_binary, score)
        return {"fpr": fpr, "tpr": tpr, "roc_auc": float(auc(fpr, tpr))}

    def plot(self, ax=None):
        """Draw the curves, each labelled with its class and AUC, and the chance line.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        self : RocCurvesDisplay
        """
        from sklearn.metrics import RocCurveDisplay

        ax = pyplot_axes(ax, figsize=(6, 5))
        last = len(self.display_labels) - 1
        self.curve_displays_ = [
            RocCurveDisplay(fpr=fpr, tpr=tpr, roc_auc=auc).plot(
                ax=ax, name=label, plot_chance_level=(i == last)
            )
            for i, (fpr, tpr, auc, label) in enumerate(
                zip(self.fpr, self.tpr, self.roc_auc, self.display_labels, strict=True)
            )
        ]
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        return self._layout(ax, f"macro AUC = {np.mean(self.roc_auc):.2f}")


class PrecisionRecallCurvesDisplay(_OneVsRestDisplay):
    """One-vs-rest precision-recall curves, one per class, by PrecisionRecallDisplay.

    For each class, the faces of that class are the positives and all others the negatives;
    the score is the predicted probability of the class. Create it with
    :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    precision, recall : list of ndarray
        Precision and recall of each class (from
        :func:`sklearn.metrics.precision_recall_curve`).
    average_precision : list of float
        Average precision of each class (:func:`sklearn.metrics.average_precision_score`).
    prevalence : list of float
        Fraction of positives of each class: the precision of a random guess.
    display_labels : list of str
        Name of each class.
    name : str, default=None
        Name of the model, for the title.

    Attributes
    ----------
    curve_displays_ : list of sklearn.metrics.PrecisionRecallDisplay
        The per-class displays.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.plotting import PrecisionRecallCurvesDisplay
    >>> proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.5, 0.2], [0.5, 0.4, 0.1]])
    >>> display = PrecisionRecallCurvesDisplay.from_predictions(
    ...     ["angry", "happy", "sad", "happy"], proba, ["angry", "happy", "sad"])
    >>> [round(a, 2) for a in display.average_precision]
    [1.0, 0.83, 1.0]
    """

    _title = "One-vs-rest precision-recall"

    def __init__(
        self, *, precision, recall, average_precision, prevalence, display_labels, name=None
    ):
        self.precision = precision
        self.recall = recall
        self.average_precision = average_precision
        self.prevalence = prevalence
        self.display_labels = display_labels
        self.name = name

    @staticmethod
    def _curve(y_binary, score):
        from sklearn.metrics import average_precision_score, precision_recall_curve

        precision, recall, _ = precision_recall_curve(y_binary, score)
        return {
            "precision": precision,
            "recall": recall,
            "average_precision": float(average_precision_score(y_binary, score)),
            "prevalence": float(np.mean(y_binary)),
        }

    def plot(self, ax=None):
        """Draw the curves, each labelled with its class and average precision.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        self : PrecisionRecallCurvesDisplay
        """
        from sklearn.metrics import PrecisionRecallDisplay

        ax = pyplot_axes(ax, figsize=(6, 5))
        self.curve_displays_ = [
            PrecisionRecallDisplay(precision, recall, average_precision=ap).plot(
                ax=ax, name=label
            )
            for precision, recall, ap, label in zip(
                self.precision, self.recall, self.average_precision, self.display_labels,
                strict=True,
            )
        ]
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_ylim(0, 1.02)
        return self._layout(ax, f"mean AP = {np.mean(self.average_precision):.2f}")


def plot_roc_curves(estimator, X, y, *, ax=None):
    """Plot one-vs-rest ROC curves, one per emotion, of a fitted classifier.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    X : array-like
        Faces, in the form ``estimator`` takes.
    y : array-like of shape (n_samples,)
        True labels.
    ax : matplotlib Axes, default=None
        Axes to draw on; None makes a new figure.

    Returns
    -------
    RocCurvesDisplay
    """
    return RocCurvesDisplay.from_estimator(estimator, X, y, ax=ax)


def plot_precision_recall_curves(estimator, X, y, *, ax=None):
    """Plot one-vs-rest precision-recall curves, one per emotion, of a fitted classifier.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    X : array-like
        Faces, in the form ``estimator`` takes.
    y : array-like of shape (n_samples,)
        True labels.
    ax : matplotlib Axes, default=None
        Axes to draw on; None makes a new figure.

    Returns
    -------
    PrecisionRecallCurvesDisplay
    """
    return PrecisionRecallCurvesDisplay.from_estimator(estimator, X, y, ax=ax)
