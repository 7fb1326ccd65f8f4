"""FER2013-style face crops: the one place where detected faces are cut out of photos.

:func:`crop_faces` serves both :func:`ferkit.predict_image` (every face of a photo) and
:class:`~ferkit.preprocessing.FaceCropper` (the largest face of each photo).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit.faces._io import resize, to_gray

#: Largest ``margin``: the crop is a square (1 + 2 * margin) times the face's side, padded
#: where it leaves the photo, so its size (and memory) grows with the square of the margin;
#: 5 frames a face in eleven times its width, far more than any use needs.
MAX_MARGIN = 5.0
#: Largest side of a crop: networks take 48 to a few hundred pixels, and a crop of 10**20
#: pixels a side would fail deep inside NumPy instead of naming ``size``.
MAX_SIDE = 4096


def check_size(size) -> tuple[int, int]:
    """``size`` as ``(height, width)``; a ValueError naming ``size`` unless both are ints in
    ``[1, MAX_SIDE]``."""
    size = tuple(size)
    if len(size) != 2 or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and 0 < s <= MAX_SIDE for s in size
    ):
        raise ValueError(f"size must be (height, width) with ints from 1 to {MAX_SIDE}; got "
                         f"{size!r}.")
    return size


def crop_faces(image, detector, *, margin: float, size: tuple[int, int], name: str,
               limit: int | None = None):
    """Read a photo, detect its faces and crop each one.

    Parameters
    ----------
    image : str, path-like or array-like
        The photo, as :func:`ferkit.faces.to_gray` reads it.
    detector : callable
        Grayscale image -> ``(n, 5)`` boxes ``x, y, width, height, score``, largest first
        (a :class:`~ferkit.faces._detect.LBPCascadeDetector`).
    margin : float
        Border around each box, as a fraction of its side (see :func:`crop_face`).
    size : tuple of int
        ``(height, width)`` of the crops.
    name : str
        The photo's name in error messages.
    limit : int or None, default=None
        Crop only the first (largest) ``limit`` faces.

    Returns
    -------
    gray : ndarray of uint8, shape (height, width)
        The photo in grayscale.
    boxes : ndarray of float, shape (n_faces, 5)
        The detector's boxes, largest first.
    crops : ndarray of uint8, shape (n_faces, *size)
        The faces.
    """
    gray = to_gray(image, name=name)
    boxes = detector(gray)[:limit]
    crops = np.empty((len(boxes), *size), dtype=np.uint8)
    for i, box in enumerate(boxes):
        crops[i] = _crop_face(gray, box, margin=margin, size=size)
    return gray, boxes, crops


@validate_params(
    {"gray": [np.ndarray], "box": ["array-like"],
     "margin": [Interval(Real, 0, MAX_MARGIN, closed="both")], "size": [tuple, list]},
    prefer_skip_nested_validation=True,
)
def crop_face(gray: np.ndarray, box, *, margin: float = 0.1, size=(48, 48)) -> np.ndarray:
    """Cut one face out of a grayscale image, FER2013-style: square, with margin, resized.

    Parameters
    ----------
    gray : ndarray of uint8, shape (height, width)
        The image (see :func:`ferkit.faces.to_gray`).
    box : sequence of 4 numbers
        ``x, y, width, height`` of the face.
    margin : float, default=0.1
        Border added on every side, as a fraction of the box's side. On FER2013's own faces
        the cascade's box is about 40 of the 48 pixels, centred, so 0.1 frames a photo's
        face the way the training data does.
    size : tuple of int, default=(48, 48)
        ``(height, width)`` of the crop.

    Returns
    -------
    ndarray of uint8, shape ``size``
        The face. Parts of the enlarged square that fall outside the image repeat its edge
        pixels, so faces at a border keep their proportions.
    """
    return _crop_face(gray, box, margin=margin, size=check_size(size))


def _crop_face(gray, box, *, margin, size):
    # crop_faces' per-box call: its callers checked margin and size once for the photo.
    x, y, w, h = (float(v) for v in box[:4])
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = round(cx - side / 2.0), round(cy - side / 2.0)
    x1, y1 = x0 + max(1, round(side)), y0 + max(1, round(side))
    height, width = gray.shape
    inner = gray[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    pad = ((max(0, -y0), max(0, y1 - height)), (max(0, -x0), max(0, x1 - width)))
    if any(p for pair in pad for p in pair):
        inner = np.pad(inner, pad, mode="edge")
    return resize(np.ascontiguousarray(inner), tuple(size))


def center_crop(gray: np.ndarray, *, size=(48, 48)) -> np.ndarray:
    """The largest centred square of ``gray``, resized to ``size`` (for images of one face)."""
    height, width = gray.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return resize(np.ascontiguousarray(gray[top:top + side, left:left + side]), tuple(size))
