"""GridSearchCV over a ferkit pipeline: tune the classifier and a preprocessing step together.

``ferkit.make_fer_pipeline`` names its steps ``reshape``, ``scale`` and ``clf``, so a grid
reaches the classifier's parameters as ``clf__dropout`` and the scaler's as
``scale__method``, exactly as for any scikit-learn pipeline. The search runs stratified
cross-validation on part of the FER2013 sample shipped with ferkit (three emotions), then
the refit best pipeline is scored on faces it never saw.

Run from the repository root::

    .venv/bin/python examples/grid_search_pipeline.py

It takes well under a minute on two CPU cores. With so few faces the scores are low: this
shows the mechanics, not a useful model (see examples/optuna_search.py for searches that
outgrow a grid). Set FERKIT_EXAMPLE_FAST=1 for a tiny network and a smaller grid (smoke
tests).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up messages

import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from ferkit import THREE_EMOTIONS, make_fer_pipeline
from ferkit.datasets import load_sample

FAST = os.environ.get("FERKIT_EXAMPLE_FAST") == "1"
NETWORK = (
    dict(filters=(4,), dense_units=(8,), epochs=1)
    if FAST
    else dict(filters=(8, 16), dense_units=(16,), epochs=4, early_stopping_patience=None)
)
GRID = (
    {"clf__dropout": [0.0, 0.3]}
    if FAST
    else {"clf__dropout": [0.0, 0.3], "scale__method": ["unit", "image"]}
)


def main() -> GridSearchCV:
    faces = load_sample(emotions=THREE_EMOTIONS)
    X_train, X_test, y_train, y_test = train_test_split(
        faces.data, faces.target, test_size=0.25, stratify=faces.target, random_state=0
    )
    pipeline = make_fer_pipeline(random_state=0, **NETWORK)
    # The sample is stored grouped by emotion: shuffle the folds.
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(pipeline, GRID, cv=cv, scoring="accuracy")
    search.fit(X_train, y_train)

    results = pd.DataFrame(search.cv_results_)
    columns = [f"param_{name}" for name in GRID] + ["mean_test_score", "std_test_score",
                                                    "rank_test_score"]
    print(f"{len(y_train)} training faces ({', '.join(THREE_EMOTIONS)}), "
          f"{len(results)} candidates x {cv.get_n_splits()} folds")
    print(results[columns].sort_values("rank_test_score").to_string(index=False))
    print(f"best parameters: {search.best_params_}")
    print(f"best cross-validated accuracy: {search.best_score_:.3f}")
    print(f"accuracy of the refit best pipeline on {len(y_test)} held-out faces: "
          f"{search.score(X_test, y_test):.3f}")
    return search


if __name__ == "__main__":
    main()
