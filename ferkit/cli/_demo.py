"""``ferkit demo``: the main job. Train a network from scratch and a logistic regression on the
shipped network's face features on the shipped sample; report them side by side."""

from __future__ import annotations

from ferkit.cli import _common

#: Training settings of the demo. The sample is small (656 faces), so the demo trains a fixed
#: number of epochs at a batch size that gives batch normalisation enough steps, rather than
#: letting early stopping judge from a validation set of 50 faces.
DEMO_PARAMS = {"batch_size": 32, "early_stopping_patience": None}
DEMO_EPOCHS = 30

_EPILOG = """\
The demo trains two models on the 656 FER2013 faces shipped with ferkit (drawn from FER2013's
PublicTest split, on which no shipped network was trained), holding out the same stratified
fifth for evaluating both:

- ferkit's default pipeline (ImageReshaper -> PixelScaler -> FacialExpressionClassifier, the
  default 3-convolution network), trained from scratch;
- a logistic regression on the face features of the shipped network fer2013-7
  (FaceEmbedder("fer2013-7") -> LogisticRegression): how a small data set of one's own is
  best used.

It prints each model's accuracy, the network's per-class report and both side by side, and
writes to --out (default ferkit-output/demo, whose earlier demo output is replaced) the network
(model/, loadable with ferkit.load or `ferkit evaluate --model DIR/model`), report.txt,
report.csv and pictures of the network (learning curves, confusion matrices, ROC and
precision-recall curves, reliability diagram), and the face-feature model (embedding-model/).
It takes one to two minutes on two CPU cores.

About 100 faces per emotion are far too few to train a network well: expect roughly 20-40%
accuracy on seven emotions (chance is 14%) from scratch, and about 60% from the shipped
network's features. `ferkit train DATA --from fer2013-7` does the latter on your own faces.
"""


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = _common.add_command(
        subparsers, "demo", run,
        summary="train a network and a face-feature model on the shipped sample; compare",
        description="Train ferkit's default pipeline from scratch and a logistic regression "
                    "on the shipped network's face features on the embedded FER2013 sample, "
                    "print their accuracies side by side with a per-class report, and write "
                    "the models and plots.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--emotions", metavar="LIST", default=None,
        help="comma-separated emotions to keep, e.g. angry,happy,sad (default: all seven)",
    )
    _common.add_training_arguments(parser, epochs=DEMO_EPOCHS)
    _common.add_output_arguments(parser, default=None)


#: The shipped network whose face features the second model reads, and that model's name.
EMBEDDER = "fer2013-7"
EMBEDDING = f'FaceEmbedder("{EMBEDDER}") + LogisticRegression'
#: Sub-folder of --out that holds the face-feature model.
EMBEDDING_DIR = "embedding-model"

#: Where the demo writes when no --out is given. Its own earlier output there is replaced, so
#: ``./run demo`` can be run again; an --out the user names is protected as for ``train``.
DEFAULT_OUT = "ferkit-output/demo"


def run(args) -> int:
    """Train both models, report and write; returns the exit status."""
    if args.out is None:
        args.out, args.overwrite = DEFAULT_OUT, True
    out = _common.check_out(args.out, overwrite=args.overwrite)
    _common.say(f"Results will be written to {out}/")
    args.data, args.sample, args.usage = None, True, None
    faces = _common.load_data(args)
    X_train, X_test, y_train, y_test, held_out = _common.holdout(
        faces, test_size=args.test_size, random_state=args.random_state
    )

    import ferkit

    params = dict(DEMO_PARAMS, epochs=args.epochs, random_state=args.random_state)
    network = ferkit.make_fer_pipeline(preset=args.preset, **params)
    network.set_params(**_common.parse_params(args.param))
    _common.say("1. ferkit's network, trained from scratch")
    _common.fit_with_progress(network, X_train, y_train)
    _common.say(f"2. {EMBEDDING}")
    embedding = _common.make_embedding_pipeline(EMBEDDER)
    _common.fit_embedding(embedding, X_train, y_train)

    where = f"{held_out} ({len(y_test)} faces)"
    results = {"network from scratch": _common.write_results(
        network, X_test, y_test, out, faces=args.faces, save_model=True,
        overwrite=args.overwrite, title=f"Network trained from scratch, on {where}",
    )}
    results[EMBEDDING] = ferkit.report(embedding, X_test, y_test)
    _common.say(f"{EMBEDDING}, on {where}: accuracy {results[EMBEDDING].accuracy:.3f}, "
                f"macro-F1 {results[EMBEDDING].macro_f1:.3f}")
    saved = _common.save_or_note(embedding, out / EMBEDDING_DIR, overwrite=args.overwrite)
    if saved is not None:
        _common.say(f"Wrote the face-feature model to {saved}/")
    _common.say("")
    _common.print_side_by_side(f"Side by side, on {where}", results)
    return 0
