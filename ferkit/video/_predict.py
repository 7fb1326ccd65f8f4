"""predict_video: every face of every analysed frame, tracked, with its emotion.

The photo path does the per-frame work: the same detector object, the same ``crop_faces``
and the same model checks as :func:`ferkit.predict_image`. What video adds is batching
(the faces of several frames go through the network in one call) and tracking.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit._validation import already_validated
from ferkit._workers import is_parallel, load_model, map_in_workers
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
        self.pixels = []  # the frames' RGB pixels, only when the caller draws on them
        self.n_faces = 0

    def add(self, frame, time, shape, boxes, crops, pixels=None):
        self.frames.append((frame, time, shape, boxes))
        self.crops.append(crops)
        if pixels is not None:
            self.pixels.append(pixels)
        self.n_faces += len(boxes)

    def full(self, batch_size: int) -> bool:
        # Frames count too, so that a long stretch without faces holds no more than
        # batch_size frames (and their pixels, when kept) before its rows are given.
        return self.n_faces >= batch_size or len(self.frames) >= batch_size


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


class VideoChunk(NamedTuple):
    """One batch of a :class:`VideoStream`.

    ``rows`` is a DataFrame of the batch's faces, in frame order, with predict_video's
    columns, or None when the batch has no face; ``frames`` holds ``(frame, time, rgb)`` for
    each analysed frame of the batch when the stream keeps pixels (``keep_pixels=True``),
    and is empty otherwise.
    """

    rows: object
    frames: list


class VideoStream:
    """predict_video's work as a stream: each batch's rows as soon as the network has them.

    Opening checks the model and options and opens the video (errors come then, before any
    frame); iterating yields a :class:`VideoChunk` per batch, in frame order, and closes the
    video at the end. ``predict_video`` concatenates the chunks; ``ferkit predict`` writes
    each as it comes, so an interrupted run keeps the rows done.

    A camera runs until ``duration`` or Ctrl-C: a KeyboardInterrupt while frames are read
    ends the stream (the faces already detected are still predicted, and ``interrupted`` is
    set). A file is read to its end; Ctrl-C propagates.

    Parameters are those of :func:`predict_video`, plus ``keep_pixels`` (give each chunk its
    frames' RGB pixels, to draw on) and ``on_frame`` (called with ``(frame, time)`` after each
    analysed frame is detected, for a progress bar).
    """

    def __init__(self, model, source, *, every=1, batch_size=64, margin=DEFAULT_MARGIN,
                 detector="mtcnn", detector_params=None, align=True, smooth=None,
                 duration=None, on_truncated="warn", keep_pixels=False, on_frame=None):
        self.model = model
        self.classes = _check_model(model)
        self.tracker = FaceTracker(smooth=smooth)  # checks smooth before the video is opened
        self.finder = make_detector(detector, **(detector_params or {}))
        self.shape = _input_shape(model)
        self.batch_size, self.margin, self.align = batch_size, margin, align
        self.keep_pixels, self.on_frame = keep_pixels, on_frame
        self.camera = isinstance(source, Integral) and not isinstance(source, bool)
        self.interrupted = False
        self.reader = VideoReader(source, every=every, color="rgb", duration=duration,
                                  on_truncated=on_truncated)

    def empty_table(self):
        """The table of a video without faces: predict_video's columns, no rows."""
        return _empty_table(self.classes, self.finder.landmarks)

    def __iter__(self):
        for batch in self._batches():
            rows = _batch_table(self.model, self.classes, batch, self.tracker,
                                flat=not self.shape, landmarks=self.finder.landmarks)
            frames = [(frame, time, pixels) for (frame, time, _, _), pixels
                      in zip(batch.frames, batch.pixels, strict=True)] if self.keep_pixels else []
            yield VideoChunk(rows, frames)

    def _batches(self):
        """Batches of detected and cropped frames, the last one possibly short."""
        batch = _Batch()
        with self.reader as reader:
            try:
                for frame, time, rgb in reader:
                    gray, boxes, crops = crop_faces(
                        rgb, self.finder, margin=self.margin, size=self.shape or _FER2013_SHAPE,
                        name=f"{reader.name}, frame {frame}", align=self.align)
                    batch.add(frame, time, gray.shape, boxes, crops,
                              rgb if self.keep_pixels else None)
                    if self.on_frame is not None:
                        self.on_frame(frame, time)
                    if batch.full(self.batch_size):
                        yield batch
                        batch = _Batch()
            except KeyboardInterrupt:
                if not self.camera:
                    raise
                self.interrupted = True  # Ctrl-C is how a camera is stopped
        if batch.frames:
            yield batch


