"""ImageReshaper: flat pixel rows <-> image tensors."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ferkit._validation import as_images, check_pixel_array, validate_images, validate_pixels


class ImageReshaper(TransformerMixin, BaseEstimator):
    """Reshape flat pixel rows into image tensors, or images into flat rows.

    Stateless apart from remembering the shapes seen in :meth:`fit`, so that
    :meth:`inverse_transform` can undo :meth:`transform`.

    Parameters
    ----------
    image_shape : tuple of int or "auto", default=(48, 48)
        ``(height, width)`` or ``(height, width, channels)`` of one image. One entry may be
        -1 and is inferred, as with :func:`numpy.reshape`. ``"auto"`` keeps image input as
        it is and reads square flat rows as square images.
    flatten : bool, default=False
        If False, :meth:`transform` returns images of shape
        ``(n_samples, height, width, channels)`` (channels last, as Keras expects). If True it
        returns flat rows ``(n_samples, height * width * channels)``.

    Attributes
    ----------
    n_features_in_ : int
        Number of values per sample seen in :meth:`fit`.
    image_shape_ : tuple of int
        ``(height, width, channels)`` resolved in :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.preprocessing import ImageReshaper
    >>> X = np.zeros((5, 2304), dtype=np.uint8)
    >>> ImageReshaper().fit_transform(X).shape
    (5, 48, 48, 1)
    >>> ImageReshaper(flatten=True).fit_transform(np.zeros((5, 48, 48))).shape
    (5, 2304)
    """

    _parameter_constraints: dict = {
        "image_shape": [StrOptions({"auto"}), tuple, list],
        "flatten": ["boolean"],
    }

    def __init__(self, image_shape=(48, 48), flatten=False):
        self.image_shape = image_shape
        self.flatten = flatten

    def fit(self, X, y=None):
        """Resolve the image shape from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, channels])
            Pixel rows or images.
        y : None
            Ignored.

        Returns
        -------
        self : ImageReshaper
            The fitted transformer.
        """
        self._validate_params()
        validate_images(self, X, reset=True, image_shape=self.image_shape)
        return self

    def transform(self, X):
        """Reshape ``X`` to images (or to flat rows with ``flatten=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, channels])
            Pixel rows or images with the fitted number of values per sample.

        Returns
        -------
        ndarray of shape (n_samples, height, width, channels) or (n_samples, n_pixels)
            ``float32`` images, or flat rows when ``flatten`` is True.
        """
        X = validate_pixels(self, X, reset=False)
        images = as_images(X, self.image_shape_)
        return images.reshape(len(images), -1) if self.flatten else images

    def inverse_transform(self, X):
        """Undo :meth:`transform`: images back to flat rows, or flat rows back to images.

        Parameters
        ----------
        X : ndarray
            Output of :meth:`transform`.

        Returns
        -------
        ndarray
            Flat rows ``(n_samples, n_pixels)`` when ``flatten`` is False, else images
            ``(n_samples, height, width, channels)``.
        """
        check_is_fitted(self)
        X = check_pixel_array(X)
        if self.flatten:
            return as_images(X, self.image_shape_)
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1)

    def get_feature_names_out(self, input_features=None):
        """Pixel names ``pixel0 ... pixelN`` of the flat output (``flatten=True`` only).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the output names are positions in the image.

        Returns
        -------
        ndarray of str
            One name per output column.
        """
        check_is_fitted(self)
        if not self.flatten:
            raise AttributeError(
                "ImageReshaper outputs image tensors, not feature columns; "
                "get_feature_names_out is only defined with flatten=True."
            )
        return np.asarray([f"pixel{i}" for i in range(math.prod(self.image_shape_))], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        # Keras computes in float32; every output is float32 whatever the input dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
