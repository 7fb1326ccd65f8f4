"""``ferkit tune``: search the pipeline's hyper-parameters with Optuna.

Writes the best pipeline in ferkit's model format, the best parameters, a table of the
trials and Optuna's pictures to ``--out``. Several ``ferkit tune`` processes given the same
``--storage`` and ``--study-name`` share one study (on one machine or many).
"""

from __future__ import annotations

import argparse
import json

from ferkit.cli import _common

BEST_PARAMS = "best_params.json"
TRIALS_CSV = "trials.csv"

_EPILOG = """\
What is searched: ferkit.model_selection.default_search_space() -- learning rate
(log-uniform 1e-4..1e-2), dropout (0..0.5), filters, dense units and batch size. A
parameter pinned with --param is not searched.

Which faces are used: when DATA says each face's FER2013 split and no --usage is given, the
Training split only, so that PublicTest stays unseen for evaluating the tuned model.
Each trial is scored by stratified --cv-fold cross-validation; unpromising trials are pruned
from their per-epoch validation loss (--no-pruning runs every trial to the end).

Several processes, on one machine or many, can share one study: start each with the same
--storage and --study-name. --trials is the total of the study, not of each process. A
study keeps the search that created it: joining it with another search space or other
pinned parameters (--param, --epochs) is refused. A trial whose process was killed is
noticed after three --heartbeat intervals without a heartbeat, marked failed and run again
by another process; each process waits for the others' trials before writing its results.

Written to --out: model/ (ferkit.save format: load it with ferkit.load or
`ferkit evaluate --model DIR/model`), best_params.json, trials.csv and the pictures
optimization_history.png, param_importances.png and intermediate_values.png (when the study
has the data for them). An --out folder that already holds a model is left alone unless
--overwrite is given.

examples:
  ferkit tune --sample --emotions angry,happy,sad --trials 10 --epochs 5
  ferkit tune fer2013.csv --trials 50 --storage sqlite:///study.db --study-name fer7
  ferkit tune --sample --trials 4 --cv 2 --epochs 2 --param filters=8,16 --max-samples 200
"""


