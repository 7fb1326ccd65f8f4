"""Face detection with scikit-image's LBP frontal-face cascade.

The cascade (OpenCV's ``lbpcascade_frontalface``, shipped inside scikit-image) needs no
download. It reports raw windows without scores; :func:`_group_windows` merges overlapping
windows and uses their count as a confidence, as OpenCV's ``detectMultiScale`` does.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np

from ferkit.faces._io import _source_name, resize, to_gray

#: Columns of :func:`detect_faces`'s table, in order.
BOX_COLUMNS: tuple[str, ...] = ("x", "y", "width", "height", "score")

#: Side of the cascade's search window: smaller faces cannot be found.
_WINDOW = 24

#: Default options of :func:`detect_faces`, chosen on scikit-image's LFW subset (faces found),
#: its non-face pictures (false faces) and a 640x480 photo (time): a 1.5 step is 3x faster
#: than an exhaustive search, and with 3 neighbours finds nearly as many faces and fewer
#: false ones than the exhaustive search with 5.
DETECTOR_DEFAULTS: dict = {
    "min_size": None,
    "max_side": 640,
    "min_side": 96,
    "scale_factor": 1.1,
    "step_ratio": 1.5,
    "min_neighbors": 3,
}


@functools.lru_cache(maxsize=1)
def _cascade():
    """The LBP frontal-face cascade, loaded once per process."""
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def _iou_matrix(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise intersection-over-union and intersection-over-smaller of ``(x, y, w, h)``."""
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    iw = np.clip(np.minimum(x1[:, None], x1) - np.maximum(x0[:, None], x0), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1) - np.maximum(y0[:, None], y0), 0, None)
    inter = iw * ih
    area = boxes[:, 2] * boxes[:, 3]
    union = area[:, None] + area - inter
    return inter / union, inter / np.minimum(area[:, None], area)


def _group_windows(windows: np.ndarray, *, min_neighbors: int, overlap: float = 0.4):
    """Merge overlapping raw detections into faces.

    Windows overlapping by at least ``overlap`` (intersection over union) are linked, and each
    connected group becomes one face: the mean of its windows, scored by how many windows it
    has. Groups with fewer than ``min_neighbors`` windows are dropped, as are faces that lie
    mostly inside a face with at least as many windows (a nose or an eye found as a face).

    Returns
    -------
    ndarray of shape (n_faces, 5)
        ``x, y, width, height, score`` rows (float).
    """
    if len(windows) == 0:
        return np.empty((0, 5))
    from scipy.sparse.csgraph import connected_components

    iou, _ = _iou_matrix(windows)
    _, labels = connected_components(iou >= overlap, directed=False)
    faces = []
    for label in np.unique(labels):
        members = windows[labels == label]
        if len(members) >= min_neighbors:
            faces.append([*members.mean(axis=0), len(members)])
    if not faces:
        return np.empty((0, 5))
    faces = np.asarray(faces, dtype=float)
    _, inside = _iou_matrix(faces[:, :4])
    area = faces[:, 2] * faces[:, 3]
    keep = np.ones(len(faces), dtype=bool)
    for i in np.argsort(faces[:, 4], kind="stable"):
        rivals = (inside[i] >= 0.5) & keep & (np.arange(len(faces)) != i)
        stronger = rivals & (
            (faces[:, 4] > faces[i, 4]) | ((faces[:, 4] == faces[i, 4]) & (area > area[i]))
        )
        if stronger.any():
            keep[i] = False
    return faces[keep]


#: Largest size option (scikit-image's C code takes 32-bit ints) and largest ratio option.
_MAX_INT = 2**31 - 1
_MAX_RATIO = 1000.0


