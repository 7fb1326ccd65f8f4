"""``ferkit train``: train a pipeline on FER2013 (or the sample), report, write model and plots."""

from __future__ import annotations

from pathlib import Path

from ferkit.cli import _common

_EPILOG = """\
Which faces are used: all of DATA (or those --emotions and --usage select). When DATA says
each face's FER2013 split (fer2013.csv, icml_face_data.csv, the image-folder layout), the
model trains on Training and is reported on PublicTest; PrivateTest is never used. Otherwise
a stratified --test-size fraction is held out for the report. The classifier keeps
--test-size apart from its own validation split (validation_split, 10%), which drives early
stopping and the validation learning curves.

With --from MODEL (a shipped model's name, fer2013-7 or fer2013-3, or a saved ferkit model
folder) no network is trained: a logistic regression learns DATA's labels from MODEL's face
features (FaceEmbedder(MODEL) -> LogisticRegression), in seconds, and does much better than a
network trained from scratch on a few hundred faces. --param then sets the logistic
regression's parameters (--param C=0.1). --from MODEL --fine-tune trains MODEL's network
further on DATA instead (FacialExpressionClassifier(weights=MODEL)).

Written to --out: model/ (ferkit.save format: load it with ferkit.load or
`ferkit evaluate --model DIR/model`), report.txt, report.csv and pictures (learning curves,
confusion matrices, ROC and precision-recall curves, reliability diagram; example faces with
--faces). An --out folder that already holds a model or report is left alone unless
--overwrite is given.

examples:
  ferkit train fer2013.csv --emotions angry,happy,sad --out runs/three
  ferkit train ../shared/data/fer2013-images.zip --preset default --epochs 60
  ferkit train --sample --epochs 5 --param filters=16,32,64 --param dropout=0.5
  ferkit train my-faces/ --from fer2013-7 --out runs/mine
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
    parser.add_argument(
        "--from", dest="from_model", metavar="MODEL", default=None,
        help="fit a logistic regression on the face features of MODEL (fer2013-7, fer2013-3 "
             "or a saved model folder) instead of training a network",
    )
    parser.add_argument(
        "--fine-tune", action="store_true",
        help="with --from: fine-tune MODEL's network on DATA instead",
    )
    _common.add_output_arguments(parser, default="ferkit-output/train")


def _check_from(args) -> None:
    """Refuse options that do not apply to the model --from asks for, before any work."""
    if args.fine_tune and args.from_model is None:
        raise ValueError("--fine-tune needs --from MODEL: the model to fine-tune")
    if args.from_model is None:
        return
    from ferkit._pretrained import PRETRAINED

    if args.from_model not in PRETRAINED and not Path(args.from_model).is_dir():
        raise ValueError(f"--from {args.from_model}: neither a shipped model "
                         f"({', '.join(PRETRAINED)}) nor a saved model folder")
    if args.fine_tune:
        return
    for option, value in (("--epochs", args.epochs), ("--preset", args.preset)):
        if value is not None:
            raise ValueError(f"{option} applies to networks; --from {args.from_model} "
                             "fits a logistic regression (add --fine-tune to train a network)")


def _network(args, params):
    """The pipeline to train: a network from scratch or, with --fine-tune, from --from."""
    import ferkit

    if args.fine_tune:
        import inspect

        if "weights" not in inspect.signature(ferkit.FacialExpressionClassifier).parameters:
            raise ValueError("--fine-tune: this version of ferkit cannot fine-tune a network "
                             "(FacialExpressionClassifier has no weights parameter)")
        # Mirrored faces averaged at prediction, as in the shipped networks it starts from.
        model = ferkit.make_fer_pipeline(preset=args.preset, random_state=args.random_state,
                                         weights=args.from_model, test_time_flip=True)
    else:
        model = ferkit.make_fer_pipeline(preset=args.preset, random_state=args.random_state)
    return model.set_params(**params)


def run(args) -> int:
    """Load, train, report and write; returns the exit status."""
    _check_from(args)
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

    if args.from_model is not None and not args.fine_tune:
        model = _common.make_embedding_pipeline(args.from_model).set_params(**params)
        _common.fit_embedding(model, X_train, y_train)
    else:
        model = _network(args, params)
        if args.quiet:
            model.fit(X_train, y_train)
        else:
            _common.fit_with_progress(model, X_train, y_train)
    _common.write_results(
        model, X_test, y_test, out, faces=args.faces, save_model=True,
        overwrite=args.overwrite, title=f"Report on {held_out} ({len(y_test)} faces)",
    )
    return 0
