"""Frames of a video file or a camera, streamed one at a time with PyAV.

A file and a camera differ only in how the container is opened (:func:`_open_file`,
:func:`_open_camera`); every line after that, decoding included, is shared
(:meth:`VideoReader._frames`), so the tests of files cover the camera path too.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from numbers import Integral, Real
from pathlib import Path

#: Pixel formats of the yielded frames: PyAV's names for them.
_PIXEL_FORMATS = {"gray": "gray", "rgb": "rgb24"}
#: Input devices that take a camera index, per platform (FFmpeg's libavdevice). DirectShow
#: (Windows) names cameras, not numbers, so an index cannot be turned into a device there.
_CAMERA_FORMATS = {"linux": "v4l2", "darwin": "avfoundation"}


class TruncatedVideoWarning(UserWarning):
    """A video ended before its header said it would, or stopped decoding part-way.

    The frames before the damage were read; the message names the file and the last frame.
    """


#: What to do when PyAV is missing: it is an optional dependency (docs/video.rst: licences).
INSTALL_HINT = "pip install 'ferkit[video]'"


def import_av():
    """The ``av`` module (PyAV), or an ImportError that says how to install it.

    PyAV is optional: its wheels bundle an FFmpeg build that links GPL encoders, so it is
    installed only by those who read or write video.
    """
    try:
        import av
    except ImportError as exc:
        raise ImportError(f"Reading and writing video needs PyAV, an optional dependency of "
                          f"ferkit: {INSTALL_HINT} (or pip install av).") from exc
    return av


def _check_every(every) -> int:
    if isinstance(every, bool) or not isinstance(every, Integral) or not 1 <= every <= 10**9:
        raise ValueError(f"every must be an int from 1 to 10**9; got {every!r}.")
    return int(every)


def _check_duration(duration) -> float | None:
    if duration is None:
        return None
    if isinstance(duration, bool) or not isinstance(duration, Real) or not duration > 0 or (
            not math.isfinite(duration)):
        raise ValueError(f"duration must be a positive number of seconds or None; got "
                         f"{duration!r}.")
    return float(duration)


def _open_file(path):
    """A PyAV input container for a file; errors that name the file."""
    av = import_av()

    name = os.fspath(path)
    if not Path(name).is_file():
        if Path(name).exists():
            raise ValueError(f"{name}: is not a file (a video file or a camera index is "
                             "expected).")
        raise FileNotFoundError(2, "No such video file", name)
    try:
        return av.open(name, mode="r"), name
    except av.error.FFmpegError as exc:
        # Also an MP4 cut short before its index ("moov"), which most writers put at the end.
        raise ValueError(f"{name}: cannot be read as a video (not a video file, or a damaged "
                         f"or truncated one): {exc}") from exc


def _open_camera(index: int):
    """A PyAV input container for camera ``index``, through the platform's input device."""
    av = import_av()

    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    device_format = _CAMERA_FORMATS.get(platform)
    name = f"camera {index}"
    if device_format is None:
        raise ValueError(f"A camera index works on Linux (v4l2) and macOS (avfoundation), not on "
                         f"{sys.platform}; record the camera to a file, or read it with another "
                         "library and pass the frames on.")
    # FFmpeg lists some devices under several names: "video4linux2,v4l2".
    if not any(device_format in names.split(",") for names in av.formats_available):
        raise ValueError(f"{name}: this PyAV build has no {device_format} input device.")
    # v4l2 opens a device file; avfoundation takes "<video>:<audio>", with no audio here.
    device = f"/dev/video{index}" if device_format == "v4l2" else f"{index}:none"
    if device_format == "v4l2" and not Path(device).exists():
        raise ValueError(f"{name}: no such camera ({device} does not exist).")
    try:
        return av.open(device, mode="r", format=device_format), name
    except (av.error.FFmpegError, OSError) as exc:
        raise ValueError(f"{name}: cannot be opened ({device}, {device_format}): {exc}") from exc


