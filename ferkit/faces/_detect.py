"""Face detection: MTCNN (the default) and scikit-image's LBP cascade, behind one interface.

Every way into face detection (:func:`detect_faces`, :func:`ferkit.predict_image`,
:class:`~ferkit.preprocessing.FaceCropper`, ``ferkit predict``) builds one detector object
with :func:`make_detector`, which checks the options in one place, once per call; the same
object then serves a whole batch of photos. Both detectors ship inside installed packages
(MTCNN's weights inside ferkit, the cascade inside scikit-image): nothing is downloaded.

- ``"mtcnn"``: three cascaded networks (:mod:`ferkit.faces._mtcnn`), face probabilities in
  [0, 1] and five landmarks per face. On ferkit's scene test set it finds every face with no
  false one, in about a third of the cascade's time (``benchmarks/bench_photos.py``).
- ``"lbp"``: OpenCV's ``lbpcascade_frontalface`` as scikit-image ships it. It stays for
  machines where TensorFlow cannot run a network (it needs only scikit-image) and for
  comparison; it misses more faces, reports more false ones and gives no landmarks. It reports
  raw windows without scores; :func:`_group_windows` merges overlapping windows and uses their
  count as a confidence, as OpenCV's ``detectMultiScale`` does.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np

from ferkit.faces._io import _source_name, image_batch, read_image, resize, to_gray, to_rgb8

#: Columns of :func:`detect_faces`'s table, in order.
BOX_COLUMNS: tuple[str, ...] = ("x", "y", "width", "height", "score")
#: Landmark columns, after :data:`BOX_COLUMNS`, for detectors that find landmarks. Left and
#: right are as seen in the image (the person's right eye is ``left_eye``).
LANDMARK_COLUMNS: tuple[str, ...] = tuple(
    f"{point}_{axis}" for point in ("left_eye", "right_eye", "nose", "mouth_left",
                                    "mouth_right") for axis in ("x", "y")
)
#: The detectors :func:`detect_faces` knows, the default first.
DETECTORS: tuple[str, ...] = ("mtcnn", "lbp")

#: Side of the cascade's search window: smaller faces cannot be found.
_WINDOW = 24
#: Smallest face MTCNN's proposal network sees (its cell), in the pixels it searches.
_MTCNN_CELL = 12

#: Default options of each detector. MTCNN's ``min_confidence`` of 0.9 keeps every face of
#: the scene test set (``tests/_scenes.py``) and drops the false faces found at 0.7-0.87 (the
#: astronaut's shoulder badge scores 0.87); ``max_side`` keeps a 12-megapixel photo's search
#: near a 640x480 one's cost x4; ``min_side`` enlarges small crops so their face is well above
#: the 12-pixel cell. The cascade's were chosen on scikit-image's LFW subset (faces found), its
#: non-face pictures (false faces) and a 640x480 photo (time): a 1.5 step is 3x faster than an
#: exhaustive search, and with 3 neighbours finds nearly as many faces and fewer false ones
#: than the exhaustive search with 5.
DETECTOR_DEFAULTS: dict[str, dict] = {
    "mtcnn": {"min_confidence": 0.9, "min_size": 20, "max_side": 1280, "min_side": 64},
    "lbp": {"min_size": None, "max_side": 640, "min_side": 96, "scale_factor": 1.1,
            "step_ratio": 1.5, "min_neighbors": 3},
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

#: Each option's kind and lowest value; integers also stop at ``_MAX_INT``, ratios at
#: ``_MAX_RATIO``, probabilities at 1.
_OPTION_BOUNDS: dict[str, dict[str, tuple[str, float]]] = {
    "mtcnn": {"min_confidence": ("probability", 0.0), "min_size": ("int", _MTCNN_CELL),
              "max_side": ("int", _MTCNN_CELL), "min_side": ("int", 0)},
    "lbp": {"min_size": ("int", 1), "max_side": ("int", _WINDOW), "min_side": ("int", 0),
            "scale_factor": ("ratio", 1.0), "step_ratio": ("ratio", 1.0),
            "min_neighbors": ("int", 1)},
}


def _check_option(name: str, value, kind: str, low: float) -> None:
    """A ValueError naming the option unless ``value`` is of ``kind`` and in range."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
        # scikit-image hands sizes to C code as 32-bit ints.
        if value > _MAX_INT:
            raise ValueError(f"{name} must be an int <= {_MAX_INT}; got {value!r}.")
        return
    high = 1.0 if kind == "probability" else _MAX_RATIO
    if isinstance(value, bool) or not isinstance(value, Real) or not low <= value <= high:
        # An infinite (or near-infinite) step sends scikit-image's window loop spinning.
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}; got {value!r}.")


