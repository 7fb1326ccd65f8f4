"""Pieces shared by the subcommands: their parsers, data, progress, outputs."""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
from pathlib import Path

#: Sub-folder of ``--out`` that holds the model (in the ``ferkit.save`` format).
MODEL_DIR = "model"
REPORT_TXT = "report.txt"
REPORT_CSV = "report.csv"


def say(message: str = "") -> None:
    """Print a progress line now (not when the buffer fills)."""
    print(printable(message), flush=True)


# -- arguments -----------------------------------------------------------------------------

def add_command(subparsers, name: str, run, *, summary: str, description: str,
                epilog: str | None = None) -> argparse.ArgumentParser:
    """Add the subcommand ``name``, carried out by ``run(args) -> int``; return its parser.

    ``summary`` is its line in ``ferkit --help``; ``description`` and ``epilog`` open and
    close its own ``--help``.
    """
    # Epilogs are laid out by hand (paragraphs, indented examples): argparse would rewrap them.
    layout = {"epilog": epilog, "formatter_class": argparse.RawDescriptionHelpFormatter} \
        if epilog is not None else {}
    parser = subparsers.add_parser(name, help=summary, description=description, **layout)
    parser.set_defaults(func=run)
    return parser


def add_data_arguments(parser, *, emotions_help: str) -> None:
    """``DATA`` or ``--sample``, ``--emotions``, ``--usage``."""
    parser.add_argument(
        "data", nargs="?", metavar="DATA",
        help="FER2013 in any form ferkit.datasets.load_fer2013 reads: fer2013.csv, "
             "icml_face_data.csv, train.csv, or the image-folder layout as a folder or .zip",
    )
    parser.add_argument(
        "--sample", action="store_true",
        help="use the 656-face FER2013 sample shipped with ferkit instead of DATA",
    )
    parser.add_argument(
        "--emotions", metavar="LIST", default=None,
        help=f"comma-separated emotions to keep, e.g. angry,happy,sad ({emotions_help})",
    )
    parser.add_argument(
        "--usage", metavar="SPLIT", default=None,
        help="FER2013 split(s) of DATA to use, comma-separated: Training, PublicTest, "
             "PrivateTest (default: see below)",
    )


def add_training_arguments(parser, *, epochs: int | None, random_state: int = 0) -> None:
    """``--epochs``, ``--preset``, ``--param``, ``--test-size``, ``--random-state``."""
    from ferkit._presets import PRESETS

    parser.add_argument(
        "--epochs", type=int, default=epochs, metavar="N",
        help="maximum training epochs (default: %(default)s)" if epochs is not None
        else "maximum training epochs (default: the classifier's, 30)",
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default=None,
        help="start from a named configuration of the classifier (ferkit.PRESETS)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="set a FacialExpressionClassifier parameter, e.g. --param dropout=0.5 or "
             "--param filters=16,32,64 (repeatable; pipeline steps as scale__method=image)",
    )
    parser.add_argument(
        "--test-size", type=float, default=0.2, metavar="F",
        help="fraction of the faces held out, stratified, for the report when the data has "
             "no PublicTest split (default: %(default)s)",
    )
    parser.add_argument(
        "--random-state", type=int, default=random_state, metavar="SEED",
        help="seed of the hold-out split and of training (default: %(default)s)",
    )


def add_output_arguments(parser, *, default: str) -> None:
    """``--out``, ``--overwrite``, ``--faces``."""
    parser.add_argument(
        "--out", metavar="DIR", default=default,
        help="output folder" + (" (default: %(default)s)" if default else ""),
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace the model and report already in --out",
    )
    parser.add_argument(
        "--faces", action="store_true",
        help="also draw a grid of example test faces with their true and predicted emotions "
             "(faces.png); pictures of people are written only when asked",
    )


_LAYER_SIZE_PARAMS = ("filters", "dense_units")


def parse_params(items) -> dict:
    """``["dropout=0.5", "filters=16,32"]`` -> ``{"clf__dropout": 0.5, "clf__filters": (16, 32)}``.

    Values are Python literals where they parse as one (numbers, tuples, None, True), else
    strings. Names without ``__`` are classifier parameters.
    """
    params = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--param expects NAME=VALUE; got {item!r}")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        if isinstance(value, list):
            value = tuple(value)
        if name.rsplit("__", 1)[-1] in _LAYER_SIZE_PARAMS and isinstance(value, int):
            value = (value,)  # "filters=16" means one block of 16, not a bare int
        params[name if "__" in name else f"clf__{name}"] = value
    return params


def split_list(text: str | None):
    """``"a,b"`` -> ``("a", "b")``; None stays None."""
    if text is None:
        return None
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise ValueError(f"expected a comma-separated list; got {text!r}")
    return items


# -- data ----------------------------------------------------------------------------------

