"""How well a fitted classifier does on labelled faces: per-class scores and calibration.

:func:`report` gathers scikit-learn's per-class precision, recall, F1 and support, the
accuracy, macro and weighted F1, the confusion matrix and the top-label expected
calibration error into one :class:`ClassificationReport` (``ferkit.report`` is the same
function). :func:`expected_calibration_error` and :func:`top_label_bins` compute the
calibration on their own, on the bins that :class:`ferkit.plotting.ReliabilityDisplay`
draws.

Built on :mod:`sklearn.metrics`; nothing here imports TensorFlow or matplotlib.
"""

from ferkit.metrics._calibration import expected_calibration_error, top_label_bins
from ferkit.metrics._report import ClassificationReport, report

__all__ = [
    "ClassificationReport",
    "expected_calibration_error",
    "report",
    "top_label_bins",
]