def _check_detector_params(params: dict) -> dict:
    """Validate keyword options of :func:`detect_faces`; returns them with defaults filled."""
    unknown = set(params) - set(DETECTOR_DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown face-detector option(s) {sorted(unknown)}; expected some of "
            f"{sorted(DETECTOR_DEFAULTS)}."
        )
    options = {**DETECTOR_DEFAULTS, **params}
    bounds = {"min_size": 1, "max_side": _WINDOW, "min_side": 0, "min_neighbors": 1}
    for name, low in bounds.items():
        value = options[name]
        if name == "min_size" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
        # scikit-image hands sizes to C code as 32-bit ints.
        if value > _MAX_INT:
            raise ValueError(f"{name} must be an int <= {_MAX_INT}; got {value!r}.")
    for name, low in (("scale_factor", 1.0), ("step_ratio", 1.0)):
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, Real) or not value >= low:
            raise ValueError(f"{name} must be a number >= {low:g}; got {value!r}.")
        # An infinite (or near-infinite) step sends scikit-image's window loop spinning.
        if not value <= _MAX_RATIO:
            raise ValueError(f"{name} must be a number <= {_MAX_RATIO:g}; got {value!r}.")
    if options["scale_factor"] == 1:
        raise ValueError("scale_factor must be greater than 1; got 1.")
    return options


class LBPCascadeDetector:
    """scikit-image's LBP frontal-face cascade with checked options, ready to run on photos.

    Every way into face detection (:func:`detect_faces`, :func:`ferkit.predict_image`,
    :class:`~ferkit.preprocessing.FaceCropper`, ``ferkit predict``) builds one of these from
    the user's options, so the options are checked in one place, once per call, and one
    detector serves a whole batch of photos.

    Parameters
    ----------
    **options
        Options of :func:`detect_faces` (``min_size``, ``max_side``, ``min_side``,
        ``scale_factor``, ``step_ratio``, ``min_neighbors``); the rest take
        :data:`DETECTOR_DEFAULTS`.

    Raises
    ------
    TypeError
        If an option is unknown.
    ValueError
        If an option's value is out of range; the message names it.
    """

    def __init__(self, **options):
        self.options = _check_detector_params(options)

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes ``(x, y, width, height, score)`` in ``gray``'s pixels, largest first."""
        return _detect_gray(gray, **self.options)


def _detect_gray(
    gray: np.ndarray,
    *,
    min_size: int | None,
    max_side: int,
    min_side: int,
    scale_factor: float,
    step_ratio: float,
    min_neighbors: int,
) -> np.ndarray:
    """Face boxes ``(x, y, width, height, score)`` in ``gray``'s pixels, largest first.

    Options are those of :func:`detect_faces`, already checked.
    """
    height, width = gray.shape
    # Work at a size where the cascade is quick (big photos) or can see a face at all (tiny
    # crops, where the face fills the frame and is barely the window's size).
    scale = min(1.0, max_side / max(height, width))
    if min(height, width) * scale < min_side:
        scale = min(min_side / min(height, width), max_side / max(height, width))
    work_shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    if min(work_shape) < _WINDOW:
        return np.empty((0, 5))
    work = resize(gray, work_shape)
    scale_y, scale_x = work_shape[0] / height, work_shape[1] / width
    smallest = _WINDOW
    if min_size is not None:
        smallest = max(_WINDOW, round(min_size * min(scale_y, scale_x)))
    if smallest > min(work_shape):
        return np.empty((0, 5))
    # intersection_score_threshold above 1 keeps scikit-image from merging windows itself, so
    # that the windows per face can be counted.
    raw = _cascade().detect_multi_scale(
        img=work.astype(np.float32) / np.float32(255.0),
        scale_factor=float(scale_factor),
        step_ratio=float(step_ratio),
        min_size=(smallest, smallest),
        max_size=work_shape,
        min_neighbor_number=1,
        intersection_score_threshold=2.0,
    )
    windows = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in raw], dtype=float)
    faces = _group_windows(windows.reshape(-1, 4), min_neighbors=min_neighbors)
    faces[:, [0, 2]] /= scale_x
    faces[:, [1, 3]] /= scale_y
    order = np.argsort(-(faces[:, 2] * faces[:, 3]), kind="stable")
    return faces[order]