def load_data(args, *, emotions=None):
    """The faces named by ``DATA`` or ``--sample``, as a dataset Bunch (with labels)."""
    import numpy as np

    emotions = split_list(args.emotions) if args.emotions is not None else emotions
    usage = split_list(args.usage)
    if args.sample and args.data:
        raise ValueError("give either DATA or --sample, not both")
    if not args.sample and not args.data:
        raise ValueError(
            "no data: give a DATA path (a FER2013 CSV, image folder or .zip) or --sample"
        )
    start = time.perf_counter()
    if args.sample:
        from ferkit.datasets import load_sample

        if usage is not None:
            raise ValueError("--usage applies to DATA; the sample is all from PublicTest")
        say("Loading the FER2013 sample shipped with ferkit")
        faces = load_sample(emotions=emotions)
    else:
        from ferkit.datasets import load_fer2013

        path = Path(args.data)
        if not path.exists():
            raise FileNotFoundError(f"DATA not found: {path}")
        say(f"Loading {path}")
        faces = load_fer2013(path, emotions=emotions, usage=usage)
        # A folder is searched for the layout: say where it was, which may be deep inside.
        say(f"Found FER2013 in {faces.location}")
    if faces.target is None:
        raise ValueError(
            f"{args.data} has no labels (the competition's test.csv?): labelled faces needed"
        )
    if len(faces.target) == 0:
        raise ValueError("no faces left to use after the --emotions/--usage selection")
    counts = dict(zip(*np.unique(faces.target, return_counts=True), strict=True))
    splits = ""
    if faces.get("usage") is not None and not args.sample:
        names, n = np.unique(faces.usage.astype(str), return_counts=True)
        splits = " (" + ", ".join(f"{u}: {k}" for u, k in zip(names, n, strict=True)) + ")"
    say(f"Loaded {len(faces.target)} faces of {len(counts)} emotions in "
        f"{time.perf_counter() - start:.1f} s{splits}")
    return faces


def holdout(faces, *, test_size: float, random_state, prefer_public_test: bool = True):
    """Training and test faces: FER2013's own split where the data has it, else a hold-out.

    Returns ``(X_train, X_test, y_train, y_test, description)``.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    usage = faces.get("usage")
    if prefer_public_test and usage is not None:
        usage = np.asarray(usage).astype(str)
        train, test = usage == "Training", usage == "PublicTest"
        if train.any() and test.any():
            return (faces.data[train], faces.data[test], faces.target[train],
                    faces.target[test], "FER2013's PublicTest split")
    if not 0 < test_size < 1:
        raise ValueError(f"--test-size must be between 0 and 1; got {test_size}")
    X_train, X_test, y_train, y_test = train_test_split(
        faces.data, faces.target, test_size=test_size, stratify=faces.target,
        random_state=random_state,
    )
    return X_train, X_test, y_train, y_test, f"a stratified hold-out of {test_size:.0%}"


# -- training ------------------------------------------------------------------------------

def epoch_printer():
    """A Keras callback printing one line per epoch: metrics and time."""
    import keras

    class EpochPrinter(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._total = self.params.get("epochs")

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = [f"epoch {epoch + 1}/{self._total}"]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if key in logs:
                    parts.append(f"{key} {float(logs[key]):.4f}")
            parts.append(f"{time.perf_counter() - self._start:.1f} s")
            say("  " + "  ".join(parts))

    return EpochPrinter()


def fit_with_progress(model, X, y):
    """Fit a ferkit pipeline, printing one line per epoch; leaves no callback behind.

    The printer is removed after training so the model's parameters stay plain data (a
    callback cannot be saved, and should not be cloned into later fits).
    """
    say(f"Training on {len(y)} faces")
    start = time.perf_counter()
    model.set_params(clf__callbacks=[epoch_printer()])
    try:
        model.fit(X, y)
    finally:
        model.set_params(clf__callbacks=None)
    clf = model.named_steps["clf"]
    stopped = ""
    if clf.n_epochs_ < clf.epochs:
        stopped = f" (early stopping after {clf.n_epochs_} of {clf.epochs} epochs)"
    say(f"Trained in {time.perf_counter() - start:.1f} s{stopped}")
    return model


# -- face features ---------------------------------------------------------------------------

#: Regularisation of the logistic regression on a shipped network's face features, chosen by
#: 5-fold cross-validation on the shipped sample (see benchmarks/bench_small_data.py): a few
#: hundred faces cannot support the weaker default of 1.0 on several hundred features.
EMBEDDING_C = 0.01


def make_embedding_pipeline(model):
    """``FaceEmbedder(model) -> LogisticRegression``, steps named ``embed`` and ``clf``.

    The names let ``--param C=0.1`` reach the logistic regression as it reaches a network.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from ferkit import FaceEmbedder

    return Pipeline([
        ("embed", FaceEmbedder(model)),
        ("clf", LogisticRegression(C=EMBEDDING_C, max_iter=1000)),
    ])


