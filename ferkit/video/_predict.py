"""predict_video: every face of every analysed frame, tracked, with its emotion.

The photo path does the per-frame work: the same detector object, the same ``crop_faces``
and the same model checks as :func:`ferkit.predict_image`. What video adds is batching
(the faces of several frames go through the network in one call) and tracking.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit._validation import already_validated
from ferkit.faces._crop import DEFAULT_MARGIN, MAX_MARGIN, crop_faces
from ferkit.faces._detect import boxes_frame, make_detector
from ferkit.faces._predict import _FER2013_SHAPE, _check_model, _input_shape
from ferkit.video._reader import VideoReader
from ferkit.video._track import FaceTracker

#: Columns every predict_video table starts with; landmark columns (MTCNN's) come before
#: ``emotion``, the probability columns after it, as in predict_image's tables.
VIDEO_COLUMNS = ("frame", "time", "face", "x", "y", "width", "height", "score")


class _Batch:
    """Frames whose faces wait for one call of the network."""

    def __init__(self):
        self.frames = []  # (frame, time, gray shape, boxes)
        self.crops = []
        self.n_faces = 0

    def add(self, frame, time, shape, boxes, crops):
        self.frames.append((frame, time, shape, boxes))
        self.crops.append(crops)
        self.n_faces += len(boxes)


def _predict_batch(model, batch: _Batch, flat: bool) -> np.ndarray:
    """The probabilities of every face of the batch, in frame order, in one call."""
    crops = np.concatenate(batch.crops) if batch.crops else np.empty((0, 48, 48), np.uint8)
    if not len(crops):
        return np.empty((0, 0))
    faces = crops.reshape(len(crops), -1) if flat else crops.astype(np.float32)
    # The frames were checked when decoded; crops are 0-255 pixels by construction.
    with already_validated():
        return np.asarray(model.predict_proba(faces), dtype=float)


def _batch_table(model, classes, batch: _Batch, tracker: FaceTracker, *, flat, landmarks):
    """The batch's rows, tracked frame by frame in order (tracks depend on the order)."""
    import pandas as pd

    proba = _predict_batch(model, batch, flat)
    tables, start = [], 0
    for frame, time, shape, boxes in batch.frames:
        stop = start + len(boxes)
        ids, smoothed = tracker.update(boxes, proba[start:stop] if len(boxes) else None)
        start = stop
        if not len(boxes):
            continue
        table = boxes_frame(boxes, shape, landmarks=landmarks)
        table.insert(0, "face", ids)
        table.insert(0, "time", time)
        table.insert(0, "frame", frame)
        table["emotion"] = classes[np.argmax(smoothed, axis=1)]
        table[[str(c) for c in classes]] = smoothed
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else None


def _empty_table(classes, landmarks: bool):
    import pandas as pd

    table = boxes_frame(np.empty((0, 5)), (1, 1), landmarks=landmarks)
    table.insert(0, "face", np.empty(0, np.int64))
    table.insert(0, "time", np.empty(0, float))
    table.insert(0, "frame", np.empty(0, np.int64))
    table["emotion"] = pd.Series([], dtype=object)
    for name in classes:
        table[str(name)] = np.empty(0, float)
    return table


@validate_params(
    {"model": "no_validation", "source": "no_validation",
     "every": [Interval(Integral, 1, 10**9, closed="both")],
     "batch_size": [Interval(Integral, 1, 2**16, closed="both")],
     "margin": [Interval(Real, 0, MAX_MARGIN, closed="both")],
     "detector": "no_validation", "detector_params": [dict, None], "align": ["boolean"],
     "smooth": "no_validation", "duration": "no_validation", "on_truncated": "no_validation"},
    prefer_skip_nested_validation=False,
)
def predict_video(model, source, *, every=1, batch_size=64, margin: float = DEFAULT_MARGIN,
                  detector="mtcnn", detector_params: dict | None = None, align: bool = True,
                  smooth=None, duration=None, on_truncated="warn"):
    """Detect, track and classify the faces of a video file or a camera, frame by frame.

    Frames are streamed (memory stays flat however long the video is); the faces of several
    frames go through the network together, ``batch_size`` faces at a time.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``, as for
        :func:`ferkit.predict_image`.
    source : str, path-like or int
        A video file, or a camera index (see :class:`ferkit.video.VideoReader`).
    every : int, default=1
        Analyse every ``every``-th frame.
    batch_size : int, default=64
        Faces per call of the network (a frame's faces are never split).
    margin, detector, detector_params, align
        As in :func:`ferkit.predict_image`.
    smooth : None, float or int, default=None
        Per-track smoothing of the probabilities (see :class:`ferkit.video.FaceTracker`);
        ``emotion`` follows the smoothed probabilities.
    duration : float or None, default=None
        Stop after this many seconds of video (for a camera: otherwise until Ctrl-C).
    on_truncated : {"warn", "raise"}, default="warn"
        A damaged or truncated video: rows for the frames that decode, then a warning, or an
        error.

    Returns
    -------
    pandas.DataFrame
        One row per face per analysed frame: ``frame``, ``time`` (seconds, from the stream's
        timestamps), ``face`` (the track id), ``x``, ``y``, ``width``, ``height``, ``score``
        (and MTCNN's landmark columns), ``emotion`` and one probability column per class.
        Empty, with these columns, when no face is found.

    See Also
    --------
    ferkit.predict_image : The same for photos.
    ferkit.plotting.EmotionTimelineDisplay : The table as probabilities over time.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skimage.data import astronaut
    >>> from ferkit import make_fer_pipeline, predict_video
    >>> from ferkit.datasets import load_sample
    >>> from ferkit.video import write_video
    >>> faces = load_sample(emotions=("happy", "sad"))
    >>> model = make_fer_pipeline(filters=(4, 8), dense_units=(8,), epochs=1,
    ...                           random_state=0).fit(faces.data, faces.target)
    >>> photo = astronaut()[:256, 96:352]            # her face, moving right 4 pixels a frame
    >>> frames = [np.roll(photo, 4 * i, axis=1) for i in range(6)]
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
    >>> write_video(path, frames, fps=25)
    >>> table = predict_video(model, path, every=2)
    >>> table[["frame", "time", "face"]].values.tolist()
    [[0.0, 0.0, 0.0], [2.0, 0.08, 0.0], [4.0, 0.16, 0.0]]
    >>> table.columns.tolist()[-3:]
    ['emotion', 'happy', 'sad']
    """
    classes = _check_model(model)
    tracker = FaceTracker(smooth=smooth)  # checks smooth before the video is opened
    finder = make_detector(detector, **(detector_params or {}))
    shape = _input_shape(model)
    landmarks = finder.landmarks
    batch, tables = _Batch(), []
    with VideoReader(source, every=every, color="rgb", duration=duration,
                     on_truncated=on_truncated) as reader:
        for frame, time, rgb in reader:
            gray, boxes, crops = crop_faces(
                rgb, finder, margin=margin, size=shape or _FER2013_SHAPE,
                name=f"{reader.name}, frame {frame}", align=align)
            batch.add(frame, time, gray.shape, boxes, crops)
            if batch.n_faces >= batch_size:
                tables.append(_batch_table(model, classes, batch, tracker, flat=not shape,
                                           landmarks=landmarks))
                batch = _Batch()
        tables.append(_batch_table(model, classes, batch, tracker, flat=not shape,
                                   landmarks=landmarks))
    tables = [t for t in tables if t is not None]
    if not tables:
        return _empty_table(classes, landmarks)
    import pandas as pd

    return pd.concat(tables, ignore_index=True)
