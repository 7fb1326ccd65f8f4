"""FaceCropper: photos of any size in, FER2013-style 48x48 grayscale faces out."""

from __future__ import annotations

import os
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ferkit.faces._crop import (
    DEFAULT_MARGIN,
    MAX_MARGIN,
    center_crop,
    check_boxes,
    check_size,
    crop_faces,
)
from ferkit.faces._detect import DETECTORS, FaceDetector, make_detector


def _as_batch(X) -> list:
    """The images of a batch, one entry each, without forcing them to one size."""
    if isinstance(X, str | os.PathLike):
        raise TypeError(
            f"FaceCropper transforms a batch of images; got a single path {str(X)!r}. Pass "
            "a list: [path]."
        )
    if isinstance(X, np.ndarray):
        if X.ndim not in (3, 4):
            raise ValueError(
                "FaceCropper takes a list of images (arrays of any size, or file paths) or an "
                "array of images of shape (n_images, height, width[, channels]); got an array "
                f"of shape {X.shape}. Wrap a single image in a list: [image]."
            )
        images = list(X)
    else:
        try:
            images = list(X)
        except TypeError:
            raise TypeError(
                "FaceCropper takes a list of images (arrays or file paths); got "
                f"{type(X).__name__}."
            ) from None
    if not images:
        raise ValueError("FaceCropper got an empty batch; pass at least one image.")
    return images


