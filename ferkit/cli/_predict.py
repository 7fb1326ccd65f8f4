"""``ferkit predict``: emotions of the faces in photos, one output row per face."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from ferkit.cli import _common

_EPILOG = """\
Output has one row per face: file, face, x, y, width, height, score (the detector's face
probability; for --detector lbp the detections merged into the face), with MTCNN ten
landmark columns (eyes, nose, mouth corners), emotion and one probability column per
emotion (rounded to 4 decimals in CSV). Photos without a face and files that cannot be read
are reported on stderr; the others are still predicted. A progress bar is drawn on stderr
for folders when stderr is a terminal (not with --quiet). Rows are written as each photo is
done, so an interrupted run (Ctrl-C) keeps the rows, and the whole
annotated images, of the photos done; the output file and its folder are created before the
model is loaded.

An annotated image (faces boxed and labelled) is written only with --annotate: for one photo
OUT is the image file to write (PNG, or any format its extension names); for several, OUT is
a folder that receives one <photo name>.annotated.png per photo read. Missing folders are
created.

Videos (files named .mp4, .mkv, .mov, .avi, .webm...; needs pip install 'ferkit[video]')
and --camera INDEX give one row per face per analysed frame: file, frame, time (seconds),
face (a track id that stays with the same person), the box and score, emotion and the
probabilities, as ferkit.predict_video returns them; rows are written as each batch of
faces is predicted. A camera runs until --duration or Ctrl-C, which ends it normally (the
rows, --annotate and --plot are written; exit 0); Ctrl-C on a file interrupts the run, and
the rows written so far stay. --annotate OUT writes a video of the analysed frames (at the
analysed frames' rate) with boxes, track ids and emotions; --plot OUT the emotion timeline.
Both are written whole or not at all (not for a video that did not read to its end); for
several videos, OUT is a folder receiving <name>.annotated.mp4 or <name>.timeline.png.
Photos and videos cannot be mixed in one call. A progress bar with frames per second is
drawn on stderr when it is a terminal (not with --quiet).

  ferkit predict clip.mp4 --every 5 --annotate clip-faces.mp4 --plot timeline.png
  ferkit predict --camera 0 --duration 60 -o faces.csv

exit status: 0 every photo or video was read (with or without faces); 2 bad usage, a path
that does not exist, a model that cannot be loaded, a camera that cannot be opened, or at
least one file that could not be read as an image or read in full as a video (the others
are still predicted and printed); 1 any other failure.
"""


def register(subparsers) -> None:
    """Add the ``predict`` subcommand."""
    parser = _common.add_command(
        subparsers, "predict", run,
        summary="predict the emotions of the faces in photos, videos or a camera",
        description="Detect the faces in photos (files or folders), video files or a camera "
                    "and predict their emotions.",
        epilog=_EPILOG,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="photo files or folders, or video files (by their extension)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="DIR", help="a model saved with ferkit.save")
    source.add_argument(
        "--pretrained", metavar="NAME", default=None,
        help="a pretrained model shipped with ferkit (default: fer2013-7)",
    )
    parser.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="output format (default csv)"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the table to FILE instead of stdout"
    )
    parser.add_argument(
        "--annotate", metavar="OUT",
        help="also write the photo(s) with boxes and emotions drawn (see below)",
    )
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="look for photos in sub-folders too"
    )
    parser.add_argument(
        "--margin", type=float, default=None,
        help="border around each face, as a fraction of its side (default: predict_image's, "
             "chosen for the shipped models)",
    )
    parser.add_argument(
        "--detector", choices=("mtcnn", "lbp"), default="mtcnn",
        help="face detector: mtcnn (default; networks shipped with ferkit) or lbp "
             "(scikit-image's cascade, no TensorFlow)",
    )
    parser.add_argument(
        "--min-confidence", type=float, default=None, metavar="P",
        help="mtcnn: smallest face probability kept (default 0.9; lower finds more faces, "
             "and more false ones)",
    )
    parser.add_argument(
        "--min-neighbors", type=int, default=None, metavar="N",
        help="lbp: detections a face needs (default 3; lower finds more faces, and more "
             "false ones)",
    )
    parser.add_argument(
        "--no-align", dest="align", action="store_false",
        help="do not rotate faces to level their eyes before predicting",
    )
    parser.add_argument(
        "-j", "--n-jobs", type=int, default=1, metavar="N",
        help="worker processes (default 1; -1 one per core); each loads the model once, and "
             "the rows keep the photos' order",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar",
    )
    _add_video_arguments(parser)


def _add_video_arguments(parser) -> None:
    """The options of videos and the camera (``ferkit/cli/_predict_video.py``)."""
    from ferkit.cli import _predict_video as video

    group = parser.add_argument_group("videos and camera")
    group.add_argument("--camera", type=video.camera_index, metavar="INDEX",
                       help="read camera INDEX (0 for the first) until Ctrl-C or --duration")
    group.add_argument("--every", type=video.positive_int, metavar="N",
                       help="analyse every N-th frame (default 1: every frame)")
    group.add_argument("--duration", type=video.seconds, metavar="S",
                       help="stop after S seconds of video")
    group.add_argument("--smooth", type=video.smoothing, metavar="K",
                       help="smooth each face's probabilities over time: an int K is the mean "
                            "of its last K analysed frames, a float in (0, 1] an exponential "
                            "moving average's alpha (default: none)")
    group.add_argument("--plot", metavar="OUT",
                       help="also draw the emotion timeline (one panel per tracked face) to "
                            "the picture OUT (PNG, SVG, PDF...); a folder for several videos")


def _load_model(args):
    import ferkit

    if args.model:
        return ferkit.load(args.model)
    return ferkit.load_pretrained(args.pretrained or "fer2013-7")


@contextmanager
def _model_folder(args):
    """The folder of the model the workers load: --model's, or the shipped model's."""
    if args.model:
        yield args.model
        return
    from ferkit._pretrained import pretrained_folder

    with pretrained_folder(args.pretrained or "fer2013-7") as folder:
        yield folder


#: The face-detector options of the command line: ``detect_faces`` keyword -> flag.
_DETECTOR_FLAGS = {"min_confidence": "--min-confidence", "min_neighbors": "--min-neighbors"}


def _make_detector(args):
    """The face detector of the command line's options, checked and built once.

    Built before any photo or model is read, so that a bad option is a usage error rather
    than every photo being reported unreadable; the one object serves every photo.
    """
    from ferkit.faces import make_detector

    params = {
        name: getattr(args, name) for name in _DETECTOR_FLAGS if getattr(args, name) is not None
    }
    wrong = {"mtcnn": "min_neighbors", "lbp": "min_confidence"}[args.detector]
    if wrong in params:
        other = "lbp" if args.detector == "mtcnn" else "mtcnn"
        raise ValueError(f"{_DETECTOR_FLAGS[wrong]} applies to --detector {other}, not "
                         f"{args.detector}")
    try:
        return make_detector(args.detector, **params)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        for name, flag in _DETECTOR_FLAGS.items():  # name the option as the user typed it
            message = message.replace(name, flag)
        message = message.replace("detector=", "--detector ")
        raise ValueError(message) from exc


def _prepare_annotation(out: Path, single: bool) -> None:
    """Create the folder the annotated image(s) go to; refuse a format PIL cannot write.

    Done before the model is loaded, so a bad ``--annotate`` fails at once rather than
    after the first photo.
    """
    from PIL import Image

    folder = out.parent if single else out
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"--annotate {out}: cannot create the folder {folder} ({exc.strerror or exc})"
        ) from exc
    if single:
        Image.init()  # registers every format plugin, so all writable extensions are known
        image_format = Image.registered_extensions().get(out.suffix.lower())
        if image_format not in Image.SAVE:
            raise ValueError(
                f"--annotate {out}: not an image format that can be written; "
                "use an extension such as .png or .jpg"
            )


#: The progress bar being drawn, if any: warnings are written above it, not through it.
_BAR: list = []


def _warn(message: str) -> None:
    if _BAR:
        _BAR[0].write(f"ferkit predict: {message}", file=sys.stderr)
    else:
        print(f"ferkit predict: {message}", file=sys.stderr)


def _progress(results, photos: list[Path], args):
    """``results`` (one per photo) through a tqdm progress bar when a folder was given, stderr
    is a terminal and --quiet is not set; otherwise as they are (logs and pipes stay clean)."""
    folders = any(Path(p).is_dir() for p in args.paths)
    tty = getattr(args, "stderr_tty", None)
    if args.quiet or not folders or not (sys.stderr.isatty() if tty is None else tty):
        return results
    try:  # installed with optuna, not a dependency of ferkit's own
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - a bar is a nicety, never a reason to fail
        return results
    bar = tqdm(results, total=len(photos), desc="photos", unit="photo", file=sys.stderr,
               dynamic_ncols=True)
    _BAR.append(bar)
    return bar


def _annotation_path(out: Path, photo: Path, single: bool, used: set[Path]) -> Path:
    """Where the annotated copy of ``photo`` goes: ``out`` itself, or a unique file in it."""
    if single:
        return out
    target = out / f"{photo.stem}.annotated.png"
    n = 1
    while target in used:
        n += 1
        target = out / f"{photo.stem}.{n}.annotated.png"
    used.add(target)
    return target


def run(args) -> int:
    """Predict every photo (or video) named in ``args``; returns the exit status."""
    from ferkit.cli import _predict_video

    if _predict_video.wanted(args):
        # Handed this module's table writer, warnings, model and detector rather than
        # importing them back: the two modules form no import cycle.
        return _predict_video.run(args, sys.modules[__name__])
    # Options first: a bad one is a usage error, found before any photo or model is read.
    if args.margin is not None and not 0 <= args.margin <= 5:
        raise ValueError(f"--margin must be from 0 to 5; got {args.margin}")
    if args.n_jobs == 0:
        raise ValueError("--n-jobs must be a number of processes (1 or more) or -1 for one "
                         "per core; got 0")
    detector = _make_detector(args)
    photos, missing = _find_photos(args.paths, recursive=args.recursive)
    annotate, single = _annotation_target(args.annotate, photos)

    # Opened before the model is loaded, so that a place it cannot be written fails at once;
    # rows are written photo by photo, so that an interrupted run keeps those done.
    with _TableWriter(args.format, args.output) as table_writer:
        unreadable = _predict_photos(args, photos, detector, annotate, single,
                                     table_writer)
    bad = missing + unreadable
    if bad:
        total = len(photos) + len(missing)
        _warn(f"{len(bad)} of {total} input(s) could not be read: {', '.join(bad)}")
        return 2
    return 0


def _find_photos(paths, *, recursive: bool) -> tuple[list[Path], list[str]]:
    """The image files among ``paths`` (files or folders), and the paths that do not exist.

    A missing path is reported and the others still predicted; finding no image at all is an
    error.
    """
    from ferkit.faces import list_images

    photos: list[Path] = []
    missing: list[str] = []
    for entry in paths:
        try:
            found, skipped = list_images([entry], recursive=recursive)
        except FileNotFoundError as exc:
            _warn(str(exc))
            missing.append(str(entry))
            continue
        if Path(entry).is_dir() and not found:
            _warn(f"no image files in folder {entry}")
        if skipped:
            _warn(f"skipped {len(skipped)} file(s) in {entry} that are not images by their "
                  f"extension (e.g. {skipped[0].name})")
        photos.extend(found)
    if not photos:
        raise ValueError(f"no image files to predict in {', '.join(map(str, paths))}")
    return photos, missing


def _annotation_target(annotate, photos: list[Path]) -> tuple[Path | None, bool]:
    """Where ``--annotate`` writes (None without it), and whether that is one image file
    rather than a folder; its folder is created."""
    if not annotate:
        return None, False
    out = Path(annotate)
    single = len(photos) == 1 and not out.is_dir()
    _prepare_annotation(out, single)
    return out, single


def _predict_photos(args, photos: list[Path], detector, annotate: Path | None,
                    single: bool, table_writer) -> list[str]:
    """Write one table of faces per photo read; return the photos that could not be read.

    An unreadable photo is reported and skipped, so that one bad file does not lose the
    predictions of the others.
    """
    unreadable, used = [], set()
    results = zip(photos, _photo_results(args, photos, detector), strict=True)
    try:
        for photo, table in _progress(results, photos, args):
            if isinstance(table, str):
                _warn(f"skipped {photo}: {table}")
                unreadable.append(str(photo))
                continue
            if table.empty:
                _warn(f"no face found in {photo}")
            # A file name that is not valid UTF-8 is written with its odd bytes as \xNN:
            # the table stays valid UTF-8 text.
            table.insert(0, "file", _common.printable(str(photo)))
            if annotate is not None:
                _write_annotation(photo, table, _annotation_path(annotate, photo, single, used))
            table_writer.write(table)
    finally:
        if _BAR:
            _BAR.pop().close()
    return unreadable


def _photo_results(args, photos: list[Path], detector):
    """Each photo's table, or why it could not be read, in the photos' order: predicted here,
    or with --n-jobs in worker processes that each load the model once from its folder."""
    from ferkit._workers import is_parallel, map_in_workers

    options = {"detector": detector, "align": args.align}
    if args.margin is not None:
        options["margin"] = args.margin
    if not is_parallel(args.n_jobs):
        model = _load_model(args)
        for photo in photos:
            yield _photo_result(model, photo, **options)
        return
    with _model_folder(args) as folder:
        for chunk in map_in_workers(_photo_result, folder, photos, n_jobs=args.n_jobs,
                                    **options):
            yield from chunk


def _photo_result(model, photo: Path, **options):
    """One photo's table, or the first line of the reason it could not be read."""
    from ferkit.faces import predict_image

    try:
        return predict_image(model, photo, **options)
    except (ValueError, TypeError, OSError) as exc:
        return str(exc).splitlines()[0]


class _TableWriter:
    """The faces as one CSV or JSON table, written to the ``--output`` file or stdout as each
    photo's rows come, and flushed, so that an interrupted run keeps the rows done.

    The output file is created (with its folder) on entering; leaving, even on an
    interrupt, closes the JSON list, so the file is well formed either way.
    """

    def __init__(self, output_format: str, output):
        self.format = output_format
        self.output = None if output is None else Path(output)
        self._stream = None
        self._started = False

    def __enter__(self):
        if self.output is None:
            self._stream = sys.stdout
            return self
        _common.check_writable_folder(self.output.parent, "-o")
        try:
            self._stream = open(self.output, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ValueError(f"-o {_common.printable(str(self.output))}: cannot write there "
                             f"({exc.strerror or exc})") from exc
        return self

    def write(self, table) -> None:
        if self.format == "csv":
            # Four decimals are more than a probability's precision; the full floats made
            # rows three times longer to read.
            floats = table.select_dtypes("float").columns
            table = table.assign(**{c: table[c].round(4) for c in floats})
            text = table.to_csv(index=False, header=not self._started, lineterminator="\n")
        else:
            records = table.to_json(orient="records", indent=2)[1:-1].strip("\n")
            if not records:
                return
            text = ("[\n" if not self._started else ",\n") + records
        self._started = True
        self._stream.write(text)
        self._stream.flush()

    def __exit__(self, *exc_info):
        if self.format == "json":
            self._stream.write("\n]\n" if self._started else "[]\n")
        self._stream.flush()
        if self._stream is not sys.stdout:
            self._stream.close()


def _write_annotation(photo: Path, table, target: Path) -> None:
    from PIL import Image

    from ferkit.faces import draw_faces

    image = Image.fromarray(draw_faces(photo, table))
    # Written beside the target, then renamed: an interrupted run leaves whole pictures only.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        image.save(partial, format=Image.registered_extensions()[target.suffix.lower()])
        os.replace(partial, target)
    except (OSError, ValueError, KeyError) as exc:  # PIL's own message does not name the file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OSError(f"cannot write the annotated image {target}: {reason}") from exc
    finally:
        partial.unlink(missing_ok=True)
