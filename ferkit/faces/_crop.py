"""FER2013-style face crops: the one place where detected faces are cut out of photos.

:func:`crop_faces` serves both :func:`ferkit.predict_image` (every face of a photo) and
:class:`~ferkit.preprocessing.FaceCropper` (the largest face of each photo).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit.faces._detect import BOX_COLUMNS, LANDMARK_COLUMNS
from ferkit.faces._io import read_image, resize, to_gray

#: Largest ``margin``: the crop is a square (1 + 2 * margin) times the face's side, padded
#: where it leaves the photo, so its size (and memory) grows with the square of the margin;
#: 5 frames a face in eleven times its width, far more than any use needs.
MAX_MARGIN = 5.0
#: Largest side of a crop: networks take 48 to a few hundred pixels, and a crop of 10**20
#: pixels a side would fail deep inside NumPy instead of naming ``size``.
MAX_SIDE = 4096
#: Default ``margin`` of every crop. MTCNN's box runs from the brows to the chin, about what
#: a FER2013 face shows: on PublicTest faces pasted into scenes (``benchmarks/
#: bench_photo_accuracy.py``) the shipped fer2013-7 scores best on the box's square itself
#: (0.679), and loses steadily with a wider frame (0.636 at 0.1, 0.584 at 0.2).
DEFAULT_MARGIN = 0.0


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
               limit: int | None = None, align: bool = True, boxes=None):
    """Read a photo, detect its faces (or take the given boxes) and crop each one.

    Parameters
    ----------
    image : str, path-like or array-like
        The photo, as :func:`ferkit.faces.read_image` reads it.
    detector : FaceDetector or None
        Grayscale image (and its pixels as read) -> boxes ``x, y, width, height, score``
        [, landmarks], largest first (see :func:`ferkit.faces.make_detector`). Not called
        when ``boxes`` is given.
    margin : float
        Border around each box, as a fraction of its side (see :func:`crop_face`).
    size : tuple of int
        ``(height, width)`` of the crops.
    name : str
        The photo's name in error messages.
    limit : int or None, default=None
        Crop only the first (largest) ``limit`` faces.
    align : bool, default=True
        Rotate each face whose box has eye landmarks so that the eyes are level.
    boxes : ndarray of float, shape (n_faces, 4 or more), or None
        The faces' boxes (checked by the caller), instead of detecting them.

    Returns
    -------
    gray : ndarray of uint8, shape (height, width)
        The photo in grayscale.
    boxes : ndarray of float, shape (n_faces, 5) or (n_faces, 15)
        The boxes, largest first (the given ones in their order).
    crops : ndarray of uint8, shape (n_faces, *size)
        The faces.
    """
    pixels = read_image(image, name=name)
    gray = to_gray(pixels, name=name)
    found = detector(gray, pixels) if boxes is None else boxes
    found = found[:limit]
    crops = np.empty((len(found), *size), dtype=np.uint8)
    for i, box in enumerate(found):
        crops[i] = _crop_face(gray, box, margin=margin, size=size, align=align)
    return gray, found, crops


@validate_params(
    {"gray": [np.ndarray], "box": ["array-like"],
     "margin": [Interval(Real, 0, MAX_MARGIN, closed="both")], "size": [tuple, list],
     "align": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def crop_face(gray: np.ndarray, box, *, margin: float = DEFAULT_MARGIN, size=(48, 48),
              align: bool = False) -> np.ndarray:
    """Cut one face out of a grayscale image, FER2013-style: square, with margin, resized.

    Parameters
    ----------
    gray : ndarray of uint8, shape (height, width)
        The image (see :func:`ferkit.faces.to_gray`).
    box : sequence of 4 or more numbers
        ``x, y, width, height`` of the face, optionally followed by the rest of a
        :func:`ferkit.detect_faces` row (``score``, then the landmarks).
    margin : float, default=0.0
        Border added on every side, as a fraction of the box's longer side; see
        :data:`DEFAULT_MARGIN` for how the default was chosen.
    size : tuple of int, default=(48, 48)
        ``(height, width)`` of the crop.
    align : bool, default=False
        Rotate the face about its box's centre so that its eyes are level, when ``box``
        carries the eye landmarks (values 6 to 9: ``left_eye_x, left_eye_y, right_eye_x,
        right_eye_y``). Without them the crop is not rotated.

    Returns
    -------
    ndarray of uint8, shape ``size``
        The face. Parts of the enlarged square that fall outside the image repeat its edge
        pixels, so faces at a border keep their proportions.
    """
    return _crop_face(gray, np.asarray(box, dtype=float), margin=margin, size=check_size(size),
                      align=align)


def _eye_angle(box) -> float:
    """Degrees the face is tilted by (eyes' slope), or 0 without finite eye landmarks."""
    if len(box) < 9:
        return 0.0
    left_x, left_y, right_x, right_y = (float(v) for v in box[5:9])
    if not all(math.isfinite(v) for v in (left_x, left_y, right_x, right_y)) or \
            right_x <= left_x:
        return 0.0  # missing, or eyes not in left-right order: a rotation would flip the face
    return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


#: Tilts below this many degrees are not corrected: a rotation resamples the face (slightly
#: blurring it) for a change no network notices.
_MIN_TILT = 2.0


def _square_region(gray, cx: float, cy: float, side: float) -> np.ndarray:
    """The square of ``side`` centred on ``(cx, cy)``, edge pixels repeated outside."""
    x0, y0 = round(cx - side / 2.0), round(cy - side / 2.0)
    x1, y1 = x0 + max(1, round(side)), y0 + max(1, round(side))
    height, width = gray.shape
    inner = gray[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    pad = ((max(0, -y0), max(0, y1 - height)), (max(0, -x0), max(0, x1 - width)))
    if any(p for pair in pad for p in pair):
        inner = np.pad(inner, pad, mode="edge")
    return np.ascontiguousarray(inner)


def _crop_face(gray, box, *, margin, size, align=False):
    # crop_faces' per-box call: its callers checked margin and size once for the photo.
    x, y, w, h = (float(v) for v in box[:4])
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    angle = _eye_angle(box) if align else 0.0
    if abs(angle) < _MIN_TILT:
        return resize(_square_region(gray, cx, cy, side), tuple(size))
    from PIL import Image

    # A square 1.5 times wider holds the rotated crop's corners (sqrt(2) would do), so no
    # corner is filled with black; rotating counter-clockwise by the eyes' clockwise slope
    # levels them.
    outer = _square_region(gray, cx, cy, side * 1.5)
    rotated = Image.fromarray(outer).rotate(angle, resample=Image.Resampling.BILINEAR)
    inner = round(side)
    start = (outer.shape[0] - inner) // 2
    cropped = np.asarray(rotated)[start:start + inner, start:start + inner]
    return resize(np.ascontiguousarray(cropped), tuple(size))


def center_crop(gray: np.ndarray, *, size=(48, 48)) -> np.ndarray:
    """The largest centred square of ``gray``, resized to ``size`` (for images of one face)."""
    height, width = gray.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return resize(np.ascontiguousarray(gray[top:top + side, left:left + side]), tuple(size))


def check_boxes(boxes, *, name: str = "boxes", allow_missing: bool = False) -> np.ndarray:
    """Face boxes given by a user as a float array ``x, y, width, height, score`` + landmarks.

    Parameters
    ----------
    boxes : pandas.DataFrame or array-like of shape (n_faces, 4)
        A table with columns ``x``, ``y``, ``width``, ``height`` (a :func:`ferkit.detect_faces`
        table, or any detector's output renamed; ``score`` and the landmark columns are kept
        when present, so faces can be aligned), or an array of ``x, y, width, height`` rows.
    name : str, default="boxes"
        The parameter's name in error messages.
    allow_missing : bool, default=False
        Let rows be all NaN (an image without a face).

    Returns
    -------
    ndarray of float, shape (n_faces, 5) or (n_faces, 15)
        The boxes, with a NaN score where none was given, and the landmarks when the table
        has all of them.

    Raises
    ------
    ValueError
        If the boxes have the wrong shape or columns, or a width or height that is not a
        positive finite number; the message names ``name``.
    """
    columns = getattr(boxes, "columns", None)
    if columns is not None:
        missing = [c for c in BOX_COLUMNS[:4] if c not in columns]
        if missing:
            raise ValueError(f"{name} must have the columns x, y, width, height; it lacks "
                             f"{missing}.")
        wanted = list(BOX_COLUMNS[:4])
        wanted += ["score"] if "score" in columns else []
        wanted += list(LANDMARK_COLUMNS) if set(LANDMARK_COLUMNS) <= set(columns) else []
        table = boxes[wanted]
    else:
        table = boxes
    try:
        array = np.asarray(table, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers (x, y, width, height): {exc}") from None
    if array.ndim == 1 and array.size == 4:
        array = array[None]
    if array.ndim != 2 or array.shape[1] < 4 or (columns is None and array.shape[1] != 4):
        raise ValueError(f"{name} must be a table with columns x, y, width, height or an "
                         f"array of shape (n_faces, 4); got shape {array.shape}.")
    missing_rows = np.isnan(array[:, :4]).all(axis=1) if allow_missing else \
        np.zeros(len(array), dtype=bool)
    present = array[~missing_rows, :4]
    if not np.isfinite(present).all() or (present[:, 2:4] <= 0).any():
        raise ValueError(f"{name} must have finite x, y and positive finite width, height"
                         + (" (or a row of NaN where there is no face)" if allow_missing else "")
                         + ".")
    if columns is None or "score" not in columns:
        array = np.column_stack([array[:, :4], np.full(len(array), np.nan), array[:, 4:]])
    return array
