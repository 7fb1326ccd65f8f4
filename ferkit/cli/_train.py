"""``ferkit train``: train a pipeline on FER2013 (or the sample), report, write model and plots."""

from __future__ import annotations

from ferkit.cli import _common

_EPILOG = """\
Which faces are used: all of DATA (or those --emotions and --usage select). When DATA says
each face's FER2013 split (fer2013.csv, icml_face_data.csv, the image-folder layout), the
model trains on Training and is reported on PublicTest; PrivateTest is never used. Otherwise
a stratified --test-size fraction is held out for the report. The classifier keeps
--test-size apart from its own validation split (validation_split, 10%), which drives early
stopping and the validation learning curves.

Written to --out: model/ (ferkit.save format: load it with ferkit.load or
`ferkit evaluate --model DIR/model`), report.txt, report.csv and pictures (learning curves,
confusion matrices, ROC and precision-recall curves, reliability diagram; example faces with
--faces). An --out folder that already holds a model or report is left alone unless
--overwrite is given.

examples:
  ferkit train fer2013.csv --emotions angry,happy,sad --out runs/three
  ferkit train ../shared/data/fer2013-images.zip --preset default --epochs 60
  ferkit train --sample --epochs 5 --param filters=16,32,64 --param dropout=0.5
"""


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    parser = _common.add_command(
        subparsers, "train", run,
        summary="train a model on FER2013 data; report; write model and plots",
        description="Train ferkit's pipeline on FER2013 data, print the report on held-out "
                    "faces and write the model and pictures.",
        epilog=_EPILOG,
    )
    _common.add_data_arguments(parser, emotions_help="default: all in DATA")
    _common.add_training_arguments(parser, epochs=None)
    parser.add_argument(
        "--quiet", action="store_true", help="no line per epoch"
    )
    _common.add_output_arguments(parser, default="ferkit-output/train")


def run(args) -> int:
    """Load, train, report and write; returns the exit status."""
    out = _common.check_out(args.out, overwrite=args.overwrite)
    _common.say(f"Results will be written to {out}/")
    params = _common.parse_params(args.param)
    if args.epochs is not None:
        if args.epochs < 1:
            raise ValueError(f"--epochs must be at least 1; got {args.epochs}")
        params["clf__epochs"] = args.epochs
    faces = _common.load_data(args)
    X_train, X_test, y_train, y_test, held_out = _common.holdout(
        faces, test_size=args.test_size, random_state=args.random_state
    )

    import ferkit

    model = ferkit.make_fer_pipeline(preset=args.preset, random_state=args.random_state)
    model.set_params(**params)
    if args.quiet:
        model.fit(X_train, y_train)
    else:
        _common.fit_with_progress(model, X_train, y_train)
    _common.write_results(
        model, X_test, y_test, out, faces=args.faces, save_model=True,
        overwrite=args.overwrite, title=f"Report on {held_out} ({len(y_test)} faces)",
    )
    return 0
