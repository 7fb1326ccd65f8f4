"""PixelScaler: raw 0-255 intensities to the ranges neural networks train well on."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ferkit._validation import validate_pixels


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale raw pixel intensities, with optional standardisation.

    Works on flat rows or image tensors of any shape and keeps the shape.

    Parameters
    ----------
    method : {"unit", "image", "dataset"}, default="unit"
        ``"unit"`` divides by ``max_value`` (0-255 -> 0-1; stateless). ``"image"``
        standardises each image by its own mean and standard deviation (stateless; removes
        lighting differences between photos). ``"dataset"`` standardises with one mean and
        standard deviation learned in :meth:`fit` over all pixels of the training data.
    max_value : float, default=255.0
        Largest raw intensity. Input must lie in ``[0, max_value]``.
    eps : float, default=1e-6
        Added to standard deviations, so that flat (constant) images do not divide by zero.

    Attributes
    ----------
    n_features_in_ : int
        Number of values per sample seen in :meth:`fit` (for 2-D input).
    mean_ : float
        Mean of the unit-scaled training pixels (``method="dataset"`` only).
    scale_ : float
        Their standard deviation plus ``eps`` (``method="dataset"`` only).

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.preprocessing import PixelScaler
    >>> PixelScaler().fit_transform(np.array([[0, 51, 255]]))
    array([[0. , 0.2, 1. ]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"unit", "image", "dataset"})],
        # Finite: dividing by an infinite one would silently make every pixel 0.
        "max_value": [Interval(Real, 0, float("inf"), closed="neither")],
        "eps": [Interval(Real, 0, float("inf"), closed="left")],
    }

    def __init__(self, method="unit", max_value=255.0, eps=1e-6):
        self.method = method
        self.max_value = max_value
        self.eps = eps

    def _check(self, X, *, reset: bool):
        return validate_pixels(self, X, reset=reset, raw=True, max_value=self.max_value,
                               name="PixelScaler")

    def fit(self, X, y=None):
        """Check the pixel range and learn the dataset statistics (``method="dataset"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, channels])
            Raw pixel intensities in ``[0, max_value]``.
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
            The fitted transformer.
        """
        self._validate_params()
        X = self._check(X, reset=True)
        if self.method == "dataset":
            unit = X / self.max_value
            self.mean_ = float(unit.mean())
            self.scale_ = float(unit.std()) + self.eps
        return self

    def transform(self, X):
        """Scale ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, channels])
            Raw pixel intensities in ``[0, max_value]``.

        Returns
        -------
        ndarray of float32, same shape as X
            Scaled pixels.
        """
        X = self._check(X, reset=False)
        unit = (X / self.max_value).astype(np.float32)
        if self.method == "dataset":
            return ((unit - self.mean_) / self.scale_).astype(np.float32)
        if self.method == "image":
            axes = tuple(range(1, unit.ndim))
            mean = unit.mean(axis=axes, keepdims=True)
            std = unit.std(axis=axes, keepdims=True)
            return ((unit - mean) / (std + self.eps)).astype(np.float32)
        return unit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        # Keras computes in float32; every output is float32 whatever the input dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
