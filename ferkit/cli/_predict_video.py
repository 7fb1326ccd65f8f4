"""``ferkit predict clip.mp4`` and ``ferkit predict --camera 0``: the faces of videos.

The table is :func:`ferkit.predict_video`'s with a first column ``file``, written batch by
batch as the network gives the rows (so an interrupted run keeps the rows done). The
annotated copy (``--annotate``) and the timeline (``--plot``) are written to a temporary
file renamed into place at the end: an error or Ctrl-C leaves nothing half-written.

``ferkit/cli/_predict.py`` hands its photo helpers over (the table writer, warnings, the
model and the detector) rather than this module importing it back.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

#: Extensions that make a path a video for ``ferkit predict`` (FFmpeg reads many more: rename
#: such a file, or call ferkit.predict_video).
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv",
    ".3gp", ".ogv",
})
#: Containers ``--annotate`` writes (with H.264, or MPEG-4 Part 2 where the build lacks it).
ANNOTATE_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi")
#: Options that apply to videos only, and to photos only: flag -> (``args`` attribute, the
#: value it has when not given).
_VIDEO_ONLY = {"--every": ("every", None), "--plot": ("plot", None),
               "--duration": ("duration", None), "--smooth": ("smooth", None)}
_PHOTO_ONLY = {"--recursive": ("recursive", False), "--n-jobs": ("n_jobs", 1)}


# -- options -------------------------------------------------------------------------------

def _whole_number(text: str, low: int, expected: str) -> int:
    """``text`` as an int of at least ``low``; argparse's error names what was ``expected``."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an int of at least 1 (``--every``)."""
    return _whole_number(text, 1, "a whole number >= 1")


def camera_index(text: str) -> int:
    """argparse type: a camera index, 0 or more (``--camera``)."""
    return _whole_number(text, 0, "a camera index (0, 1...)")


def seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds (``--duration``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds; got {text!r}")
    return value


def smoothing(text: str) -> int | float:
    """argparse type: ``--smooth`` as an int window (``5``) or a float alpha (``0.3``)."""
    from ferkit.video._track import check_smooth

    try:
        value = int(text) if text.strip().isdigit() else float(text)
        return check_smooth(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a window of frames (an int >= 1) or an alpha in (0, 1]; got {text!r}"
        ) from None


def is_video(path) -> bool:
    """Whether ``path`` names a video, by its extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def wanted(args) -> bool:
    """Whether ``args`` ask for the video path; a ValueError (usage) for a mix it cannot do.

    Videos are files named with a video extension, or ``--camera``; photos are every other
    path, folders included. One call predicts one kind.
    """
    videos = [p for p in args.paths if is_video(p)]
    if args.camera is not None and args.paths:
        raise ValueError("--camera reads the camera only; give the files in another call")
    if not args.paths and args.camera is None:
        raise ValueError("nothing to predict: give photos, folders, video files or --camera N")
    if videos and len(videos) < len(args.paths):
        photo = next(p for p in args.paths if not is_video(p))
        raise ValueError(f"videos ({_common().printable(videos[0])}) and photos or folders "
                         f"({_common().printable(photo)}) cannot be mixed in one call; "
                         "predict them separately")
    video = bool(videos) or args.camera is not None
    for flag, (name, unset) in (_PHOTO_ONLY if video else _VIDEO_ONLY).items():
        if getattr(args, name, unset) != unset:
            raise ValueError(f"{flag} applies to {'photos' if video else 'videos'} only")
    return video


def _common():
    from ferkit.cli import _common

    return _common


# -- outputs -------------------------------------------------------------------------------

def _target(option: str, value, n_sources: int, extensions, kind: str):
    """Where ``--annotate``/``--plot`` writes: ``(path, single)``, or ``(None, False)``.

    For one source, ``value`` is the file to write (unless it is an existing folder); for
    several, a folder receiving one file per source. Folders are created; an extension that
    cannot be written is a usage error, found before the model is loaded.
    """
    if not value:
        return None, False
    out = Path(value)
    single = n_sources == 1 and not out.is_dir()
    _common().check_writable_folder(out.parent if single else out, option)
    if single and out.suffix.lower() not in extensions:
        raise ValueError(f"{option} {_common().printable(value)}: not a {kind} that can be "
                         f"written; use one of {', '.join(extensions)}")
    return out, single


def _plot_extensions() -> tuple[str, ...]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return tuple(f".{name}" for name in FigureCanvasAgg.get_supported_filetypes())


def _output_path(out: Path | None, single: bool, name: str, suffix: str, used: set) -> Path | None:
    """``out`` itself, or a file named after the source in the folder ``out``, unique."""
    if out is None or single:
        return out
    stem = Path(name).stem if not name.startswith("camera ") else name.replace(" ", "")
    target, n = out / f"{stem}{suffix}", 1
    while target in used:
        n += 1
        target = out / f"{stem}.{n}{suffix}"
    used.add(target)
    return target


def _labelled(rows):
    """A frame's rows as boxes labelled with track id, emotion and its probability."""
    labels = [f"{face}: {emotion} {rows.at[i, str(emotion)]:.0%}"
              for i, face, emotion in zip(rows.index, rows["face"], rows["emotion"], strict=True)]
    return rows[["x", "y", "width", "height"]].assign(emotion=labels)


class _Annotator:
    """The annotated copy of one video: analysed frames with boxes, ids and emotions drawn,
    at the analysed frames' rate; written to a temporary file, renamed when complete."""

    def __init__(self, path: Path, fps: float):
        from ferkit.video import VideoWriter

        self.writer = VideoWriter(path, fps=fps)

    def __enter__(self):
        self.writer.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.writer.__exit__(*exc_info)

    def draw(self, chunk) -> None:
        import numpy as np

        from ferkit.faces import draw_faces

        for frame, _, rgb in chunk.frames:
            rows = None if chunk.rows is None else chunk.rows[chunk.rows["frame"] == frame]
            image = rgb if rows is None or rows.empty else draw_faces(rgb, _labelled(rows))
            height, width = image.shape[:2]  # encoders need even sides
            self.writer.write(np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)),
                                     mode="edge"))


