"""Write a set of pictures of a fitted classifier to a folder, headless (Agg)."""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path

from sklearn.utils._param_validation import Interval, validate_params

from ferkit.metrics._calibration import N_BINS
from ferkit.metrics._predictions import check_estimator_scores, check_predictions, top_labels
from ferkit.plotting._base import estimator_name, final_estimator

#: Pictures :func:`save_figures` draws by default. Faces are drawn only when asked.
FIGURES = (
    "learning_curves",
    "confusion_matrix",
    "confusion_matrix_normalized",
    "roc_curves",
    "precision_recall_curves",
    "reliability_diagram",
)
_ALL = (*FIGURES, "faces")


def _new_figure(figsize):
    """A figure drawn by the Agg canvas directly: no pyplot, no screen, no global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


#: Highest resolution: a 6-inch figure at 1200 dpi is already about 200 MB of pixels.
MAX_DPI = 1200


# Checked before the first prediction or figure: a bad n_bins or dpi used to fail only at the
# picture that uses it, after the others were written.
@validate_params(
    {"figures": [str, list, tuple], "y_proba": ["array-like", None], "n_bins": [N_BINS],
     "n_faces": [Interval(Integral, 1, None, closed="left")],
     "random_state": ["random_state"], "format": [str],
     "dpi": [Interval(Real, 0, MAX_DPI, closed="right")]},
    prefer_skip_nested_validation=True,
)
def save_figures(
    estimator, X, y, folder, *, figures=FIGURES, y_proba=None, n_bins=15, n_faces=16,
    random_state=0, format="png", dpi=120,
) -> dict[str, Path]:
    """Draw pictures of a fitted classifier on labelled faces and save them to a folder.

    The figures are made with matplotlib's Agg canvas, without pyplot, so this works on a
    machine with no screen and leaves pyplot's state alone.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba`` and ``classes_`` (a ferkit pipeline or
        classifier, or any scikit-learn classifier).
    X : array-like
        Faces, in the form ``estimator`` takes.
    y : array-like of shape (n_samples,)
        True labels.
    folder : str or path-like
        Folder to write to; made if missing. Files of the same names are replaced.
    figures : sequence of str, default=FIGURES
        Which pictures: ``"learning_curves"`` (skipped when the model has no training
        history), ``"confusion_matrix"``, ``"confusion_matrix_normalized"``,
        ``"roc_curves"``, ``"precision_recall_curves"``, ``"reliability_diagram"`` and
        ``"faces"`` (example faces with their labels: pictures of people, so not in the
        default set).
    y_proba : array-like of shape (n_samples, n_classes), default=None
        ``estimator.predict_proba(X)`` if already computed (for example by
        :func:`ferkit.report`, as ``y_proba``), to avoid predicting twice.
    n_bins : int, default=15
        Bins of the reliability diagram.
    n_faces : int, default=16
        Faces in the ``"faces"`` grid.
    random_state : int, default=0
        Seed of the choice of faces.
    format : str, default="png"
        Image format (any matplotlib writes: ``"png"``, ``"svg"``, ``"pdf"``...).
    dpi : int, default=120
        Resolution of raster images.

    Returns
    -------
    dict of str to pathlib.Path
        The file written for each picture, in the order drawn.

    Examples
    --------
    >>> import tempfile
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> from ferkit.plotting import save_figures
    >>> faces = load_sample(emotions=("angry", "happy", "sad"))
    >>> model = ferkit.make_fer_pipeline(filters=(4, 8), dense_units=(8,), epochs=2,
    ...                                  random_state=0).fit(faces.data, faces.target)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = save_figures(model, faces.data, faces.target, folder)
    ...     sorted(path.name for path in paths.values())[:2]
    ['confusion_matrix.png', 'confusion_matrix_normalized.png']
    """
    from ferkit.plotting._confusion import confusion_matrix_from_predictions
    from ferkit.plotting._faces import FaceGridDisplay, face_grid_layout
    from ferkit.plotting._history import TrainingHistoryDisplay, history_layout
    from ferkit.plotting._one_vs_rest import PrecisionRecallCurvesDisplay, RocCurvesDisplay
    from ferkit.plotting._reliability import ReliabilityDisplay

    figures = (figures,) if isinstance(figures, str) else tuple(figures)
    unknown = [f for f in figures if f not in _ALL]
    if unknown:
        raise ValueError(f"Unknown figure(s) {unknown}; choose from {list(_ALL)}.")
    classes = check_estimator_scores(estimator)
    if y_proba is None:
        y_proba = estimator.predict_proba(X)
    y, y_proba, classes = check_predictions(y, y_proba, classes)
    name = estimator_name(estimator)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    written: dict[str, Path] = {}
    for kind in figures:
        if kind == "learning_curves":
            history = getattr(final_estimator(estimator), "history_", None)
            if not history:
                continue
            metrics = tuple(m for m in ("accuracy", "loss") if history.get(m))
            grid, figsize = history_layout(metrics)
            figure = _new_figure(figsize)
            TrainingHistoryDisplay(history, metrics=metrics).plot(
                ax=figure.subplots(*grid, squeeze=False)
            )
        elif kind.startswith("confusion_matrix"):
            figure = _new_figure((1.1 * len(classes) + 2.5, 1.0 * len(classes) + 2))
            confusion_matrix_from_predictions(
                y, y_proba, classes, ax=figure.subplots(),
                normalize="true" if kind.endswith("normalized") else None,
            )
        elif kind == "roc_curves":
            figure = _new_figure((6, 5.5))
            RocCurvesDisplay.from_predictions(y, y_proba, classes, ax=figure.subplots(),
                                              name=name)
        elif kind == "precision_recall_curves":
            figure = _new_figure((6, 5.5))
            PrecisionRecallCurvesDisplay.from_predictions(
                y, y_proba, classes, ax=figure.subplots(), name=name
            )
        elif kind == "reliability_diagram":
            figure = _new_figure((5.5, 5.5))
            ReliabilityDisplay.from_predictions(
                y, y_proba, classes, n_bins=n_bins, ax=figure.subplots(), name=name
            )
        else:  # faces
            n = min(n_faces, len(y))
            grid, figsize = face_grid_layout(n)
            figure = _new_figure(figsize)
            FaceGridDisplay.from_predictions(
                X, y, top_labels(y_proba, classes), n_faces=n, random_state=random_state,
                ax=figure.subplots(*grid, squeeze=False),
            )
        path = folder / f"{kind}.{format}"
        figure.savefig(path, dpi=dpi)
        written[kind] = path
    return written