@validate_params(
    {"model": "no_validation", "source": "no_validation",
     "every": [Interval(Integral, 1, 10**9, closed="both")],
     "batch_size": [Interval(Integral, 1, 2**16, closed="both")],
     "margin": [Interval(Real, 0, MAX_MARGIN, closed="both")],
     "detector": "no_validation", "detector_params": [dict, None], "align": ["boolean"],
     "smooth": "no_validation", "duration": "no_validation", "on_truncated": "no_validation",
     "n_jobs": [Integral, None]},
    prefer_skip_nested_validation=False,
)
def predict_video(model, source, *, every=1, batch_size=64, margin: float = DEFAULT_MARGIN,
                  detector="mtcnn", detector_params: dict | None = None, align: bool = True,
                  smooth=None, duration=None, on_truncated="warn", n_jobs=None):
    """Detect, track and classify the faces of a video file or a camera, frame by frame.

    Frames are streamed (memory stays flat however long the video is); the faces of several
    frames go through the network together, ``batch_size`` faces at a time.

    Parameters
    ----------
    model : estimator, str or path-like
        A fitted classifier with ``predict_proba`` and ``classes_``, or a saved model's
        folder, as for :func:`ferkit.predict_image`.
    source : str, path-like, int, or list of str or path-like
        A video file, or a camera index (see :class:`ferkit.video.VideoReader`); a list of
        video files is a batch, each clip tracked on its own.
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
        Stop after this many seconds of video. A camera otherwise runs until Ctrl-C, which
        ends the reading: the faces already detected are predicted and the rows so far
        returned. For a file, Ctrl-C (KeyboardInterrupt) propagates as usual.
    on_truncated : {"warn", "raise"}, default="warn"
        A damaged or truncated video: rows for the frames that decode, then a warning, or an
        error.
    n_jobs : int or None, default=None
        Worker processes for a list of clips, one clip at a time each (joblib's convention:
        None is 1, -1 every core); each worker loads the model once from its files, and
        the rows come back in the list's order, as for :func:`ferkit.predict_image`.

    Returns
    -------
    pandas.DataFrame
        One row per face per analysed frame: ``frame``, ``time`` (seconds, from the stream's
        timestamps), ``face`` (the track id), ``x``, ``y``, ``width``, ``height``, ``score``
        (and MTCNN's landmark columns), ``emotion`` and one probability column per class.
        Empty, with these columns, when no face is found. For a list of clips, a first
        column ``video`` holds each row's file, as given.

    See Also
    --------
    ferkit.predict_image : The same for photos.
    ferkit.plotting.EmotionTimelineDisplay : The table as probabilities over time.

    Notes
    -----
    The work is done batch by batch by a stream that gives each batch's rows as soon as
    they are predicted (``ferkit predict clip.mp4`` writes them as they come); this function
    gathers them into one table.

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
    import pandas as pd

    options = dict(every=every, batch_size=batch_size, margin=margin, detector=detector,
                   detector_params=detector_params, align=align, smooth=smooth,
                   duration=duration, on_truncated=on_truncated)
    clips = _clip_list(source)
    if clips is None:
        return _predict_clip(load_model(model), source, **options)
    if len(clips) > 1 and is_parallel(n_jobs):
        if not isinstance(model, str | os.PathLike):
            _check_model(model)  # an unfitted model is refused before it is saved
        chunks = map_in_workers(_predict_listed_clip, model, clips, n_jobs=n_jobs,
                                chunk_size=1, **options)
        tables = [table for chunk in chunks for table in chunk]
    else:
        model = load_model(model)
        tables = [_predict_listed_clip(model, clip, **options) for clip in clips]
    # Empty tables only set the columns: concatenating them with others changes dtypes.
    rows = [table for table in tables if len(table)] or tables[:1]
    return pd.concat(rows, ignore_index=True)


def _clip_list(source) -> list | None:
    """The clips of a list of video files, or None for one file or camera."""
    if not isinstance(source, list | tuple):
        return None
    if not source:
        raise ValueError("got an empty list of videos; pass at least one video file.")
    for i, clip in enumerate(source):
        if not isinstance(clip, str | os.PathLike):
            raise TypeError(
                f"a list of videos holds video files (paths); item {i} is "
                f"{type(clip).__name__} ({clip!r}). A camera is read on its own: "
                "predict_video(model, 0)."
            )
    return list(source)


def _predict_listed_clip(model, clip, **options):
    """One clip's table, with the clip first in a ``video`` column (in a worker process,
    with ``n_jobs``)."""
    import pandas as pd

    table = _predict_clip(model, clip, **options)
    table.insert(0, "video", pd.Series([str(clip)] * len(table), dtype=object))
    return table


def _predict_clip(model, source, **options):
    """predict_video's table for one video file or camera."""
    stream = VideoStream(model, source, **options)
    tables = []
    try:
        for chunk in stream:
            if chunk.rows is not None:
                tables.append(chunk.rows)
    except KeyboardInterrupt:
        # A second Ctrl-C while the last faces of a camera go through the network: the
        # rows so far are still the answer. A file's run is simply interrupted.
        if not stream.camera:
            raise
    if not tables:
        return stream.empty_table()
    import pandas as pd

    return pd.concat(tables, ignore_index=True)
