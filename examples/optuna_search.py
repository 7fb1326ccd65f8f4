"""OptunaSearchCV with a shared SQLite study: a search that several processes can share.

``ferkit.model_selection.OptunaSearchCV`` is a scikit-learn estimator (``fit``,
``best_params_``, ``cv_results_``, ``predict``...) driven by an Optuna study. Given a
``storage`` and a ``study_name``, the study lives in a database: every process started with
the same two values joins it, the storage hands each trial to exactly one process, and
``n_trials`` counts the trials of all of them together.

This script plays two such workers one after the other in one process (the first runs 3
trials, the second joins the stored study and brings it to 5), then refits the best parameters,
scores them on held-out faces and saves Optuna's pictures. To really run workers in
parallel, start the same search in several terminals or machines, for example::

    ferkit tune --sample --trials 40 --storage sqlite:///study.db --study-name fer --out tune-1
    ferkit tune --sample --trials 40 --storage sqlite:///study.db --study-name fer --out tune-2

(each worker writes its results to its own ``--out``; across machines use a database
server, e.g. ``postgresql://user:password@host/db``).

Run from the repository root::

    .venv/bin/python examples/optuna_search.py

It takes under a minute on two CPU cores; the study and pictures go to a temporary folder
that is removed at the end (pass a folder to keep them:
``.venv/bin/python examples/optuna_search.py runs/optuna``). With so few faces the scores are
low: this shows the mechanics. Set FERKIT_EXAMPLE_FAST=1 for a tiny network (smoke tests).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up messages

import sys
import tempfile
import warnings
from pathlib import Path

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution
from sklearn.model_selection import train_test_split

from ferkit import make_fer_pipeline
from ferkit.datasets import load_sample
from ferkit.model_selection import OptunaSearchCV

FAST = os.environ.get("FERKIT_EXAMPLE_FAST") == "1"
NETWORK = dict(dense_units=(8,), epochs=2) if FAST else dict(dense_units=(16,), epochs=4)
FILTERS = [(4,), (4, 8)] if FAST else [(8,), (8, 16)]
TRIALS = (2, 3) if FAST else (3, 5)  # the study's size after worker 1, after worker 2


def search_space() -> dict:
    """Optuna distributions for the classifier step, addressed as ``clf__<parameter>``."""
    with warnings.catch_warnings():
        # Optuna warns that tuple choices do not fit its storage; OptunaSearchCV stores
        # them as JSON text ("[8, 16]") and hands the estimator tuples, so it does not apply.
        warnings.filterwarnings("ignore", message="Choices for a categorical distribution")
        filters = CategoricalDistribution(FILTERS)
    return {
        "clf__learning_rate": FloatDistribution(1e-3, 3e-2, log=True),
        "clf__dropout": FloatDistribution(0.0, 0.5),
        "clf__filters": filters,
    }


def main(folder=None) -> OptunaSearchCV:
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is too chatty
    keep = folder is not None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(folder if keep else tmp)
        folder.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{folder / 'study.db'}"

        faces = load_sample(emotions=("happy", "sad", "surprise"))
        X_train, X_test, y_train, y_test = train_test_split(
            faces.data, faces.target, test_size=0.25, stratify=faces.target, random_state=0
        )

        def worker(n_trials: int, refit: bool) -> OptunaSearchCV:
            # validation_split > 0 gives the per-epoch validation loss that pruning judges.
            pipeline = make_fer_pipeline(validation_split=0.2, **NETWORK)
            search = OptunaSearchCV(
                pipeline, search_space(), n_trials=n_trials, cv=2, storage=storage,
                study_name="ferkit-example", refit=refit, random_state=0,
            )
            return search.fit(X_train, y_train)

        first = worker(n_trials=TRIALS[0], refit=False)
        print(f"worker 1: the study holds {first.n_trials_} trials")
        search = worker(n_trials=TRIALS[1], refit=True)  # joins the stored study, adds trials
        print(f"worker 2: the study holds {search.n_trials_} trials "
              f"(stored in {storage.removeprefix('sqlite:///')})")

        results = pd.DataFrame(search.cv_results_)
        columns = ["trial_number", "state", "param_clf__learning_rate", "param_clf__dropout",
                   "param_clf__filters", "mean_test_score", "rank_test_score"]
        print(results[columns].to_string(index=False))
        print(f"best parameters: {search.best_params_}")
        print(f"best cross-validated accuracy: {search.best_score_:.3f}")
        print(f"accuracy on {len(y_test)} held-out faces: {search.score(X_test, y_test):.3f}")
        for name, path in search.save_plots(folder).items():
            print(f"{name}: {path}")
        if not keep:
            print("(the temporary folder is removed now; pass a folder to keep the files)")
    return search


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
