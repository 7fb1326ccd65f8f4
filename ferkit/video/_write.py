"""Writing videos with PyAV: frame by frame, to a temporary file renamed into place at the end.

A video written part-way and then abandoned (an error, Ctrl-C) leaves nothing at the path:
the frames go to a hidden temporary file beside it, which ``os.replace`` renames atomically
only once the encoder has been flushed and the container closed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from fractions import Fraction
from numbers import Real
from pathlib import Path

import numpy as np

from ferkit.video._reader import import_av


def _default_codec() -> str:
    """H.264 (libx264) where the FFmpeg build has it: every player reads it. Otherwise
    FFmpeg's own MPEG-4 Part 2 encoder, which every build has."""
    av = import_av()

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _check_fps(fps) -> Fraction:
    if isinstance(fps, bool) or not isinstance(fps, Real) or not 0 < fps <= 1000:
        raise ValueError(f"fps must be a number from 0 (excluded) to 1000; got {fps!r}.")
    # Encoders take the rate as a fraction: 29.97 -> 2997/100.
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Write frames to a video file, atomically: the file appears only when complete.

    Use it as a context manager: frames are written with :meth:`write` and the file is moved
    into place when the block ends without an error; after an error nothing is left at
    ``path``.

    Parameters
    ----------
    path : str or path-like
        The video file; its extension picks the container (``.mp4``, ``.mkv``, ``.avi``...).
    fps : float, default=25
        Frames per second.
    codec : str or None, default=None
        An FFmpeg encoder name; None picks H.264 (``libx264``) where the FFmpeg build has it,
        else ``mpeg4``.

    Notes
    -----
    Frames are ``(height, width)`` grayscale or ``(height, width, 3)`` RGB uint8 arrays, all
    of the first frame's size; width and height must be even (the encoders store colour at
    half resolution).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ferkit.video import VideoWriter
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mkv")
    >>> with VideoWriter(path, fps=10) as writer:
    ...     for i in range(5):
    ...         writer.write(np.full((48, 64, 3), 40 * i, dtype=np.uint8))
    >>> os.path.getsize(path) > 0
    True
    """

    def __init__(self, path, *, fps=25, codec=None):
        self.path = Path(path)
        self.fps = _check_fps(fps)
        self.codec = codec
        self._container = self._stream = self._tmp = None
        self._shape = None

    def __enter__(self):
        av = import_av()

        if not self.path.parent.is_dir():
            raise FileNotFoundError(2, "No such folder for the video", str(self.path.parent))
        codec = self.codec or _default_codec()
        if codec not in av.codecs_available:
            raise ValueError(f"codec {codec!r} is not in this FFmpeg build.")
        # The temporary file keeps the extension, which is how FFmpeg picks the container.
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=self.path.suffix,
                                   dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        # mkstemp makes the file private (0600); the video gets the user's usual mode.
        umask = os.umask(0)
        os.umask(umask)
        self._tmp.chmod(0o666 & ~umask)
        try:
            self._container = av.open(tmp, mode="w")
            self._stream = self._container.add_stream(codec, rate=self.fps)
        except Exception:
            self._discard()
            raise
        self._stream.pix_fmt = "yuv420p"
        if self.path.suffix.lower() == ".avi":
            # AVI stores no presentation times: with B-frames (reordered), readers get them
            # wrong.
            self._stream.codec_context.max_b_frames = 0
        return self

    def write(self, frame) -> None:
        """Encode one frame.

        Parameters
        ----------
        frame : ndarray of shape (height, width) or (height, width, 3), uint8
            Grayscale or RGB pixels.
        """
        av = import_av()

        if self._container is None:
            raise RuntimeError("VideoWriter.write is called inside its 'with' block.")
        pixels = np.asarray(frame)
        if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (
                pixels.ndim == 3 and pixels.shape[2] != 3):
            raise ValueError(f"A frame is a (height, width) or (height, width, 3) uint8 array; "
                             f"got {pixels.dtype} of shape {pixels.shape}.")
        if self._shape is None:
            height, width = pixels.shape[:2]
            if height % 2 or width % 2:
                raise ValueError(f"Frame width and height must be even; got {width}x{height}.")
            self._stream.width, self._stream.height = width, height
            self._shape = pixels.shape[:2]
        elif pixels.shape[:2] != self._shape:
            raise ValueError(f"Every frame must be {self._shape}, as the first; got "
                             f"{pixels.shape[:2]}.")
        video_frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(pixels), format="gray" if pixels.ndim == 2 else "rgb24")
        self._container.mux(self._stream.encode(video_frame))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._discard()
            return
        try:
            if self._shape is None:
                raise ValueError(f"{self.path}: no frame was written.")
            self._container.mux(self._stream.encode(None))  # flush the encoder's delay
            self._container.close()
        except BaseException:
            self._discard()
            raise
        os.replace(self._tmp, self.path)

    def _discard(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._tmp.unlink(missing_ok=True)
        self._container = None


def write_video(path, frames, *, fps=25, codec=None) -> None:
    """Write an iterable of frames to a video file, atomically.

    Parameters
    ----------
    path : str or path-like
        The video file; its extension picks the container.
    frames : iterable of ndarray
        ``(height, width)`` grayscale or ``(height, width, 3)`` RGB uint8 frames, all of one
        size with even sides. A generator is consumed one frame at a time.
    fps : float, default=25
        Frames per second.
    codec : str or None, default=None
        An FFmpeg encoder; None picks H.264 where available, else MPEG-4 Part 2.

    See Also
    --------
    VideoWriter : The same, frame by frame.
    """
    with VideoWriter(path, fps=fps, codec=codec) as writer:
        for frame in frames:
            writer.write(frame)