def _check_detector_params(detector, params: dict) -> dict:
    """Validate a detector's name and options; returns the options with defaults filled."""
    if not isinstance(detector, str) or detector not in DETECTORS:
        raise ValueError(f"detector must be one of {list(DETECTORS)} or a detector from "
                         f"ferkit.faces.make_detector; got {detector!r}.")
    bounds = _OPTION_BOUNDS[detector]
    unknown = set(params) - set(bounds)
    if unknown:
        others = {name for other, known in _OPTION_BOUNDS.items() if other != detector
                  for name in known} & unknown
        hint = (f" ({sorted(others)} belong to another detector: see "
                "ferkit.faces.DETECTOR_DEFAULTS)") if others else ""
        raise TypeError(
            f"unknown option(s) {sorted(unknown)} for detector={detector!r}; expected some "
            f"of {sorted(bounds)}{hint}."
        )
    options = {**DETECTOR_DEFAULTS[detector], **params}
    for name, (kind, low) in bounds.items():
        if options[name] is None and name == "min_size" and detector == "lbp":
            continue
        _check_option(name, options[name], kind, low)
    if detector == "lbp" and options["scale_factor"] == 1:
        raise ValueError("scale_factor must be greater than 1; got 1.")
    return options


def _work_scale(shape: tuple[int, int], max_side: int, min_side: int) -> float:
    """The factor a photo is searched at: big photos shrunk to ``max_side`` (quick), small
    ones enlarged to ``min_side`` (a face filling a small crop must exceed the detector's
    smallest window)."""
    height, width = shape
    scale = min(1.0, max_side / max(height, width))
    if min(height, width) * scale < min_side:
        scale = min(min_side / min(height, width), max_side / max(height, width))
    return scale


