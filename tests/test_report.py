"""ferkit.report and the expected calibration error, checked against scikit-learn and by hand."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

import ferkit
from ferkit.metrics import ClassificationReport, expected_calibration_error, top_label_bins


class FixedProbaClassifier(ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities the test chooses, so results can be worked out by hand.

    ``X`` holds row indices into ``proba``.
    """

    def __init__(self, proba=None, classes=None):
        self.proba = proba
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        return self

    def predict_proba(self, X):
        return np.asarray(self.proba, dtype=float)[np.asarray(X, dtype=int).ravel()]

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _hand_made():
    """Nine faces of three emotions with probabilities chosen by hand."""
    classes = np.array(["angry", "happy", "sad"], dtype=object)
    proba = np.array([
        [0.70, 0.20, 0.10],  # angry  -> angry
        [0.50, 0.40, 0.10],  # angry  -> angry
        [0.30, 0.60, 0.10],  # angry  -> happy
        [0.10, 0.80, 0.10],  # happy  -> happy
        [0.20, 0.70, 0.10],  # happy  -> happy
        [0.05, 0.90, 0.05],  # happy  -> happy
        [0.20, 0.20, 0.60],  # sad    -> sad
        [0.40, 0.20, 0.40],  # sad    -> angry (tie broken towards the first class)
        [0.10, 0.30, 0.60],  # sad    -> sad
    ])
    y = np.array(["angry"] * 3 + ["happy"] * 3 + ["sad"] * 3, dtype=object)
    model = FixedProbaClassifier(proba, classes).fit()
    return model, np.arange(9).reshape(-1, 1), y


def test_report_matches_sklearn_metrics():
    model, X, y = _hand_made()
    result = ferkit.report(model, X, y)
    y_pred = model.predict(X)
    precision, recall, f1, support = precision_recall_fscore_support(y, y_pred)

    assert isinstance(result, ClassificationReport)
    assert list(result.target_names) == ["angry", "happy", "sad"]
    np.testing.assert_allclose(result.precision, precision)
    np.testing.assert_allclose(result.recall, recall)
    np.testing.assert_allclose(result.f1, f1)
    np.testing.assert_array_equal(result.support, support)
    np.testing.assert_array_equal(result.y_pred, y_pred)
    np.testing.assert_array_equal(result.confusion_matrix, confusion_matrix(y, y_pred))
    assert result.accuracy == pytest.approx(accuracy_score(y, y_pred))
    assert result.macro_f1 == pytest.approx(f1_score(y, y_pred, average="macro"))
    assert result.weighted_f1 == pytest.approx(f1_score(y, y_pred, average="weighted"))
    # And by hand: 7 of 9 right; angry's precision is 2/3 (it also took a sad face).
    assert result.accuracy == pytest.approx(7 / 9)
    assert result.precision[0] == pytest.approx(2 / 3)
    assert result.n_samples == 9
    # Keys are attributes too, as in any Bunch.
    assert result["ece"] == result.ece


def test_report_ece_hand_computed():
    model, X, y = _hand_made()
    # Confidences 0.7 0.5 0.6 0.8 0.7 0.9 0.6 0.4 0.6; right, right, wrong, right x4, wrong,
    # right. With 15 bins (width 1/15): {0.4}, {0.5}, {0.6 x3}, {0.7 x2}, {0.8}, {0.9}.
    gaps = [
        abs(0 - 0.4) * 1,              # sad -> angry at 0.4: wrong
        abs(1 - 0.5) * 1,
        abs(2 / 3 - 0.6) * 3,          # two of three right at 0.6
        abs(1 - 0.7) * 2,
        abs(1 - 0.8) * 1,
        abs(1 - 0.9) * 1,
    ]
    assert ferkit.report(model, X, y).ece == pytest.approx(sum(gaps) / 9)


def test_ece_known_value_and_perfect_calibration():
    classes = ["a", "b"]
    # 10 faces at confidence 0.8 with 6 right (gap 0.2), 10 at 0.95 all right (gap 0.05).
    proba = np.array([[0.8, 0.2]] * 10 + [[0.95, 0.05]] * 10)
    y = np.array(["a"] * 6 + ["b"] * 4 + ["a"] * 10)
    assert expected_calibration_error(y, proba, classes) == pytest.approx(0.5 * 0.2 + 0.5 * 0.05)
    # Perfectly calibrated: 0.75 confidence, 3 of 4 right.
    proba = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(["a", "a", "a", "b"], proba, classes) == pytest.approx(0)
    # Always right with full confidence, and always wrong with full confidence.
    assert expected_calibration_error(["a"], [[1.0, 0.0]], classes) == pytest.approx(0)
    assert expected_calibration_error(["b"], [[1.0, 0.0]], classes) == pytest.approx(1)


