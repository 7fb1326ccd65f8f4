"""``ferkit demo``: the main job. Train the default pipeline on the shipped sample and report."""

from __future__ import annotations

from ferkit.cli import _common

#: Training settings of the demo. The sample is small (700 faces), so the demo trains a fixed
#: number of epochs at a batch size that gives batch normalisation enough steps, rather than
#: letting early stopping judge from a validation set of 50 faces.
DEMO_PARAMS = {"batch_size": 32, "early_stopping_patience": None}
DEMO_EPOCHS = 30

_EPILOG = """\
The demo trains ferkit's default pipeline (ImageReshaper -> PixelScaler ->
FacialExpressionClassifier, the default 3-convolution network) on the 700 FER2013 faces
shipped with ferkit, holding out a stratified fifth for evaluation; prints the accuracy and
a per-class report; and writes to --out (default ferkit-output/demo, whose earlier demo
output is replaced) the model (loadable with ferkit.load or
`ferkit evaluate --model DIR/model`), report.txt, report.csv and pictures (learning curves,
confusion matrices, ROC and precision-recall curves, reliability diagram). It takes one to two
minutes on two CPU cores.

100 faces per emotion are far too few for a good model: expect roughly 20-40% accuracy on
seven emotions (chance is 14%). `ferkit train` on the full FER2013 data, or the pretrained
models (`ferkit evaluate --pretrained fer2013-7`), do much better.
"""


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = _common.add_command(
        subparsers, "demo", run,
        summary="train the default pipeline on the shipped sample; report; write model and plots",
        description="Train ferkit's default pipeline on the embedded FER2013 sample, print "
                    "the accuracy and a per-class report, and write the model and plots.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--emotions", metavar="LIST", default=None,
        help="comma-separated emotions to keep, e.g. angry,happy,sad (default: all seven)",
    )
    _common.add_training_arguments(parser, epochs=DEMO_EPOCHS)
    _common.add_output_arguments(parser, default=None)


#: Where the demo writes when no --out is given. Its own earlier output there is replaced, so
#: ``./run demo`` can be run again; an --out the user names is protected as for ``train``.
DEFAULT_OUT = "ferkit-output/demo"


def run(args) -> int:
    """Train, report and write; returns the exit status."""
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
    model = ferkit.make_fer_pipeline(preset=args.preset, **params)
    model.set_params(**_common.parse_params(args.param))
    _common.fit_with_progress(model, X_train, y_train)
    _common.write_results(
        model, X_test, y_test, out, faces=args.faces, save_model=True,
        overwrite=args.overwrite, title=f"Demo on {held_out} ({len(y_test)} faces)",
    )
    return 0
