"""ferkit.plotting: the displays draw the right data with the right labels, headless (Agg)."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_curve,
)

from ferkit.metrics import expected_calibration_error
from ferkit.plotting import (
    FIGURES,
    FaceGridDisplay,
    PrecisionRecallCurvesDisplay,
    ReliabilityDisplay,
    RocCurvesDisplay,
    TrainingHistoryDisplay,
    plot_confusion_matrix,
    plot_faces,
    plot_learning_curves,
    plot_precision_recall_curves,
    plot_reliability_diagram,
    plot_roc_curves,
    save_figures,
)

CLASSES = np.array(["angry", "happy", "sad"], dtype=object)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def predictions(rng):
    """Labels and informative but imperfect probabilities for three emotions."""
    y = np.repeat(CLASSES, 40)
    logits = rng.normal(size=(120, 3)) + 1.5 * (y[:, None] == CLASSES[None, :])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


HISTORY = {
    "loss": [1.2, 0.9, 0.7], "val_loss": [1.3, 1.1, 1.05],
    "accuracy": [0.4, 0.6, 0.7], "val_accuracy": [0.35, 0.5, 0.55],
}


def test_history_display_draws_train_and_validation_side_by_side():
    display = TrainingHistoryDisplay.from_history(HISTORY)
    assert [ax.get_title() for ax in display.axes_] == ["Accuracy", "Loss"]
    assert display.figure_ is display.axes_[0].figure
    for (metric, split), line in display.lines_.items():
        key = metric if split == "train" else f"val_{metric}"
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(line.get_ydata(), HISTORY[key])
        assert line.get_label() == split
    assert len(display.lines_) == 4


def test_history_display_one_metric_on_given_axes():
    fig, ax = plt.subplots()
    display = TrainingHistoryDisplay.from_history(HISTORY, metrics="loss", ax=ax)
    assert display.axes_[0] is ax and display.figure_ is fig
    assert sorted(display.lines_) == [("loss", "train"), ("loss", "validation")]
    with pytest.raises(ValueError, match="one Axes per metric"):
        TrainingHistoryDisplay.from_history(HISTORY, ax=ax)
    with pytest.raises(ValueError, match=r"no values for \['auc'\].*holds"):
        TrainingHistoryDisplay.from_history(HISTORY, metrics=("auc",))
    # Without validation data only the training curve is drawn.
    display = TrainingHistoryDisplay.from_history({"loss": [1.0, 0.5]}, metrics="loss")
    assert list(display.lines_) == [("loss", "train")]


def test_learning_curves_of_a_fitted_pipeline(fitted_pipeline):
    history = fitted_pipeline.named_steps["clf"].history_
    display = plot_learning_curves(fitted_pipeline)
    np.testing.assert_allclose(display.lines_[("accuracy", "validation")].get_ydata(),
                               history["val_accuracy"])
    np.testing.assert_allclose(display.lines_[("loss", "train")].get_ydata(), history["loss"])
    with pytest.raises(ValueError, match="no training history"):
        plot_learning_curves(object())


def test_confusion_matrix_of_a_fitted_pipeline(fitted_pipeline, sample3):
    X, y = sample3.data, sample3.target
    display = plot_confusion_matrix(fitted_pipeline, X, y)
    assert isinstance(display, ConfusionMatrixDisplay)
    expected = confusion_matrix(y, fitted_pipeline.predict(X), labels=CLASSES)
    np.testing.assert_array_equal(display.confusion_matrix, expected)
    assert list(display.display_labels) == ["angry", "happy", "sad"]
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["angry", "happy", "sad"]
    assert display.ax_.get_ylabel() == "True label"

    normalised = plot_confusion_matrix(fitted_pipeline, X, y, normalize="true")
    np.testing.assert_allclose(normalised.confusion_matrix.sum(axis=1), 1.0)
    np.testing.assert_allclose(normalised.confusion_matrix,
                               expected / expected.sum(axis=1, keepdims=True))
    assert "normalised" in normalised.ax_.get_title()
    with pytest.raises(ValueError, match="normalize must be one of"):
        plot_confusion_matrix(fitted_pipeline, X, y, normalize="rows")


def test_fer2013_codes_are_shown_as_emotion_names(predictions):
    from ferkit.plotting import confusion_matrix_from_predictions

    y, proba = predictions
    codes = np.array([0, 3, 4])  # angry, happy, sad
    y_codes = codes[np.searchsorted(CLASSES, y)]
    display = confusion_matrix_from_predictions(y_codes, proba, codes)
    assert list(display.display_labels) == ["angry", "happy", "sad"]
    display = RocCurvesDisplay.from_predictions(y_codes, proba, codes)
    assert display.display_labels == ["angry", "happy", "sad"]


def test_roc_curves_hold_sklearn_values(predictions):
    y, proba = predictions
    display = RocCurvesDisplay.from_predictions(y, proba, CLASSES)
    assert display.display_labels == ["angry", "happy", "sad"]
    assert len(display.curve_displays_) == 3
    for i, name in enumerate(CLASSES):
        fpr, tpr, _ = roc_curve(y == name, proba[:, i])
        np.testing.assert_allclose(display.fpr[i], fpr)
        np.testing.assert_allclose(display.tpr[i], tpr)
        np.testing.assert_allclose(display.curve_displays_[i].line_.get_xdata(), fpr)
        assert display.curve_displays_[i].line_.get_label().startswith(name)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    expected = [f"{n} (AUC = {a:.2f})" for n, a in zip(CLASSES, display.roc_auc, strict=True)]
    assert legend[:3] == expected
    assert "Chance level" in legend[-1]
    assert all(0.5 < auc <= 1 for auc in display.roc_auc)


def test_precision_recall_curves_hold_sklearn_values(predictions):
    y, proba = predictions
    display = PrecisionRecallCurvesDisplay.from_predictions(y, proba, CLASSES)
    for i, name in enumerate(CLASSES):
        precision, recall, _ = precision_recall_curve(y == name, proba[:, i])
        np.testing.assert_allclose(display.precision[i], precision)
        np.testing.assert_allclose(display.recall[i], recall)
        assert display.average_precision[i] == pytest.approx(
            average_precision_score(y == name, proba[:, i]))
        assert display.prevalence[i] == pytest.approx(1 / 3)
        np.testing.assert_allclose(display.curve_displays_[i].line_.get_ydata(), precision)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert [text.split(" (")[0] for text in legend] == ["angry", "happy", "sad"]


def test_one_vs_rest_leaves_out_a_class_missing_from_y(predictions):
    y, proba = predictions
    keep = y != "sad"
    display = RocCurvesDisplay.from_predictions(y[keep], proba[keep], CLASSES)
    assert display.display_labels == ["angry", "happy"]
    with pytest.raises(ValueError, match="at least two classes"):
        RocCurvesDisplay.from_predictions(y[y == "sad"], proba[y == "sad"], CLASSES)


def test_curves_and_reliability_from_a_fitted_pipeline(fitted_pipeline, sample3):
    X, y = sample3.data, sample3.target
    proba = fitted_pipeline.predict_proba(X)
    roc = plot_roc_curves(fitted_pipeline, X, y)
    fpr, _, _ = roc_curve(y == "happy", proba[:, 1])
    np.testing.assert_allclose(roc.fpr[1], fpr)
    assert "FacialExpressionClassifier" in roc.ax_.get_title()
    pr = plot_precision_recall_curves(fitted_pipeline, X, y)
    assert pr.display_labels == ["angry", "happy", "sad"]
    reliability = plot_reliability_diagram(fitted_pipeline, X, y)
    assert reliability.ece == pytest.approx(expected_calibration_error(y, proba, CLASSES))


def test_reliability_diagram_is_top_label_and_matches_the_ece(predictions):
    y, proba = predictions
    display = ReliabilityDisplay.from_predictions(y, proba, CLASSES, name="model")
    confidence = proba.max(axis=1)
    correct = CLASSES[proba.argmax(axis=1)] == y
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=15)
    np.testing.assert_allclose(display.prob_true, prob_true)
    np.testing.assert_allclose(display.prob_pred, prob_pred)
    np.testing.assert_allclose(display.line_.get_xdata(), prob_pred)
    np.testing.assert_allclose(display.line_.get_ydata(), prob_true)
    assert display.counts.sum() == len(y) and len(display.counts) == 15
    assert display.ece == pytest.approx(expected_calibration_error(y, proba, CLASSES))
    assert display.line_.get_label() == f"model (ECE = {display.ece:.3f})"
    heights = [bar.get_height() for bar in display.bars_]
    np.testing.assert_allclose(heights, display.counts / len(y))
    assert display.ax_.get_xlabel() == "Mean top-label confidence"


def test_face_grid_titles_and_colours():
    images = np.stack([np.full((48, 48), v, dtype=np.uint8) for v in (0, 100, 200)])
    display = FaceGridDisplay(images, ["happy", "sad", "sad"], ["happy", "happy", "sad"]).plot()
    titles = [ax.get_title() for ax in display.axes_[:3]]
    assert titles == ["true: happy\npred: happy", "true: sad\npred: happy",
                      "true: sad\npred: sad"]
    colours = [to_rgba(ax.title.get_color()) for ax in display.axes_[:3]]
    assert colours[1] == to_rgba("tab:red") and colours[0] == colours[2] == to_rgba("black")
    np.testing.assert_array_equal(display.images_[1].get_array(), images[1])
    assert len(display.axes_) == 4  # a 2x2 grid; the spare Axes is hidden
    assert not display.axes_[3].axison


def test_face_grid_from_predictions_selects_errors(sample3):
    y = sample3.target
    y_pred = np.where(np.arange(len(y)) % 10 == 0, "sad", y)
    wrong = np.flatnonzero(y != y_pred)
    display = FaceGridDisplay.from_predictions(sample3.data, y, y_pred, n_faces=6,
                                               errors_only=True, random_state=0)
    assert len(display.images_) == 6
    for ax, image in zip(display.axes_, display.images_, strict=False):
        true, pred = (line.split(": ")[1] for line in ax.get_title().splitlines())
        assert true != pred
        # The face drawn is one of the wrongly predicted faces, reshaped to 48x48.
        assert any(np.array_equal(image.get_array(), sample3.images[i]) for i in wrong)
    with pytest.raises(ValueError, match="n_faces"):
        FaceGridDisplay.from_predictions(sample3.data, y, y, n_faces=0)
    with pytest.raises(ValueError, match="no wrong predictions"):
        FaceGridDisplay.from_predictions(sample3.data, y, y, errors_only=True)


def test_plot_faces_from_a_fitted_pipeline(fitted_pipeline, sample3):
    display = plot_faces(fitted_pipeline, sample3.images[:5], sample3.target[:5], n_faces=5)
    predicted = fitted_pipeline.predict(sample3.images[:5])
    for ax, true, pred in zip(display.axes_, sample3.target[:5], predicted, strict=False):
        assert ax.get_title() == f"true: {true}\npred: {pred}"


def test_save_figures_writes_pngs_without_pyplot(fitted_pipeline, sample3, tmp_path):
    X, y = sample3.data[::3], sample3.target[::3]
    open_figures = plt.get_fignums()
    paths = save_figures(fitted_pipeline, X, y, tmp_path / "pictures")
    assert list(paths) == list(FIGURES)
    assert "faces" not in paths  # pictures of people only when asked
    for name, path in paths.items():
        assert path == tmp_path / "pictures" / f"{name}.png"
        image = plt.imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert plt.get_fignums() == open_figures
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == sorted(
        f"{n}.png" for n in FIGURES)

    proba = fitted_pipeline.predict_proba(X)
    paths = save_figures(fitted_pipeline, X, y, tmp_path / "faces", figures=["faces"],
                         y_proba=proba, format="svg")
    assert list(paths) == ["faces"] and paths["faces"].read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match=r"Unknown figure\(s\) \['roc'\]"):
        save_figures(fitted_pipeline, X, y, tmp_path, figures=["roc"])
    with pytest.raises(ValueError, match="one column per class"):
        save_figures(fitted_pipeline, X, y, tmp_path, y_proba=proba[:, :2])


def test_importing_plotting_and_report_stays_light():
    code = (
        "import sys, ferkit.plotting, ferkit.metrics; "
        "heavy = [m for m in ('matplotlib', 'tensorflow', 'keras') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
