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

from ferkit.metrics._calibration import DEFAULT_N_BINS, expected_calibration_error
from ferkit.metrics._predictions import (
    check_predictions,
    class_names,
    predict_scores,
    present_labels,
    top_labels,
)


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
        Top-label expected calibration error (see
        :func:`~ferkit.metrics.expected_calibration_error`).
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

    # Its public home: what pickles record, and what the API reference declares once.
    __module__ = "ferkit.metrics"

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
    :func:`ferkit.metrics.expected_calibration_error`). The reliability diagram of
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
    y_proba, classes = predict_scores(model, X)
    y_true, y_proba, classes = check_predictions(y, y_proba, classes)
    y_pred = top_labels(y_proba, classes)
    labels = present_labels(classes, y_true, y_pred)
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