def fit_embedding(model, X, y) -> float:
    """Fit a :func:`make_embedding_pipeline` model, saying so; returns the seconds taken."""
    source = model.named_steps["embed"].model
    say(f"Fitting a logistic regression on {source}'s face features of {len(y)} faces")
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    say(f"Fitted in {seconds:.1f} s")
    return seconds


def _has_embedder(model) -> bool:
    from ferkit import FaceEmbedder

    return any(isinstance(step, FaceEmbedder) for _, step in getattr(model, "steps", []))


def save_or_note(model, folder: Path, *, overwrite: bool) -> Path | None:
    """``ferkit.save``; None, with a note, for a face-feature pipeline it cannot save yet.

    Versions of ferkit that save networks only refuse a FaceEmbedder pipeline with a
    TypeError; its report and pictures are still worth writing.
    """
    import ferkit

    try:
        return ferkit.save(model, folder, overwrite=overwrite)
    except TypeError as exc:
        if not _has_embedder(model):
            raise
        say(f"Note: {folder.name}/ not written: this ferkit cannot save the model ({exc})")
        return None


def print_side_by_side(title: str, results: dict) -> None:
    """Print each model's accuracy, macro-F1 and per-class F1 in columns.

    ``results`` maps a model's description to its :func:`ferkit.report` result.
    """
    names = list(results)
    width = max(len(name) for name in names)
    labels = list(dict.fromkeys(
        label for result in results.values() for label in result.target_names))
    f1 = {name: dict(zip(result.target_names, result.f1, strict=True))
          for name, result in results.items()}
    say(f"{title} (accuracy, macro-F1, then F1 of each class):")
    say(f"  {'':<{width}}  accuracy  macro-F1  " + "  ".join(f"{lab[:8]:>8}" for lab in labels))
    for name, result in results.items():
        per_class = "  ".join(f"{f1[name].get(lab, 0.0):8.3f}" for lab in labels)
        say(f"  {name:<{width}}  {result.accuracy:8.3f}  {result.macro_f1:8.3f}  {per_class}")


# -- outputs -------------------------------------------------------------------------------

def check_out(out, *, overwrite: bool) -> Path:
    """The ``--out`` folder, created and checked writable before any work is done.

    Refuses a folder that already holds results, unless ``--overwrite``: results are written
    after minutes of training, and must not be lost to a folder that cannot take them.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} exists and is not a folder")
    held = [name for name in (MODEL_DIR, REPORT_TXT) if (out / name).exists()]
    if held and not overwrite:
        what = "a model" if MODEL_DIR in held else "a report"
        raise FileExistsError(
            f"{out} already holds {what} ({out / held[0]}); pass --overwrite to replace it "
            "or choose another --out"
        )
    check_writable_folder(out, "--out")
    return out


def check_writable_folder(folder: Path, option: str) -> None:
    """Create ``folder`` (and its parents) and check a file can be written in it; a
    ValueError naming ``option`` if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(
            f"{option} {printable(str(folder))}: cannot write there "
            f"({exc.strerror or exc})"
        ) from exc


def printable(text: str) -> str:
    """``text`` with the bytes of a file name that is not valid UTF-8 shown as ``\\xNN``.

    Python keeps such bytes as lone surrogates, which no terminal or UTF-8 file can take.
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_results(model, X, y, out: Path, *, faces: bool, save_model: bool,
                  overwrite: bool, title: str):
    """Print the report; write it, the pictures and (optionally) the model to ``out``."""
    import ferkit
    from ferkit.plotting import FIGURES, save_figures

    say(f"Evaluating on {len(y)} faces")
    result = ferkit.report(model, X, y)
    say("")
    say(f"{title}: accuracy {result.accuracy:.3f}, macro-F1 {result.macro_f1:.3f}")
    say("")
    say(str(result))
    say("")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    saved = save_or_note(model, out / MODEL_DIR, overwrite=overwrite) if save_model else None
    if saved is not None:
        written.append(saved)
    (out / REPORT_TXT).write_text(f"{title}\n\n{result}\n", encoding="utf-8")
    result.to_frame().to_csv(out / REPORT_CSV)
    written += [out / REPORT_TXT, out / REPORT_CSV]
    figures = (*FIGURES, "faces") if faces else FIGURES
    written += save_figures(model, X, y, out, figures=figures, y_proba=result.y_proba).values()
    say(f"Wrote to {out}/:")
    for path in written:
        say(f"  {path.name}{'/' if path.is_dir() else ''}")
    return result


def warn(command: str, message: str) -> None:
    """A note on stderr, which the results on stdout do not mix with."""
    print(f"ferkit {command}: note: {message}", file=sys.stderr, flush=True)