def test_ece_bins_are_right_closed_and_match_sklearn():
    classes = ["a", "b"]
    # With 4 bins the edges 0.25/0.5/0.75 are exact: 0.5 is in (0.25, 0.5], 0.75 in (0.5, 0.75].
    proba = np.array([[0.5, 0.5], [0.75, 0.25], [0.76, 0.24], [1.0, 0.0]])
    counts, confidence, accuracy = top_label_bins(["a", "b", "a", "a"], proba, classes, n_bins=4)
    np.testing.assert_array_equal(counts, [0, 1, 1, 2])
    np.testing.assert_allclose(confidence[1:], [0.5, 0.75, 0.88])
    np.testing.assert_allclose(accuracy[1:], [1.0, 0.0, 1.0])

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=300)
    y = rng.choice(np.array(["a", "b", "c"]), size=300)
    counts, confidence, accuracy = top_label_bins(y, proba, ["a", "b", "c"])
    correct = np.array(["a", "b", "c"])[proba.argmax(1)] == y
    prob_true, prob_pred = calibration_curve(correct, proba.max(1), n_bins=15)
    full = counts > 0
    np.testing.assert_allclose(accuracy[full], prob_true)
    np.testing.assert_allclose(confidence[full], prob_pred)


def test_report_on_a_pipeline_and_a_scikit_learn_classifier(fitted_pipeline, sample3):
    result = ferkit.report(fitted_pipeline, sample3.data, sample3.target)
    y_pred = fitted_pipeline.predict(sample3.data)
    assert result.support.sum() == len(sample3.target)
    np.testing.assert_array_equal(result.y_pred, y_pred)
    assert result.accuracy == pytest.approx(accuracy_score(sample3.target, y_pred))
    np.testing.assert_allclose(result.y_proba, fitted_pipeline.predict_proba(sample3.data))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.repeat([0, 3, 4], 40)  # FER2013 codes: angry, happy, sad
    X[:, 0] += y
    clf = LogisticRegression().fit(X, y)
    result = ferkit.report(clf, X, y)
    assert list(result.target_names) == ["angry", "happy", "sad"]
    np.testing.assert_array_equal(result.labels, [0, 3, 4])
    assert result.accuracy == pytest.approx(clf.score(X, y))


def test_report_prints_as_a_table_and_converts_to_a_frame():
    model, X, y = _hand_made()
    result = ferkit.report(model, X, y)
    text = str(result)
    lines = text.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[1].split() == ["angry", "0.667", "0.667", "0.667", "3"]
    assert "accuracy" in text and "0.778" in text
    assert f"expected calibration error (top-label, 15 bins): {result.ece:.3f}" in text
    assert lines[-1].split() == ["sad", "1", "0", "2"]  # a confusion-matrix row
    assert text in repr(result)

    frame = result.to_frame()
    assert frame.index.tolist() == ["angry", "happy", "sad"]
    assert frame.columns.tolist() == ["precision", "recall", "f1-score", "support"]
    np.testing.assert_allclose(frame["f1-score"], result.f1)
    assert frame.attrs["accuracy"] == result.accuracy
    assert frame.attrs["ece"] == result.ece

    clone = pickle.loads(pickle.dumps(result))
    assert isinstance(clone, ClassificationReport) and clone.accuracy == result.accuracy
    assert isinstance(copy.deepcopy(result), ClassificationReport)


def test_report_leaves_out_classes_neither_present_nor_predicted():
    classes = ["angry", "happy", "sad"]
    model = FixedProbaClassifier([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]], classes).fit()
    result = ferkit.report(model, [[0], [1]], ["angry", "happy"])
    assert list(result.target_names) == ["angry", "happy"]
    assert result.confusion_matrix.shape == (2, 2)
    assert result.macro_f1 == pytest.approx(f1_score(["angry", "happy"], ["angry", "happy"],
                                                     average="macro"))


@pytest.mark.parametrize(
    "y, match",
    [
        (["angry", "happy", "surprise"], r"does not know: \['surprise'\]"),
        (["angry", "happy"], "inconsistent numbers of samples"),
        ([], "inconsistent|empty"),
    ],
)
def test_report_bad_labels(y, match):
    model = FixedProbaClassifier([[0.9, 0.1]] * 3, ["angry", "happy"]).fit()
    with pytest.raises(ValueError, match=match):
        ferkit.report(model, [[0], [1], [2]], y)


def test_report_needs_a_fitted_probabilistic_classifier():
    with pytest.raises(ValueError, match="not fitted"):
        ferkit.report(FixedProbaClassifier([[1.0]], ["a"]), [[0]], ["a"])
    with pytest.raises(TypeError, match="no predict_proba"):
        ferkit.report(object(), [[0]], ["a"])
    model, X, y = _hand_made()
    with pytest.raises(ValueError, match="n_bins"):
        ferkit.report(model, X, y, n_bins=0)