class VideoReader:
    """Frames of a video file or a camera, decoded one at a time.

    Iterating yields ``(frame, time, pixels)``: the frame's position among the decoded
    frames (0, 1, ...), its time in seconds from the stream's timestamps (the first frame's at
    0), and its pixels as a ``(height, width)`` (``color="gray"``) or ``(height, width, 3)``
    (``color="rgb"``) uint8 array. Only one frame is held at a time, so memory stays flat
    however long the video is.

    Parameters
    ----------
    source : str, path-like or int
        A video file (any container and codec FFmpeg reads: MP4, MKV, AVI, WebM...), or the
        index of a camera (``0`` for the first): ``/dev/video<index>`` through v4l2 on Linux,
        AVFoundation's device ``index`` on macOS. Windows names its cameras instead of
        numbering them, so an index is refused there.
    every : int, default=1
        Yield every ``every``-th frame (0, every, 2 * every...). The others are still decoded
        (compressed frames depend on each other) but not converted.
    color : {"gray", "rgb"}, default="gray"
        Pixels of the yielded frames.
    duration : float or None, default=None
        Stop after this many seconds of video (a camera otherwise runs until the iteration is
        stopped).
    on_truncated : {"warn", "raise"}, default="warn"
        What to do, after the last frame that decodes, when a video stops decoding part-way or
        ends before its header says: a :class:`TruncatedVideoWarning`, or a ValueError. Both
        name the file and the frame.

    Attributes
    ----------
    name : str
        The file's path, or ``"camera <index>"``.
    fps : float or None
        The stream's average frame rate, where the container records it.
    frame_count : int or None
        The number of frames the container's header announces (None where it says nothing,
        as in MKV files and cameras).
    width, height : int
        Frame size in pixels.

    Raises
    ------
    FileNotFoundError
        If ``source`` is a path that does not exist.
    ValueError
        If the file is not a video (or its index is lost), has no video stream, or the camera
        cannot be opened (the message names it).

    Notes
    -----
    Times come from each frame's presentation timestamp minus the first frame's, so they are
    right for variable frame rates; a frame without a timestamp gets ``frame / fps``. The
    container is closed when the iteration ends or the reader is closed (it is also a context
    manager).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ferkit.video import VideoReader, write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
    >>> frames = (np.full((48, 64), 10 * i, dtype=np.uint8) for i in range(10))
    >>> write_video(path, frames, fps=25)
    >>> with VideoReader(path, every=3) as reader:
    ...     [(index, round(time, 2), pixels.shape) for index, time, pixels in reader]
    [(0, 0.0, (48, 64)), (3, 0.12, (48, 64)), (6, 0.24, (48, 64)), (9, 0.36, (48, 64))]
    """

    def __init__(self, source, *, every=1, color="gray", duration=None, on_truncated="warn"):
        self.every = _check_every(every)
        if color not in _PIXEL_FORMATS:
            raise ValueError(f"color must be one of {list(_PIXEL_FORMATS)}; got {color!r}.")
        if on_truncated not in ("warn", "raise"):
            raise ValueError(f"on_truncated must be 'warn' or 'raise'; got {on_truncated!r}.")
        self.color = color
        self.duration = _check_duration(duration)
        self.on_truncated = on_truncated
        self._closed = False
        if isinstance(source, Integral) and not isinstance(source, bool):
            if source < 0:
                raise ValueError(f"A camera index is 0 or more; got {source}.")
            self._container, self.name = _open_camera(int(source))
        elif isinstance(source, str | os.PathLike):
            self._container, self.name = _open_file(source)
        else:
            raise TypeError(f"source must be a video file path or a camera index (int); got "
                            f"{type(source).__name__}.")
        if not self._container.streams.video:
            self.close()
            raise ValueError(f"{self.name}: has no video stream.")
        self._stream = self._container.streams.video[0]
        # FFmpeg's default threading is kept: frame threads ("AUTO") decoded 20% slower on a
        # busy 2-core machine (docs/video.rst), and the detector wants the cores anyway.
        rate = self._stream.average_rate
        self.fps = float(rate) if rate else None
        self.frame_count = int(self._stream.frames) or None
        self.width = self._stream.codec_context.width
        self.height = self._stream.codec_context.height

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        """Close the file or camera."""
        self._closed = True
        self._container.close()

    def __iter__(self):
        # A stream (a camera above all) cannot be rewound: one pass per reader.
        if self._closed:
            raise RuntimeError(f"{self.name}: this VideoReader was read through or closed; "
                               "open a new one to read the video again.")
        return self._frames()

    def _time(self, frame, index: int, start) -> float:
        """Seconds from the stream's start; ``index / fps`` for a frame without a timestamp."""
        if frame.pts is None or frame.time_base is None:
            return index / self.fps if self.fps else float("nan")
        return float((frame.pts - start) * frame.time_base)

    def _frames(self):
        """The decode loop that files and cameras share."""
        av = import_av()

        fmt = _PIXEL_FORMATS[self.color]
        start, index, last_time = None, -1, None
        try:
            for frame in self._container.decode(self._stream):
                index += 1
                if start is None:
                    # Times count from the first frame, not from the stream's start_time:
                    # cameras have none, and AVI and some encoders start the first frame at a
                    # tick or more past it.
                    start = frame.pts if frame.pts is not None else 0
                last_time = self._time(frame, index, start)
                if self.duration is not None and last_time >= self.duration:
                    return
                if index % self.every == 0:
                    yield index, last_time, frame.to_ndarray(format=fmt)
        except av.error.FFmpegError as exc:
            self._truncated(index, last_time, f"decoding stopped ({exc})")
        else:
            self._check_complete(index, last_time)
        finally:
            self.close()

    def _check_complete(self, index: int, last_time) -> None:
        """Report a video that ended early without an error: fewer frames or seconds than its
        header announces (MP4 and AVI count frames; MKV records only a duration)."""
        if self.duration is not None:
            return
        if self.frame_count and index + 1 < self.frame_count:
            self._truncated(index, last_time, f"the header announces {self.frame_count} frames")
            return
        seconds = self._header_seconds()
        if seconds and self.fps and last_time is not None:
            # The last frame starts one frame before the end; allow a frame and a half.
            if last_time + 1.5 / self.fps < seconds:
                self._truncated(index, last_time, f"the header announces {seconds:.2f} s")

    def _header_seconds(self) -> float | None:
        """The video stream's duration from the header. The container's (MKV records only
        that) is the longest stream's, so it stands for the video only when there is no
        other stream: a soundtrack a little longer than the picture is common."""
        stream = self._stream
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if self._container.duration and len(self._container.streams) == 1:
            return self._container.duration / 1e6  # microseconds
        return None

    def _truncated(self, index: int, last_time, why: str) -> None:
        where = ("before its first frame" if index < 0 else
                 f"after frame {index}" + ("" if last_time is None else f" ({last_time:.2f} s)"))
        message = (f"{self.name}: the video is damaged or truncated: it ends {where}; {why}. "
                   "The frames before were read.")
        if self.on_truncated == "raise":
            raise ValueError(message)
        warnings.warn(message, TruncatedVideoWarning, stacklevel=3)
