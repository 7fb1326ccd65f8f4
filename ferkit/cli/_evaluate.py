"""``ferkit evaluate``: report on a saved or pretrained model on labelled faces."""

from __future__ import annotations

from pathlib import Path

from ferkit.cli import _common

_EPILOG = """\
Which faces are used: when DATA says each face's FER2013 split, PublicTest (choose others
with --usage, e.g. --usage PrivateTest); otherwise all of DATA. By default only the emotions
the model knows are kept.

Written to --out: report.txt, report.csv and pictures (confusion matrices, ROC and
precision-recall curves, reliability diagram, the model's learning curves; example faces
with --faces). An --out folder that already holds a model or report is left alone unless
--overwrite is given; the model itself is never written.

examples:
  ferkit evaluate fer2013.csv --model ferkit-output/train/model
  ferkit evaluate ../shared/data/fer2013-images.zip --pretrained fer2013-3
"""


def register(subparsers) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = _common.add_command(
        subparsers, "evaluate", run,
        summary="report on a saved or pretrained model; write the pictures",
        description="Evaluate a saved or pretrained model on labelled FER2013 faces: print "
                    "the per-class report and write it with pictures.",
        epilog=_EPILOG,
    )
    _common.add_data_arguments(parser, emotions_help="default: those the model knows")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--model", metavar="DIR", help="a model folder written by ferkit.save or ferkit train"
    )
    source.add_argument(
        "--pretrained", metavar="NAME",
        help="a pretrained model shipped with ferkit: fer2013-7 or fer2013-3",
    )
    _common.add_output_arguments(parser, default="ferkit-output/evaluate")


def _load_model(args):
    import ferkit

    if args.pretrained:
        _common.say(f"Loading the pretrained model {args.pretrained}")
        return ferkit.load_pretrained(args.pretrained)
    folder = Path(args.model)
    # `ferkit train --out DIR` writes the model to DIR/model: accept DIR too.
    if not (folder / "ferkit.json").exists() and (folder / _common.MODEL_DIR /
                                                  "ferkit.json").exists():
        folder = folder / _common.MODEL_DIR
    _common.say(f"Loading the model in {folder}")
    return ferkit.load(folder)


def run(args) -> int:
    """Load the model and data, report and write; returns the exit status."""
    import numpy as np

    from ferkit._emotions import EMOTIONS

    out = _common.check_out(args.out, overwrite=args.overwrite)
    model = _load_model(args)
    classes = [str(c) for c in np.asarray(model.classes_)]
    known = tuple(c for c in classes if c in EMOTIONS)
    faces = _common.load_data(args, emotions=known if len(known) == len(classes) else None)
    X, y = faces.data, faces.target
    if args.usage is None and faces.get("usage") is not None and not args.sample:
        usage = np.asarray(faces.usage).astype(str)
        if (usage == "PublicTest").any():
            X, y = X[usage == "PublicTest"], y[usage == "PublicTest"]
            _common.say(f"Using the PublicTest split: {len(y)} faces")
    if args.sample and args.pretrained:
        _common.warn("evaluate", "the shipped sample comes from FER2013's PublicTest split, "
                     "which chose the pretrained models' epochs: expect slightly optimistic "
                     "scores")
    where = args.pretrained or args.model
    _common.write_results(
        model, X, y, out, faces=args.faces, save_model=False, overwrite=args.overwrite,
        title=f"Evaluation of {where} on {args.data or 'the shipped sample'} ({len(y)} faces)",
    )
    return 0