class FaceCropper(TransformerMixin, BaseEstimator):
    """Detect the largest face of each photo and crop it FER2013-style.

    Turns a batch of photos of any size (arrays or image files) into same-size grayscale
    faces, the input every ferkit classifier takes, so a pipeline
    ``FaceCropper -> ImageReshaper -> PixelScaler -> FacialExpressionClassifier`` predicts
    emotions from photos. Faces are found with MTCNN (or the detector you choose, see
    :func:`ferkit.detect_faces`), or taken from ``boxes``; rotated so their eyes are level
    (``align``), squared, enlarged by ``margin`` and resized to ``size``.

    The transformer is stateless: :meth:`fit` only checks the parameters, and it can be used
    without fitting.

    Parameters
    ----------
    margin : float, default=0.0
        Border added on every side of the face's box, as a fraction of its longer side, at
        most 5. The default frames MTCNN's faces the way the shipped models score best on
        (see :data:`ferkit.faces._crop.DEFAULT_MARGIN`).
    size : tuple of int, default=(48, 48)
        ``(height, width)`` of the crops.
    on_missing : {"raise", "center", "nan"}, default="raise"
        What to do with an image in which no face is found. ``"raise"``: a ValueError naming
        the image. ``"center"``: use the largest centred square of the image (for photos
        that are already faces, such as FER2013's own). ``"nan"``: a crop of NaN (the output
        is then float64, whether or not a face is missing).
    flatten : bool, default=False
        If True, return flat rows ``(n_images, height * width)`` instead of images.
    detector : {"mtcnn", "lbp"} or FaceDetector, default="mtcnn"
        The face detector (see :func:`ferkit.detect_faces`).
    detector_params : dict or None, default=None
        The detector's options (``min_confidence``, ``min_size``...; see
        :func:`ferkit.detect_faces`).
    align : bool, default=True
        Rotate each face so its eyes are level, where its box has eye landmarks (MTCNN's, or
        landmark columns in ``boxes``).
    boxes : pandas.DataFrame, array-like of shape (n_images, 4) or None, default=None
        Your own face boxes, one row per image of the batch, in its order: a table with
        columns ``x``, ``y``, ``width``, ``height`` (optionally the landmark columns of
        :func:`ferkit.detect_faces`) or an array of ``x, y, width, height`` rows; a row of NaN
        marks an image without a face (``on_missing`` applies). Nothing is detected then; the
        batch must have as many images as ``boxes`` has rows.

    Attributes
    ----------
    faces_found_ : ndarray of bool, shape (n_images,)
        For the last batch transformed, whether a face was found in each image.
    boxes_ : ndarray of float, shape (n_images, 4)
        For the last batch transformed, ``x, y, width, height`` of the face cropped from each
        image, in its own pixels (NaN where none was found).

    See Also
    --------
    ferkit.detect_faces : All the faces of one photo.
    ferkit.predict_image : Emotions of all the faces of one photo.

    Notes
    -----
    Images are read with :func:`ferkit.faces.to_gray`: RGB, RGBA, grayscale, 16-bit and
    palette images all work; file paths are read with Pillow. A file that cannot be read
    raises a ValueError naming it. The crops are raw 0-255 intensities, ``uint8`` (float64
    with ``on_missing="nan"``), as :class:`PixelScaler` expects.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from ferkit.preprocessing import FaceCropper
    >>> cropper = FaceCropper()
    >>> faces = cropper.fit_transform([astronaut()])
    >>> faces.shape, faces.dtype, cropper.faces_found_.tolist()
    ((1, 48, 48), dtype('uint8'), [True])
    """

    _parameter_constraints: dict = {
        "margin": [Interval(Real, 0, MAX_MARGIN, closed="both")],
        "size": [tuple, list],
        "on_missing": [StrOptions({"raise", "center", "nan"})],
        "flatten": ["boolean"],
        "detector": [StrOptions(set(DETECTORS)), FaceDetector],
        "detector_params": [dict, None],
        "align": ["boolean"],
        "boxes": ["array-like", None],
    }

    def __init__(self, *, margin=DEFAULT_MARGIN, size=(48, 48), on_missing="raise",
                 flatten=False, detector="mtcnn", detector_params=None, align=True,
                 boxes=None):
        self.margin = margin
        self.size = size
        self.on_missing = on_missing
        self.flatten = flatten
        self.detector = detector
        self.detector_params = detector_params
        self.align = align
        self.boxes = boxes

    def _check_params(self):
        """The crop size, and the detector (None) or the boxes (None) to find faces with."""
        self._validate_params()
        size = check_size(self.size)
        if self.boxes is not None:
            return size, None, check_boxes(self.boxes, allow_missing=True)
        return size, make_detector(self.detector, **(self.detector_params or {})), None

    def fit(self, X=None, y=None):
        """Check the parameters; there is nothing to learn.

        Parameters
        ----------
        X : list of images or None
            Ignored.
        y : None
            Ignored.

        Returns
        -------
        self : FaceCropper
            The transformer.
        """
        self._check_params()
        return self

    def transform(self, X):
        """Crop the largest face of each image.

        Parameters
        ----------
        X : list of array-like or paths, or ndarray of shape (n_images, height, width[, channels])
            Photos of any size: arrays (grayscale, RGB, RGBA; uint8, uint16, bool or float)
            or image file paths.

        Returns
        -------
        ndarray of shape (n_images, height, width), or (n_images, height * width) with ``flatten``
            One face per image, raw 0-255 intensities: uint8, or float64 with
            ``on_missing="nan"``.

        Raises
        ------
        ValueError
            If an image cannot be read, or has no face and ``on_missing="raise"``; the message
            names the image (its path, or its position in the batch).
        """
        size, detector, given = self._check_params()
        images = _as_batch(X)
        if given is not None and len(given) != len(images):
            raise ValueError(f"boxes has {len(given)} row(s) but X has {len(images)} image(s); "
                             "give one box per image (a row of NaN for no face).")
        nan = self.on_missing == "nan"
        crops = np.zeros((len(images), *size), dtype=np.float64 if nan else np.uint8)
        found = np.zeros(len(images), dtype=bool)
        boxes = np.full((len(images), 4), np.nan)
        for i, image in enumerate(images):
            name = str(image) if isinstance(image, str | os.PathLike) else f"image {i} of X"
            box = None
            if given is not None:
                box = given[i:i + 1] if np.isfinite(given[i, :4]).all() else given[:0]
            gray, faces, face_crops = crop_faces(image, detector, margin=self.margin, size=size,
                                                 name=name, limit=1, align=self.align,
                                                 boxes=box)
            if len(faces):
                found[i] = True
                boxes[i] = faces[0, :4]
                crops[i] = face_crops[0]
            elif self.on_missing == "raise":
                raise ValueError(
                    f"no face found in {name} (shape {gray.shape}). Use "
                    "FaceCropper(on_missing='center') for photos that are already faces, or "
                    "on_missing='nan' to mark them."
                )
            elif nan:
                crops[i] = np.nan
            else:
                crops[i] = center_crop(gray, size=size)
        self.faces_found_ = found
        self.boxes_ = boxes
        return crops.reshape(len(crops), -1) if self.flatten else crops

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        return tags