class FaceDetector:
    """A face detector with checked options, ready to run on photos (the common interface).

    Build one with :func:`make_detector`. Calling it with a grayscale photo (and, optionally,
    the photo's pixels as read, for detectors that use colour) returns an array of boxes
    ``x, y, width, height, score``, then the :data:`LANDMARK_COLUMNS` when
    :attr:`landmarks` is true, in the photo's pixels, largest face first.
    """

    #: Name of the detector, one of :data:`DETECTORS`.
    name: str = ""
    #: Whether the boxes carry five landmarks (eyes, nose, mouth corners).
    landmarks: bool = False

    def __init__(self, **options):
        self.options = _check_detector_params(self.name, options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    def __call__(self, gray: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError


def _largest_first(faces: np.ndarray) -> np.ndarray:
    return faces[np.argsort(-(faces[:, 2] * faces[:, 3]), kind="stable")]


class MTCNNDetector(FaceDetector):
    """MTCNN (Zhang et al. 2016; weights of the ``mtcnn`` package, MIT licence).

    Parameters
    ----------
    **options
        ``min_confidence``, ``min_size``, ``max_side``, ``min_side`` (see
        :func:`detect_faces`); the rest take :data:`DETECTOR_DEFAULTS` ``["mtcnn"]``.
    """

    name = "mtcnn"
    landmarks = True

    def __call__(self, gray: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        from ferkit.faces import _mtcnn

        opts = self.options
        # Colour helps the networks (they were trained on RGB photos).
        rgb = None if pixels is None else to_rgb8(pixels)
        if rgb is None:
            rgb = np.repeat(gray[..., None], 3, axis=2)
        scale = _work_scale(gray.shape, opts["max_side"], opts["min_side"])
        shape = (max(1, round(gray.shape[0] * scale)), max(1, round(gray.shape[1] * scale)))
        min_size = max(_MTCNN_CELL, opts["min_size"] * scale)
        if min(shape) < min_size:
            return np.empty((0, 5 + len(LANDMARK_COLUMNS)))
        if shape != gray.shape:
            from PIL import Image

            rgb = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(
                (shape[1], shape[0]), Image.Resampling.BILINEAR))
        faces = _mtcnn.detect(rgb, min_size=min_size, min_confidence=opts["min_confidence"])
        faces[:, [0, 2, 5, 7, 9, 11, 13]] *= gray.shape[1] / shape[1]
        faces[:, [1, 3, 6, 8, 10, 12, 14]] *= gray.shape[0] / shape[0]
        return _largest_first(faces)


class LBPCascadeDetector(FaceDetector):
    """scikit-image's LBP frontal-face cascade with checked options, ready to run on photos.

    Parameters
    ----------
    **options
        ``min_size``, ``max_side``, ``min_side``, ``scale_factor``, ``step_ratio``,
        ``min_neighbors`` (see :func:`detect_faces`); the rest take
        :data:`DETECTOR_DEFAULTS` ``["lbp"]``.

    Raises
    ------
    TypeError
        If an option is unknown.
    ValueError
        If an option's value is out of range; the message names it.
    """

    name = "lbp"

    def __call__(self, gray: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        """Face boxes ``(x, y, width, height, score)`` in ``gray``'s pixels, largest first."""
        return _detect_gray(gray, **self.options)


_DETECTOR_CLASSES = {"mtcnn": MTCNNDetector, "lbp": LBPCascadeDetector}


def make_detector(detector="mtcnn", **options) -> FaceDetector:
    """A face detector with checked options, to reuse over many photos.

    Parameters
    ----------
    detector : {"mtcnn", "lbp"} or FaceDetector, default="mtcnn"
        Which detector (see :func:`detect_faces`); a detector object is returned as it is.
    **options
        That detector's options (see :data:`DETECTOR_DEFAULTS`); none with a detector object.

    Returns
    -------
    FaceDetector
        Callable on a grayscale photo (see :class:`FaceDetector`).

    Raises
    ------
    TypeError
        If an option is unknown to the detector.
    ValueError
        If the detector is unknown or an option is out of range; the message names it.

    Examples
    --------
    >>> from ferkit.faces import make_detector
    >>> make_detector("lbp", min_neighbors=5).options["min_neighbors"]
    5
    """
    if isinstance(detector, FaceDetector):
        if options:
            raise TypeError(f"options {sorted(options)} cannot change a detector object "
                            f"({detector!r}); build a new one with make_detector.")
        return detector
    if not isinstance(detector, str) or detector not in _DETECTOR_CLASSES:
        _check_detector_params(detector, options)  # raises, naming detector
    return _DETECTOR_CLASSES[detector](**options)


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
    scale = _work_scale(gray.shape, max_side, min_side)
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


def detect_faces(image, *, detector="mtcnn", min_confidence: float | None = None, **options):
    """Find the faces in a photo, or in each photo of a list or folder.

    Parameters
    ----------
    image : str, path-like, array-like, or list of them
        Image file, or array of shape (height, width) or (height, width, channels): grayscale,
        RGB or RGBA, of any size and of type uint8, uint16 (16-bit), bool or float (see
        :func:`ferkit.faces.to_gray` for the units). A folder, or a list of files and arrays,
        is a batch: every image is searched with one detector (built once).
    detector : {"mtcnn", "lbp"} or FaceDetector, default="mtcnn"
        ``"mtcnn"``: MTCNN's three networks (weights shipped inside ferkit, converted from the
        ``mtcnn`` package, MIT licence; run with TensorFlow, imported on the first call):
        face probabilities and five landmarks. ``"lbp"``: scikit-image's LBP frontal-face
        cascade (OpenCV's ``lbpcascade_frontalface``): needs no TensorFlow, finds fewer faces,
        no landmarks. A detector from :func:`ferkit.faces.make_detector` is used as it is.
    min_confidence : float or None, default=None
        MTCNN only: the smallest face probability kept, from 0 to 1 (None: 0.9). Lower finds
        more faces, and more false ones.
    **options
        The detector's other options, defaults in :data:`ferkit.faces.DETECTOR_DEFAULTS`.
        Both: ``min_size`` (smallest face side to look for, in the image's pixels; raising it
        makes big photos faster), ``max_side`` (photos whose longer side is bigger are
        searched at this size, boxes mapped back), ``min_side`` (photos whose shorter side is
        smaller are enlarged to it first). ``"lbp"`` also: ``scale_factor`` (growth of the
        window from one scale to the next), ``step_ratio`` (search step relative to the
        window; 1 is exhaustive and 3x slower) and ``min_neighbors`` (overlapping raw windows
        a face needs: higher gives fewer false faces and misses more real ones).

    Returns
    -------
    pandas.DataFrame
        One row per face, largest first, with integer columns ``x``, ``y`` (top-left corner,
        in the original image's pixels, ``x`` along the width), ``width``, ``height``, then
        float ``score``: MTCNN's face probability, or for ``"lbp"`` the number of raw
        windows merged into the face. MTCNN adds ten float landmark columns
        (:data:`ferkit.faces.LANDMARK_COLUMNS`: ``left_eye_x``, ``left_eye_y``...,
        ``mouth_right_y``; left and right as seen in the image). Empty, with the same
        columns, when there is no face. A batch gives one table with a first column
        ``image``: the file's path, or the array's position in the list.

    Raises
    ------
    ValueError
        If an image cannot be read or is not an image array (the message names the file), a
        folder holds no image, or an option is out of range (the message names it).
    TypeError
        If an option is unknown to the detector.

    See Also
    --------
    ferkit.predict_image : Detect the faces and predict their emotions.
    ferkit.preprocessing.FaceCropper : Largest face of each image as a 48x48 crop.

    Notes
    -----
    MTCNN finds frontal and moderately turned faces from about 20 pixels wide (``min_size``).
    On ferkit's scene test set (scikit-image's LFW faces, 30-150 pixels wide, pasted into its
    photos) it finds every face with no false one; the cascade finds about nine in ten with
    a false face every few scenes. Faces smaller than ``min_size`` times the shrink factor of
    a photo larger than ``max_side`` are not found: raise ``max_side`` for crowds in big
    photos.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from ferkit import detect_faces
    >>> faces = detect_faces(astronaut())
    >>> faces.columns.tolist()[:5], len(faces)
    (['x', 'y', 'width', 'height', 'score'], 1)
    >>> face = faces.iloc[0]
    >>> bool(150 < face.x + face.width / 2 < 250 and 80 < face.y + face.height / 2 < 160)
    True
    >>> bool(face.score > 0.9 and face.left_eye_x < face.right_eye_x)
    True
    """
    if min_confidence is not None:
        options["min_confidence"] = min_confidence
    finder = make_detector(detector, **options)
    batch = image_batch(image)
    if batch is None:
        return _detect_one(finder, image, _source_name(image, None))
    import pandas as pd

    tables = []
    for key, name, source in batch:
        table = _detect_one(finder, source, name)
        table.insert(0, "image", pd.Series([key] * len(table), dtype=object))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _detect_one(finder: FaceDetector, image, name: str):
    pixels = read_image(image, name=name)
    gray = to_gray(pixels, name=name)
    return boxes_frame(finder(gray, pixels), gray.shape, landmarks=finder.landmarks)


def boxes_frame(boxes: np.ndarray, shape: tuple[int, int], *, landmarks: bool = False):
    """Float boxes as the documented table: integer boxes clipped to the image, float score
    and, with ``landmarks``, the landmark columns (rounded to a tenth of a pixel)."""
    import pandas as pd

    height, width = shape
    boxes = np.asarray(boxes, dtype=float)
    boxes = boxes.reshape(len(boxes), -1) if boxes.size else np.empty((0, 5))
    x = np.clip(np.rint(boxes[:, 0]), 0, width - 1)
    y = np.clip(np.rint(boxes[:, 1]), 0, height - 1)
    w = np.clip(np.rint(boxes[:, 2]), 1, width - x)
    h = np.clip(np.rint(boxes[:, 3]), 1, height - y)
    table = {name: np.asarray(col, dtype=np.int64)
             for name, col in zip(BOX_COLUMNS[:4], (x, y, w, h), strict=True)}
    table["score"] = boxes[:, 4] if boxes.shape[1] > 4 else np.full(len(boxes), np.nan)
    if landmarks:
        points = boxes[:, 5:15] if boxes.shape[1] >= 15 else np.full((len(boxes), 10), np.nan)
        table.update(zip(LANDMARK_COLUMNS, np.round(points, 1).T, strict=True))
    return pd.DataFrame(table)