def register(subparsers) -> None:
    """Add the ``tune`` subcommand."""
    parser = subparsers.add_parser(
        "tune",
        help="tune hyper-parameters with Optuna; write the best model and plots",
        description="Search the classifier's hyper-parameters with Optuna and "
                    "cross-validation, refit the best on all the faces, and write the model, "
                    "the trials and Optuna's pictures.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common.add_data_arguments(parser, emotions_help="default: all in DATA")
    parser.add_argument(
        "--trials", type=int, default=20, metavar="N",
        help="trials in the study, all processes together (default: %(default)s)",
    )
    parser.add_argument(
        "--cv", type=int, default=3, metavar="K",
        help="cross-validation folds per trial (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, metavar="N",
        help="maximum epochs per fit (default: the classifier's, 30; early stopping and "
             "pruning end many fits sooner)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="pin a FacialExpressionClassifier parameter instead of searching it, e.g. "
             "--param filters=16,32,64 or --param augment=True (repeatable)",
    )
    parser.add_argument(
        "--max-samples", type=int, default=None, metavar="N",
        help="tune on a stratified random subset of N faces, for quicker searches",
    )
    parser.add_argument(
        "--storage", metavar="URL", default=None,
        help="Optuna storage shared by the processes of one study, e.g. sqlite:///study.db "
             "or postgresql://user:password@host/db (default: in memory)",
    )
    parser.add_argument(
        "--study-name", metavar="NAME", default=None,
        help="name of the study in --storage; an existing study is continued",
    )
    parser.add_argument(
        "--heartbeat", type=int, default=30, metavar="SECONDS",
        help="seconds between the heartbeats a process writes to --storage while it runs a "
             "trial (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="start no new trial in this process after this many seconds",
    )
    parser.add_argument(
        "--no-pruning", action="store_true", help="run every trial to its last epoch"
    )
    parser.add_argument(
        "--random-state", type=int, default=0, metavar="SEED",
        help="seed of the search, the subset and the networks (default: %(default)s)",
    )
    parser.add_argument(
        "--out", metavar="DIR", default="ferkit-output/tune",
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a model already in --out"
    )
    parser.set_defaults(func=run)


def _check_numbers(args) -> None:
    for flag, value, low in (("--trials", args.trials, 1), ("--cv", args.cv, 2),
                             ("--epochs", args.epochs, 1), ("--max-samples", args.max_samples, 2),
                             ("--random-state", args.random_state, 0),
                             ("--heartbeat", args.heartbeat, 1)):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be at least {low}; got {value}")
    if args.timeout is not None and not args.timeout > 0:
        raise ValueError(f"--timeout must be positive; got {args.timeout}")


def _tuning_faces(args):
    """``(X, y)``: the faces to tune on (Training split where known; optional subset)."""
    import numpy as np

    faces = _common.load_data(args)
    X, y = faces.data, faces.target
    usage = faces.get("usage")
    if args.usage is None and not args.sample and usage is not None:
        train = np.asarray(usage).astype(str) == "Training"
        if train.any() and not train.all():
            X, y = X[train], y[train]
            _common.say(f"Tuning on the Training split ({len(y)} faces); the other splits "
                        "stay unseen")
    if args.max_samples is not None and args.max_samples < len(y):
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(
            X, y, train_size=args.max_samples, stratify=y, random_state=args.random_state
        )
        _common.say(f"Tuning on a stratified subset of {len(y)} faces")
    return X, y


def _search_space(pinned: dict) -> dict:
    from ferkit.model_selection import default_search_space

    space = {name: dist for name, dist in default_search_space(prefix="clf__").items()
             if name not in pinned}
    if not space:
        raise ValueError(
            "every parameter of the search space is pinned by --param: nothing to tune"
        )
    return space


def _trials_table(cv_results: dict):
    """cv_results_ as a table a spreadsheet reads: one row a trial, tuples as text."""
    import numpy as np
    import pandas as pd

    columns = ["trial_number", "state", "rank_test_score", "mean_test_score",
               "std_test_score", "mean_fit_time"]
    table = pd.DataFrame({name: cv_results[name] for name in columns})
    for name, values in cv_results.items():
        if name.startswith("param_"):
            table[name.removeprefix("param_clf__").removeprefix("param_")] = [
                None if masked else ",".join(map(str, value)) if isinstance(value, tuple)
                else value
                for value, masked in zip(values.data, np.ma.getmaskarray(values), strict=True)
            ]
    return table


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def run(args) -> int:
    """Load, search, refit and write; returns the exit status."""
    _check_numbers(args)
    out = _common.check_out(args.out, overwrite=args.overwrite)
    pinned = _common.parse_params(args.param)
    if args.epochs is not None:
        pinned["clf__epochs"] = args.epochs
    space = _search_space(pinned)
    X, y = _tuning_faces(args)

    import matplotlib

    matplotlib.use("Agg")  # pictures go to files; no screen needed
    import ferkit
    from ferkit.model_selection import OptunaSearchCV

    pipeline = ferkit.make_fer_pipeline().set_params(**pinned)
    search = OptunaSearchCV(
        pipeline, space, n_trials=args.trials, cv=args.cv, storage=args.storage,
        study_name=args.study_name, pruning=not args.no_pruning, timeout=args.timeout,
        random_state=args.random_state, heartbeat_interval=args.heartbeat,
    )
    _common.say(f"Searching {', '.join(n.removeprefix('clf__') for n in space)} over "
                f"{args.trials} trials, {args.cv}-fold cross-validation on {len(y)} faces")
    search.fit(X, y)

    results = search.cv_results_
    pruned = int(results["pruned"].sum())
    _common.say("")
    _common.say(f"Study {search.study_.study_name!r}: {search.n_trials_} trials "
                f"({pruned} pruned). Best cross-validated accuracy {search.best_score_:.4f} "
                f"(trial {results['trial_number'][search.best_index_]}):")
    for name, value in search.best_params_.items():
        _common.say(f"  {name.removeprefix('clf__')} = {value!r}")

    out.mkdir(parents=True, exist_ok=True)
    written = [ferkit.save(search.best_estimator_, out / _common.MODEL_DIR,
                           overwrite=args.overwrite)]
    best = {
        "study_name": search.study_.study_name,
        "best_trial": int(results["trial_number"][search.best_index_]),
        "best_score": search.best_score_,
        "best_params": {name: _plain(value) for name, value in search.best_params_.items()},
        "pinned_params": {name: _plain(value) for name, value in pinned.items()},
    }
    (out / BEST_PARAMS).write_text(json.dumps(best, indent=2) + "\n", encoding="utf-8")
    _trials_table(results).to_csv(out / TRIALS_CSV, index=False)
    written += [out / BEST_PARAMS, out / TRIALS_CSV]
    written += search.save_plots(out).values()
    _common.say(f"Wrote to {out}/:")
    for path in written:
        _common.say(f"  {path.name}{'/' if path.is_dir() else ''}")
    return 0
