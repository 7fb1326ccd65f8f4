"""Top-label calibration: equal-width confidence bins and the expected calibration error."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit.metrics._predictions import check_predictions, top_labels

#: Bins of the expected calibration error (Guo et al., 2017, use 15).
DEFAULT_N_BINS = 15
#: Most bins: each bin is an array element, so 10**20 would ask NumPy for exabytes; far
#: beyond this, almost every bin of a test set is empty anyway.
MAX_N_BINS = 10_000
#: The constraint of every public ``n_bins``.
N_BINS = Interval(Integral, 1, MAX_N_BINS, closed="both")

_PARAMETERS = {
    "y_true": ["array-like"],
    "y_proba": ["array-like"],
    "classes": ["array-like"],
    "n_bins": [N_BINS],
}


def _bin_ids(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Index of the equal-width bin ``((m-1)/M, m/M]`` holding each confidence.

    The same binning as :func:`sklearn.calibration.calibration_curve` with
    ``strategy="uniform"``, so the reliability diagram and the ECE agree bin for bin.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], confidence)


def top_label_confidence(y_true, y_proba, classes):
    """Each sample's top-label confidence and whether its top label is the true one.

    Returns
    -------
    confidence : ndarray of shape (n_samples,)
        The largest predicted probability.
    correct : ndarray of bool, shape (n_samples,)
        Whether the class of that column is the true label.
    """
    y_true, y_proba, classes = check_predictions(y_true, y_proba, classes)
    return np.max(y_proba, axis=1), top_labels(y_proba, classes) == y_true


@validate_params(_PARAMETERS, prefer_skip_nested_validation=True)
def top_label_bins(y_true, y_proba, classes, *, n_bins: int = DEFAULT_N_BINS):
    r"""Per-bin count, mean confidence and accuracy of the top-label predictions.

    The bins of :func:`expected_calibration_error` and of
    :class:`ferkit.plotting.ReliabilityDisplay`: each sample's confidence (its largest
    predicted probability) falls in one of ``n_bins`` equal-width bins
    :math:`(\frac{m-1}{M}, \frac{m}{M}]` of [0, 1].

    Parameters
    ----------
    y_true, y_proba, classes, n_bins
        As in :func:`expected_calibration_error`.

    Returns
    -------
    counts : ndarray of int, shape (n_bins,)
        Number of samples in each bin.
    confidence : ndarray of shape (n_bins,)
        Mean top-label probability in each bin (NaN for empty bins).
    accuracy : ndarray of shape (n_bins,)
        Fraction of correct predictions in each bin (NaN for empty bins).

    Examples
    --------
    >>> from ferkit.metrics import top_label_bins
    >>> proba = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]
    >>> counts, confidence, accuracy = top_label_bins(["a", "a", "a", "b"], proba, ["a", "b"],
    ...                                               n_bins=2)
    >>> counts.tolist(), confidence.round(2).tolist(), accuracy.tolist()
    ([0, 4], [nan, 0.75], [nan, 0.75])
    """
    top, correct = top_label_confidence(y_true, y_proba, classes)
    ids = _bin_ids(top, n_bins)
    counts = np.bincount(ids, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(ids, weights=top, minlength=n_bins) / counts
        accuracy = np.bincount(ids, weights=correct, minlength=n_bins) / counts
    return counts, confidence, accuracy


@validate_params(_PARAMETERS, prefer_skip_nested_validation=True)
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

    See Also
    --------
    top_label_bins : The bins' counts, mean confidence and accuracy.

    Examples
    --------
    >>> from ferkit.metrics import expected_calibration_error
    >>> proba = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]
    >>> round(expected_calibration_error(["a", "a", "a", "b"], proba, ["a", "b"]), 3)
    0.1
    """
    counts, confidence, accuracy = top_label_bins(y_true, y_proba, classes, n_bins=n_bins)
    full = counts > 0
    gaps = np.abs(accuracy[full] - confidence[full])
    return float(np.sum(counts[full] * gaps) / np.sum(counts))
