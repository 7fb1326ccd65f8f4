"""Target encoding for ferkit networks: class labels <-> one-hot rows, and back from
probabilities to labels.

scikeras' ``target_encoder`` hook takes a scikit-learn transformer; this is ferkit's.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.multiclass import type_of_target


def check_one_kind(y) -> None:
    """Refuse labels that mix names and numbers, which NumPy cannot sort.

    Raises
    ------
    TypeError
        If ``y`` (an object array, or a list) holds strings beside
        numbers or other objects; the message names ``y`` and the types found.
    """
    if not hasattr(y, "dtype"):
        # A list: NumPy would turn ["happy", 3] into strings, hiding the mix.
        y = np.asarray(y, dtype=object)
    y = np.asarray(y)
    if y.dtype != object:
        return  # a NumPy string or number dtype holds one kind by construction
    kinds = {type(v) for v in y.ravel().tolist()}
    if len({issubclass(kind, str) for kind in kinds}) > 1:
        raise TypeError(
            f"y mixes labels of types {sorted(kind.__name__ for kind in kinds)}; "
            "FacialExpressionClassifier needs labels of one kind: emotion names ('happy') or "
            "integer codes (0-6), not both."
        )


class OneHotTargetEncoder(TransformerMixin, BaseEstimator):
    """Labels <-> one-hot rows, for a softmax network trained with categorical cross-entropy.

    Unlike scikeras' default encoder, binary problems are one-hot too, so every network has one
    softmax unit per class and ``label_smoothing`` works for any number of classes.
    """

    def __init__(self, classes=None):
        self.classes = classes

    def fit(self, y):
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. FacialExpressionClassifier needs one "
                "class label per sample: emotion names ('happy') or integer codes (0-6)."
            )
        labels = y if self.classes is None else self.classes
        check_one_kind(labels)
        self.classes_ = np.unique(labels)
        if self.classes_.size < 2:
            raise ValueError(
                "FacialExpressionClassifier needs at least 2 classes to train, but y holds one "
                f"class only: {self.classes_.tolist()[0]!r}."
            )
        self.n_classes_ = int(self.classes_.size)
        return self

    def transform(self, y):
        y = np.asarray(y)
        try:
            index = np.searchsorted(self.classes_, y)
        except TypeError:
            # NumPy cannot order strings against numbers: names in fit, codes here or back.
            raise TypeError(
                f"y holds labels of type {y.dtype} ({y.ravel()[:3].tolist()}...), but the "
                f"classifier was fitted on labels like {self.classes_[:3].tolist()}: use "
                "emotion names or integer codes throughout, not both."
            ) from None
        index = np.clip(index, 0, self.n_classes_ - 1)
        unseen = self.classes_[index] != y
        if unseen.any():
            raise ValueError(
                f"y contains label(s) not seen in fit: {sorted(set(y[unseen].tolist()))[:10]}; "
                f"the classifier knows {self.classes_.tolist()}."
            )
        return np.eye(self.n_classes_, dtype=np.float32)[index]

    def inverse_transform(self, y, return_proba=False):
        # float64 and renormalised: softmax in float32 sums to 1 only within ~1e-7.
        proba = np.asarray(y, dtype=np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        if return_proba:
            return proba
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata(self):
        return {
            "classes_": self.classes_,
            "n_classes_": self.n_classes_,
            "n_outputs_": 1,
            "n_outputs_expected_": 1,
        }