def detect_faces(
    image,
    *,
    min_size: int | None = None,
    max_side: int = 640,
    min_side: int = 96,
    scale_factor: float = 1.1,
    step_ratio: float = 1.5,
    min_neighbors: int = 3,
):
    """Find the frontal faces in a photo.

    Uses scikit-image's LBP frontal-face cascade (OpenCV's ``lbpcascade_frontalface``, shipped
    with scikit-image: nothing is downloaded).

    Parameters
    ----------
    image : str, path-like or array-like
        Image file, or array of shape (height, width) or (height, width, channels): grayscale,
        RGB or RGBA, of any size and of type uint8, uint16 (16-bit), bool or float (see
        :func:`ferkit.faces.to_gray` for the units).
    min_size : int or None, default=None
        Smallest face side to look for, in the image's pixels; raising it makes big photos
        faster. None looks for faces as small as the cascade can see: 24 pixels at the size
        the photo is searched at (see ``max_side`` and ``min_side``).
    max_side : int, default=640
        Photos whose longer side is bigger are searched at this size (faster), and boxes are
        mapped back to the original pixels.
    min_side : int, default=96
        Photos whose shorter side is smaller are enlarged to it first, so that a face filling
        a small crop is bigger than the cascade's 24-pixel window.
    scale_factor : float, default=1.1
        Growth of the search window from one scale to the next (smaller: slower, finer).
    step_ratio : float, default=1.5
        Search step relative to the window's scale: 1 is exhaustive (about 3 times slower,
        and finds more windows per face, so raise ``min_neighbors`` with it).
    min_neighbors : int, default=3
        Overlapping raw detections a face needs to be kept. Higher values give fewer false
        faces and miss more real ones.

    Returns
    -------
    pandas.DataFrame
        One row per face, largest first, with integer columns ``x``, ``y`` (top-left corner,
        in the original image's pixels, ``x`` along the width), ``width``, ``height`` and
        ``score``: the number of overlapping raw detections merged into the face (the
        cascade gives no probability; a higher count means a surer face). Empty, with the
        same columns, when there is no face.

    Raises
    ------
    ValueError
        If the image cannot be read or is not an image array; the message names the file.

    See Also
    --------
    ferkit.predict_image : Detect the faces and predict their emotions.
    ferkit.preprocessing.FaceCropper : Largest face of each image as a 48x48 crop.

    Notes
    -----
    The cascade finds upright, roughly frontal faces. With the defaults it finds 78 of the 100
    faces of scikit-image's LFW subset (25x25 crops) and fires on 1 of its 100 non-face
    patches; on busy textures (gravel, foliage, cells under a microscope) and small
    emblems it can report false faces, usually small ones with low scores. Raise
    ``min_neighbors`` (or ``min_size``) to drop them, lower it to find more faces.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from ferkit import detect_faces
    >>> faces = detect_faces(astronaut())
    >>> faces.columns.tolist()
    ['x', 'y', 'width', 'height', 'score']
    >>> face = faces.iloc[0]
    >>> bool(150 < face.x + face.width / 2 < 250 and 80 < face.y + face.height / 2 < 160)
    True
    """
    detector = LBPCascadeDetector(
        min_size=min_size, max_side=max_side, min_side=min_side, scale_factor=scale_factor,
        step_ratio=step_ratio, min_neighbors=min_neighbors,
    )
    gray = to_gray(image, name=_source_name(image, None))
    return boxes_frame(detector(gray), gray.shape)


def boxes_frame(boxes: np.ndarray, shape: tuple[int, int]):
    """Float boxes as the documented integer table, clipped to the image."""
    import pandas as pd

    height, width = shape
    x = np.clip(np.rint(boxes[:, 0]), 0, width - 1)
    y = np.clip(np.rint(boxes[:, 1]), 0, height - 1)
    w = np.clip(np.rint(boxes[:, 2]), 1, width - x)
    h = np.clip(np.rint(boxes[:, 3]), 1, height - y)
    columns = [x, y, w, h, boxes[:, 4]]
    return pd.DataFrame(
        {name: np.asarray(col, dtype=np.int64) for name, col in zip(BOX_COLUMNS, columns,
                                                                     strict=True)}
    )