def _write_timeline(table, target: Path) -> None:
    """The emotion timeline of ``table`` as a picture, renamed into place when written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ferkit.plotting import EmotionTimelineDisplay

    n_faces = table["face"].nunique()
    figure = Figure(figsize=(8, 1.0 + 2.2 * n_faces), layout="constrained")
    FigureCanvasAgg(figure)
    EmotionTimelineDisplay.from_predictions(table, ax=figure.subplots(n_faces, 1,
                                                                      squeeze=False)[:, 0])
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        figure.savefig(partial, format=target.suffix[1:].lower())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


# -- running -------------------------------------------------------------------------------

class _Damaged(Exception):
    """A video that did not read to its end: its copy and timeline are not written."""


class _Clip:
    """One source's run: the stream, its progress bar, its outputs."""

    def __init__(self, source, args, photo, *, annotate: Path | None, plot: Path | None):
        self.source, self.args, self.photo = source, args, photo
        self.annotate, self.plot = annotate, plot
        self.name = f"camera {source}" if isinstance(source, int) else str(source)
        self.tables = []  # the rows, kept for the timeline only
        self.n_rows = 0
        self.bar = None

    def run(self, model, detector, table_writer) -> None:
        """Stream the source's rows to ``table_writer``; write its copy and timeline."""
        from ferkit.video import TruncatedVideoWarning
        from ferkit.video._predict import VideoStream

        args = self.args
        stream = VideoStream(
            model, self.source, every=args.every or 1, detector=detector, align=args.align,
            smooth=args.smooth, duration=args.duration, keep_pixels=self.annotate is not None,
            on_frame=self._advance, **({} if args.margin is None else {"margin": args.margin}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TruncatedVideoWarning)
            with self._progress(stream), self._annotator(stream) as annotator:
                self._stream(stream, table_writer, annotator)
                damaged = [w for w in caught if issubclass(w.category, TruncatedVideoWarning)]
                if damaged:  # leaving the block with an error discards the annotated copy
                    raise _Damaged(str(damaged[0].message))
        for warning in caught:  # anything else, shown as it would have been
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
        if stream.interrupted:
            self.photo._warn(f"{self.name}: stopped (Ctrl-C)")
        self._timeline()

    def _stream(self, stream, table_writer, annotator) -> None:
        printable = _common().printable(self.name)
        for chunk in stream:
            if chunk.rows is not None:
                rows = chunk.rows
                rows.insert(0, "file", printable)
                table_writer.write(rows)
                self.n_rows += len(rows)
                if self.plot is not None:
                    self.tables.append(rows)
            if annotator is not None:
                annotator.draw(chunk)
        if not self.n_rows:
            self.photo._warn(f"no face found in {printable}")
            # Written all the same: a CSV that has no row yet gets its header.
            empty = stream.empty_table()
            empty.insert(0, "file", printable)
            table_writer.write(empty)

    def _annotator(self, stream):
        if self.annotate is None:
            return contextlib.nullcontext()
        fps = (stream.reader.fps or 25) / (self.args.every or 1)
        return _Annotator(self.annotate, fps)

    @contextlib.contextmanager
    def _progress(self, stream):
        """A tqdm bar of analysed frames (and their rate) while the stream runs, when stderr
        is a terminal and --quiet is not set."""
        tty = getattr(self.args, "stderr_tty", None)
        if self.args.quiet or not (sys.stderr.isatty() if tty is None else tty):
            yield
            return
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - a bar is a nicety, never a reason to fail
            yield
            return
        import numpy as np

        reader, every = stream.reader, self.args.every or 1
        count = reader.frame_count
        if self.args.duration and reader.fps:  # --duration stops before the header's end
            count = min(count or np.inf, int(self.args.duration * reader.fps))
        total = None if not count else (count - 1) // every + 1
        self.bar = tqdm(total=total, desc=Path(self.name).name, unit="frame", file=sys.stderr,
                        dynamic_ncols=True)
        self.photo._BAR.append(self.bar)  # warnings are written above it
        try:
            yield
        finally:
            self.photo._BAR.remove(self.bar)
            self.bar.close()
            self.bar = None

    def _advance(self, frame, time) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def _timeline(self) -> None:
        if self.plot is None:
            return
        if not self.tables:
            self.photo._warn(f"no timeline drawn for {_common().printable(self.name)}: no face")
            return
        import pandas as pd

        _write_timeline(pd.concat(self.tables, ignore_index=True), self.plot)


def _sources(args, warn) -> tuple[list, list[str]]:
    """The sources to read (a camera index, or the video files that exist), and the missing."""
    if args.camera is not None:
        from ferkit.video import VideoReader

        # Opened once before the model is loaded, so that a camera that is not there is
        # reported at once (the stream opens it again).
        VideoReader(args.camera).close()
        return [args.camera], []
    found, missing = [], []
    for path in args.paths:
        if Path(path).is_file():
            found.append(path)
        else:
            why = "is not a file" if Path(path).exists() else "no such file"
            warn(f"{_common().printable(path)}: {why}")
            missing.append(path)
    if not found:
        raise FileNotFoundError(2, "No such video file", missing[0])
    return found, missing


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def run(args, photo) -> int:
    """Predict the videos (or the camera) named in ``args``; returns the exit status.

    ``photo`` is the photo command's module (``ferkit.cli._predict``): its table writer,
    warnings, model loading and detector are reused.
    """
    if args.margin is not None and not 0 <= args.margin <= 5:
        raise ValueError(f"--margin must be from 0 to 5; got {args.margin}")
    detector = photo._make_detector(args)
    sources, missing = _sources(args, photo._warn)
    annotate, single_annotate = _target("--annotate", args.annotate, len(sources),
                                        ANNOTATE_EXTENSIONS, "video format")
    plot, single_plot = _target("--plot", args.plot, len(sources), _plot_extensions(),
                                "picture format")
    used: set = set()
    failed = []
    with photo._TableWriter(args.format, args.output) as table_writer:
        model = photo._load_model(args)
        for source in sources:
            name = f"camera {source}" if isinstance(source, int) else str(source)
            clip = _Clip(source, args, photo,
                         annotate=_output_path(annotate, single_annotate, name,
                                               ".annotated.mp4", used),
                         plot=_output_path(plot, single_plot, name, ".timeline.png", used))
            try:
                clip.run(model, detector, table_writer)
            except (_Damaged, ValueError, TypeError, FileNotFoundError) as exc:
                if args.camera is not None and not isinstance(exc, _Damaged):
                    raise  # the one source: its error is the command's
                photo._warn(f"{'' if isinstance(exc, _Damaged) else 'skipped '}"
                            f"{_common().printable(_reason(exc))}")
                failed.append(name)
    bad = [*missing, *failed]
    if bad:
        photo._warn(f"{len(bad)} of {len(sources) + len(missing)} video(s) could not be read "
                    f"in full: {', '.join(_common().printable(str(b)) for b in bad)}")
        return 2
    return 0
