"""Pictures of a facial expression model, in the scikit-learn display style.

Each display holds computed values and draws them with ``plot(ax=None)``, storing
``figure_`` and ``ax_``/``axes_``; ``from_estimator`` and ``from_predictions`` build it. The
``plot_*`` functions are shortcuts that return the display. Where scikit-learn has a display
(confusion matrix, ROC, precision-recall, calibration), it does the drawing.

matplotlib is imported only when something is drawn; :func:`save_figures` draws on the Agg
canvas, so it needs no screen.
"""

from ferkit.plotting._confusion import confusion_matrix_from_predictions, plot_confusion_matrix
from ferkit.plotting._faces import FaceGridDisplay, plot_faces
from ferkit.plotting._history import TrainingHistoryDisplay, plot_learning_curves
from ferkit.plotting._one_vs_rest import (
    PrecisionRecallCurvesDisplay,
    RocCurvesDisplay,
    plot_precision_recall_curves,
    plot_roc_curves,
)
from ferkit.plotting._reliability import ReliabilityDisplay, plot_reliability_diagram
from ferkit.plotting._save import FIGURES, save_figures
from ferkit.plotting._timeline import EmotionTimelineDisplay

__all__ = [
    "FIGURES",
    "EmotionTimelineDisplay",
    "FaceGridDisplay",
    "PrecisionRecallCurvesDisplay",
    "ReliabilityDisplay",
    "RocCurvesDisplay",
    "TrainingHistoryDisplay",
    "confusion_matrix_from_predictions",
    "plot_confusion_matrix",
    "plot_faces",
    "plot_learning_curves",
    "plot_precision_recall_curves",
    "plot_reliability_diagram",
    "plot_roc_curves",
    "save_figures",
]
