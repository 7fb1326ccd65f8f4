"""HistogramEqualizer: even out the contrast of each face before classification."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ferkit._validation import validate_images, validate_pixels


class HistogramEqualizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Equalise the histogram of each image, globally or adaptively (CLAHE).

    Photos differ in lighting and contrast far more than a network can learn from 48x48
    faces; equalising each face spreads its intensities over the whole range, so dark,
    washed-out and well-lit faces look alike. Each image is equalised on its own, with
    :func:`skimage.exposure.equalize_hist` or :func:`skimage.exposure.equalize_adapthist`.

    Input and output are in the same units, raw intensities in ``[0, max_value]``, so the
    step goes anywhere before :class:`PixelScaler` (which expects raw 0-255 pixels) and the
    shape of the input (flat rows or images) is kept.

    Parameters
    ----------
    method : {"global", "clahe"}, default="global"
        ``"global"`` equalises the histogram of the whole image. ``"clahe"`` (contrast
        limited adaptive histogram equalisation) equalises tiles of the image with a
        contrast limit, which brings out local detail without amplifying noise as much.
    nbins : int, default=256
        Number of histogram bins for non-integer input; 8-bit input (whole numbers with
        ``max_value=255``) always gets one bin per intensity.
    clip_limit : float, default=0.01
        Contrast limit of ``"clahe"``, in (0, 1]; higher gives more contrast.
    kernel_size : int or None, default=None
        Tile side of ``"clahe"`` in pixels; None uses 1/8 of the image's height and width.
    image_shape : "auto" or tuple of int, default="auto"
        ``(height, width)`` of the images held in flat rows, needed by ``"clahe"``; ``"auto"``
        reads square rows as square images (2304 -> 48x48) and keeps image input as it is.
    max_value : float, default=255.0
        Largest raw intensity. Input must lie in ``[0, max_value]``; so does the output.

    Attributes
    ----------
    n_features_in_ : int
        Number of values per sample seen in :meth:`fit`.
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images, resolved in :meth:`fit`.

    See Also
    --------
    PixelScaler : Scale the equalised pixels for the network.
    FaceCropper : Faces from photos, ready to equalise.

    Notes
    -----
    Output is float32. Images with several channels are equalised channel by channel. An
    image of one constant intensity has no histogram to spread and is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.preprocessing import HistogramEqualizer
    >>> dim = np.array([[100, 110, 120, 130]])  # a low-contrast 2x2 image, as a flat row
    >>> HistogramEqualizer().fit_transform(dim)
    array([[ 63.75, 127.5 , 191.25, 255.  ]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"global", "clahe"})],
        # skimage makes an array of nbins for float images: 10**20 would fail inside NumPy.
        "nbins": [Interval(Integral, 2, 2**16, closed="both")],
        "clip_limit": [Interval(Real, 0, 1, closed="right")],
        "kernel_size": [Interval(Integral, 1, None, closed="left"), None],
        "image_shape": [StrOptions({"auto"}), tuple, list],
        "max_value": [Interval(Real, 0, float("inf"), closed="neither")],
    }

    def __init__(self, method="global", *, nbins=256, clip_limit=0.01, kernel_size=None,
                 image_shape="auto", max_value=255.0):
        self.method = method
        self.nbins = nbins
        self.clip_limit = clip_limit
        self.kernel_size = kernel_size
        self.image_shape = image_shape
        self.max_value = max_value

    def fit(self, X, y=None):
        """Check the parameters and the pixel range, and resolve the image shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, channels])
            Raw pixel intensities in ``[0, max_value]``.
        y : None
            Ignored.

        Returns
        -------
        self : HistogramEqualizer
            The fitted transformer.
        """
        self._validate_params()
        validate_images(self, X, reset=True, image_shape=self.image_shape, raw=True,
                        max_value=self.max_value)
        return self

    def transform(self, X):
        """Equalise each image of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, channels])
            Raw pixel intensities in ``[0, max_value]``.

        Returns
        -------
        ndarray of float32, same shape as X
            Equalised intensities in ``[0, max_value]``.
        """
        X = validate_pixels(self, X, reset=False, raw=True, max_value=self.max_value)
        from skimage import exposure

        images = X.reshape(len(X), *self.image_shape_)
        if self.max_value == 255 and np.array_equal(images, np.rint(images)):
            # 8-bit pixels (even when stored as floats): one histogram bin per intensity, as
            # scikit-image does for integer images, instead of bins between the image's
            # extremes that blur neighbouring intensities together.
            images = images.astype(np.uint8)
        else:
            images = images / self.max_value
        out = (X / self.max_value).astype(np.float32).reshape(images.shape)
        for i, image in enumerate(images):
            for c in range(image.shape[-1]):
                channel = image[..., c]
                if channel.min() == channel.max():
                    continue  # nothing to spread: keep the image as it is
                if self.method == "global":
                    out[i, ..., c] = exposure.equalize_hist(channel, nbins=self.nbins)
                else:
                    out[i, ..., c] = exposure.equalize_adapthist(
                        channel, kernel_size=self.kernel_size, clip_limit=self.clip_limit,
                        nbins=self.nbins,
                    )
        return (out * np.float32(self.max_value)).reshape(X.shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
