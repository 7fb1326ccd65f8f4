"""``ferkit.report``: how well a fitted classifier does on labelled faces, in one object.

Built on :mod:`sklearn.metrics`; nothing here imports TensorFlow or matplotlib.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

from ferkit.plotting._base import check_estimator_scores, check_predictions, class_names

__all__ = ["ClassificationReport", "expected_calibration_error", "report"]

#: Bins of the expected calibration error (Guo et al., 2017, use 15).
DEFAULT_N_BINS = 15


def _bin_ids(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Index of the equal-width bin ``((m-1)/M, m/M]`` holding each confidence.

    The same binning as :func:`sklearn.calibration.calibration_curve` with
    ``strategy="uniform"``, so the reliability diagram and the ECE agree bin for bin.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], confidence)


def top_label_bins(y_true, y_proba, classes, *, n_bins: int = DEFAULT_N_BINS):
    """Per-bin count, mean confidence and accuracy of the top-label predictions.

    Returns
    -------
    counts : ndarray of int, shape (n_bins,)
    confidence : ndarray of shape (n_bins,)
        Mean top-label probability in each bin (NaN for empty bins).
    accuracy : ndarray of shape (n_bins,)
        Fraction of correct predictions in each bin (NaN for empty bins).
    """
    y_true, y_proba, classes = check_predictions(y_true, y_proba, classes)
    top = np.max(y_proba, axis=1)
    correct = classes[np.argmax(y_proba, axis=1)] == y_true
    ids = _bin_ids(top, n_bins)
    counts = np.bincount(ids, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(ids, weights=top, minlength=n_bins) / counts
        accuracy = np.bincount(ids, weights=correct, minlength=n_bins) / counts
    return counts, confidence, accuracy


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "classes": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(y_true, y_proba, classes, *, n_bins: int = DEFAULT_N_BINS):
    r"""Top-label expected calibration error (ECE) with equal-width confidence bins.

    For each sample, the *confidence* is its largest predicted probability and the prediction
    is *correct* when the class of that column is the true label. The confidences are put in
    ``n_bins`` equal-width bins :math:`B_m = (\frac{m-1}{M}, \frac{m}{M}]` (the first bin
    also holds 0), and

    .. math::

        \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n}\,
        \bigl|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\bigr|

    where :math:`\mathrm{acc}(B_m)` is the fraction of correct predictions in the bin and
    :math:`\mathrm{conf}(B_m)` their mean confidence; empty bins add nothing. 0 is perfectly
    calibrated, 1 the worst. This is the definition of Guo et al., "On Calibration of Modern
    Neural Networks" (ICML 2017), and the binning of
    :func:`sklearn.calibration.calibration_curve` with ``strategy="uniform"``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : array-like of shape (n_classes,)
        Class of each column (a classifier's ``classes_``).
    n_bins : int, default=15
        Number of equal-width bins on [0, 1].

    Returns
    -------
    float
        The expected calibration error.

    Examples
    --------
    >>> from ferkit._report import expected_calibration_error
    >>> proba = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]
    >>> round(expected_calibration_error(["a", "a", "a", "b"], proba, ["a", "b"]), 3)
    0.1
    """
    counts, confidence, accuracy = top_label_bins(y_true, y_proba, classes, n_bins=n_bins)
    full = counts > 0
    gaps = np.abs(accuracy[full] - confidence[full])
    return float(np.sum(counts[full] * gaps) / np.sum(counts))


class ClassificationReport(Bunch):
    """How a classifier does on labelled data: per-class scores, summary and calibration.

    A :class:`~sklearn.utils.Bunch` (keys are also attributes) made by :func:`ferkit.report`;
    it prints as a table and converts to a :class:`pandas.DataFrame` with :meth:`to_frame`.

    Attributes
    ----------
    labels : ndarray of shape (n_labels,)
        The class labels reported on, in the classifier's ``classes_`` order: those present
        in ``y`` or among the predictions.
    target_names : list of str
        Readable names of ``labels`` (FER2013 codes 0-6 become emotion names).
    precision, recall, f1, support : ndarray of shape (n_labels,)
        Per-class scores from :func:`sklearn.metrics.precision_recall_fscore_support`
        (0 where undefined).
    accuracy : float
        Fraction of correct predictions.
    macro_f1 : float
        Unweighted mean of ``f1`` (:func:`sklearn.metrics.f1_score`, ``average="macro"``).
    weighted_f1 : float
        Mean of ``f1`` weighted by ``support``.
    confusion_matrix : ndarray of shape (n_labels, n_labels)
        Counts: row ``i`` true ``labels[i]``, column ``j`` predicted ``labels[j]``.
    ece : float
        Top-label expected calibration error (see :func:`expected_calibration_error`).
    n_bins : int
        Number of bins of ``ece``.
    n_samples : int
        Number of samples evaluated.
    y_pred : ndarray of shape (n_samples,)
        Predicted labels (the most probable class).
    y_proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities, columns following the classifier's ``classes_``.
    classes : ndarray of shape (n_classes,)
        The classifier's ``classes_``.
    """

    def to_frame(self):
        """Per-class precision, recall, F1 and support as a DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per class (index ``emotion``), columns ``precision``, ``recall``,
            ``f1-score``, ``support``. ``accuracy``, ``macro_f1``, ``weighted_f1``, ``ece``
            and ``n_samples`` are in ``DataFrame.attrs``.
        """
        import pandas as pd

        frame = pd.DataFrame(
            {
                "precision": self.precision,
                "recall": self.recall,
                "f1-score": self.f1,
                "support": self.support,
            },
            index=pd.Index(self.target_names, name="emotion"),
        )
        frame.attrs.update(
            accuracy=self.accuracy, macro_f1=self.macro_f1, weighted_f1=self.weighted_f1,
            ece=self.ece, n_samples=self.n_samples,
        )
        return frame

    def __str__(self) -> str:
        names = list(self.target_names)
        width = max([len(n) for n in names] + [len("weighted avg")])
        header = f"{'':<{width}}  {'precision':>9}  {'recall':>6}  {'f1-score':>8}  {'support':>7}"

        def row(name, p, r, f, s):
            return f"{name:<{width}}  {p:>9.3f}  {r:>6.3f}  {f:>8.3f}  {s:>7d}"

        lines = [header]
        for i, name in enumerate(names):
            lines.append(
                row(name, self.precision[i], self.recall[i], self.f1[i], int(self.support[i]))
            )
        n = int(self.n_samples)
        total = max(int(np.sum(self.support)), 1)
        lines.append("")
        lines.append(f"{'accuracy':<{width}}  {'':>9}  {'':>6}  {self.accuracy:>8.3f}  {n:>7d}")
        lines.append(row("macro avg", np.mean(self.precision), np.mean(self.recall),
                         self.macro_f1, n))
        lines.append(row("weighted avg", np.sum(self.precision * self.support) / total,
                         np.sum(self.recall * self.support) / total, self.weighted_f1, n))
        lines.append("")
        lines.append(
            f"expected calibration error (top-label, {self.n_bins} bins): {self.ece:.3f}"
        )
        lines.append("")
        lines.append("confusion matrix (rows: true, columns: predicted)")
        cells = [[str(int(v)) for v in r] for r in self.confusion_matrix]
        col_width = max([len(n) for n in names] + [len(c) for r in cells for c in r])
        lines.append(f"{'':<{width}}  " + "  ".join(f"{n:>{col_width}}" for n in names))
        for name, r in zip(names, cells, strict=True):
            lines.append(f"{name:<{width}}  " + "  ".join(f"{c:>{col_width}}" for c in r))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ClassificationReport of {int(self.n_samples)} samples>\n{self}"

    # A Bunch is a dict; copying or pickling must keep the subclass and its fields.
    def __reduce__(self):
        return (type(self), (), None, None, iter(self.items()))


def report(model, X, y, *, n_bins: int = DEFAULT_N_BINS) -> ClassificationReport:
    r"""Evaluate a fitted classifier on labelled faces: scores per class, summary, calibration.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``: a
        :class:`~ferkit.FacialExpressionClassifier`, a :class:`~sklearn.pipeline.Pipeline`
        ending in one (such as :func:`ferkit.make_fer_pipeline` or
        :func:`ferkit.load_pretrained` give), or any scikit-learn classifier.
    X : array-like
        Faces, in the form ``model.predict_proba`` takes.
    y : array-like of shape (n_samples,)
        True labels, of the same kind as ``model.classes_`` (emotion names or codes).
    n_bins : int, default=15
        Number of equal-width bins of the expected calibration error.

    Returns
    -------
    ClassificationReport
        A Bunch with ``precision``, ``recall``, ``f1``, ``support`` (per class),
        ``accuracy``, ``macro_f1``, ``weighted_f1``, ``confusion_matrix``, ``ece`` and more
        (see :class:`ClassificationReport`); ``print`` it for a table, ``to_frame()`` for a
        DataFrame.

    Notes
    -----
    ``predict_proba`` is called once; the predicted label of each sample is its most
    probable class (what :meth:`FacialExpressionClassifier.predict` returns). Classes that
    are neither in ``y`` nor predicted are left out of the table, so ``macro_f1`` equals
    ``sklearn.metrics.f1_score(y, y_pred, average="macro")``.

    ``ece`` is the top-label expected calibration error with ``n_bins`` equal-width bins:
    each sample's confidence is its largest predicted probability, the samples are grouped
    by confidence into the bins :math:`B_m = (\frac{m-1}{M}, \frac{m}{M}]`, and
    :math:`\mathrm{ECE} = \sum_m \frac{|B_m|}{n} |\mathrm{acc}(B_m) -
    \mathrm{conf}(B_m)|`, with :math:`\mathrm{acc}` the fraction of correct predictions
    and :math:`\mathrm{conf}` the mean confidence in the bin (see
    :func:`ferkit._report.expected_calibration_error`). The reliability diagram of
    :class:`ferkit.plotting.ReliabilityDisplay` draws the same bins.

    Examples
    --------
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample(emotions=("angry", "happy", "sad"))
    >>> model = ferkit.make_fer_pipeline(filters=(4, 8), dense_units=(8,), epochs=1,
    ...                                  random_state=0).fit(faces.data, faces.target)
    >>> result = ferkit.report(model, faces.data, faces.target)
    >>> list(result.target_names), int(result.support.sum())
    (['angry', 'happy', 'sad'], 300)
    >>> result.to_frame().columns.tolist()
    ['precision', 'recall', 'f1-score', 'support']
    """
    if not (isinstance(n_bins, Integral) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive int; got {n_bins!r}.")
    classes = check_estimator_scores(model)
    y_proba = model.predict_proba(X)
    y_true, y_proba, classes = check_predictions(y, y_proba, classes)
    y_pred = classes[np.argmax(y_proba, axis=1)]
    present = np.isin(classes, y_true) | np.isin(classes, y_pred)
    labels = classes[present]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return ClassificationReport(
        labels=labels,
        target_names=class_names(labels),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                zero_division=0)),
        weighted_f1=float(f1_score(y_true, y_pred, labels=labels, average="weighted",
                                   zero_division=0)),
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=labels),
        ece=expected_calibration_error(y_true, y_proba, classes, n_bins=n_bins),
        n_bins=int(n_bins),
        n_samples=int(y_true.size),
        y_pred=y_pred,
        y_proba=y_proba,
        classes=classes,
    )
