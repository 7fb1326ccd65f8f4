"""A small data set of one's own: the shipped networks' face features against training anew.

Everything is fitted on the sample shipped with ferkit (``load_sample``: 656 PublicTest faces,
100 per emotion, all 56 disgust) and measured on the rest of FER2013's PublicTest split, the
2,933 faces outside the sample (no disgust among them: the sample took all 56). No shipped
network was trained on PublicTest (it chose their epochs, so the figures of anything built on
them lean slightly optimistic). Three tasks:

- the seven emotions (target: accuracy >= 0.60);
- angry, happy and sad, fitted on the sample's 300 faces of those three (target >= 0.80);
- valence, a relabelled task: positive (happy, surprise), negative (angry, disgust, fear,
  sad) and neutral.

Ways, each fitted on the same faces:

- ``make_pipeline(FaceEmbedder(name), LogisticRegression(C=0.01))`` with each shipped
  network as the embedder (``C`` chosen by 5-fold cross-validation on the sample alone);
- ferkit's network trained from scratch, as ``ferkit demo`` trains it;
- fine-tuning ``FacialExpressionClassifier(weights="fer2013-7", test_time_flip=True)`` (all
  three networks of the vote as one, their new output layer started from a linear probe;
  mirrored faces averaged at prediction, as the shipped networks do) after ``ImageReshaper``
  and ``PixelScaler``, where the classifier takes ``weights`` (reported as not available
  otherwise);
- for reference, the shipped model as it is, with no fitting (valence: its emotions mapped).

Reported per row: accuracy and macro-F1 on the held-out faces (macro over the classes present
there), and fit seconds (for the embedding pipelines these include loading the shipped model
and embedding the training faces). Held-out features are computed once per embedder and fed to
each fitted logistic regression, which gives the pipeline's own predictions.

Usage, from the repository root::

    .venv/bin/python benchmarks/bench_small_data.py            # full size (about 10 minutes)
    .venv/bin/python benchmarks/bench_small_data.py --quick    # smoke test

``--quick`` measures 150 held-out faces with the lighter embedder (``fer2013-3``), the
networks on angry/happy/sad only and for one epoch, and no reference rows. Without
``../shared/data/fer2013-images.zip`` there is no held-out set: the script says so; with
``--quick`` it then fits on half of the sample and measures the other half (figures that mean
nothing, to check that the script runs), and without it exits without measuring.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import markdown_table, write_section
from _timing import ARCHIVE, load_note

SECTION = "Small data: shipped face features against training anew"
COMMAND = ".venv/bin/python benchmarks/bench_small_data.py"

#: Relabelling of the seven emotions for the valence task.
VALENCE = {"happy": "positive", "surprise": "positive", "neutral": "neutral",
           "angry": "negative", "disgust": "negative", "fear": "negative", "sad": "negative"}
#: Task name -> (emotions kept, relabelling or None, accuracy target or None).
TASKS = {
    "seven emotions": (None, None, 0.60),
    "angry/happy/sad": (("angry", "happy", "sad"), None, 0.80),
    "valence": (None, VALENCE, None),
}
EMBEDDERS = ("fer2013-7", "fer2013-3")
#: Regularisation of the logistic regression on the features (cross-validated on the sample).
C = 0.01
NOT_AVAILABLE = "not available yet"


def _data(quick: bool):
    """``(X_train, y_train, X_test, y_test, description)``, or None without a held-out set."""
    from ferkit.datasets import load_fer2013, load_sample

    sample = load_sample()
    if not ARCHIVE.exists():
        if not quick:
            return None
        from sklearn.model_selection import train_test_split

        X_train, X_test, y_train, y_test = train_test_split(
            sample.data, sample.target, test_size=0.5, stratify=sample.target, random_state=0)
        return (X_train, y_train, X_test, y_test,
                f"{ARCHIVE} not found: fitted on half of the sample, measured on the other "
                "half (a smoke test; the figures mean nothing)")
    public = load_fer2013(ARCHIVE, usage="PublicTest")
    outside = ~np.isin(public.member, sample.member)
    X_test, y_test = public.data[outside], public.target[outside]
    held_out = f"the {outside.sum():,} PublicTest faces outside it"
    if quick:
        keep = np.random.default_rng(0).choice(len(y_test), size=150, replace=False)
        X_test, y_test = X_test[keep], y_test[keep]
        held_out = f"150 of {held_out} (quick mode)"
    return (sample.data, sample.target, X_test, y_test,
            f"fitted on the {len(sample.target)}-face sample; measured on {held_out}")


def _task(name, X, y):
    """The faces and labels of task ``name``."""
    emotions, relabel, _ = TASKS[name]
    keep = np.ones(len(y), bool) if emotions is None else np.isin(y, emotions)
    y = y[keep]
    if relabel is not None:
        y = np.asarray([relabel[e] for e in y], dtype=object)
    return X[keep], y


def _scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": accuracy_score(y_true, y_pred),
            "macro-F1": f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro")}


def _row(task, way, scores=None, seconds=None, note="") -> dict:
    target = TASKS[task][2]
    row = {"task": task, "way": way, "accuracy": "-", "macro-F1": "-", "fit s": "-",
           "target": "-" if target is None else f">= {target:.2f}", "note": note}
    if scores is not None:
        row["accuracy"] = f"{scores['accuracy']:.3f}"
        row["macro-F1"] = f"{scores['macro-F1']:.3f}"
        if target is not None:
            row["target"] += " met" if scores["accuracy"] >= target else " missed"
    if seconds is not None:
        row["fit s"] = f"{seconds:.1f}"
    return row


def _timed_fit(model, X, y) -> float:
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def embedding_rows(data, embedders) -> list[dict]:
    """FaceEmbedder + LogisticRegression on every task, for each embedder."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from ferkit import FaceEmbedder

    X_train, y_train, X_test, y_test, _ = data
    rows = []
    for name in embedders:
        features = FaceEmbedder(name).fit(X_test[:1]).transform(X_test)
        for task in TASKS:
            X, y = _task(task, X_train, y_train)
            model = make_pipeline(FaceEmbedder(name), LogisticRegression(C=C, max_iter=1000))
            seconds = _timed_fit(model, X, y)
            Z, truth = _task(task, features, y_test)
            scores = _scores(truth, model[-1].predict(Z))
            rows.append(_row(task, f"FaceEmbedder(\"{name}\") + LogisticRegression", scores,
                             seconds))
    return rows


def _network_rows(data, way, make_model, tasks) -> list[dict]:
    """A network pipeline ``make_model()`` fitted and measured on each of ``tasks``."""
    X_train, y_train, X_test, y_test, _ = data
    rows = []
    for task in tasks:
        X, y = _task(task, X_train, y_train)
        model = make_model()
        try:
            seconds = _timed_fit(model, X, y)
        except Exception as exc:  # a failure is a result to report
            rows.append(_row(task, way, note=f"failed: {type(exc).__name__}: {exc}"[:160]))
            continue
        X_eval, truth = _task(task, X_test, y_test)
        rows.append(_row(task, way, _scores(truth, model.predict(X_eval)), seconds))
    return rows


def scratch_rows(data, epochs, tasks=tuple(TASKS)) -> list[dict]:
    """ferkit's network trained from scratch, with the demo's settings."""
    import ferkit
    from ferkit.cli._demo import DEMO_PARAMS

    return _network_rows(
        data, f"network from scratch ({epochs} epochs, as `ferkit demo`)",
        lambda: ferkit.make_fer_pipeline(**dict(DEMO_PARAMS, epochs=epochs, random_state=0)),
        tasks)


def fine_tune_available() -> bool:
    """Whether FacialExpressionClassifier takes ``weights`` (fine-tuning a shipped model)."""
    from ferkit import FacialExpressionClassifier

    return "weights" in inspect.signature(FacialExpressionClassifier).parameters


def fine_tune_rows(data, epochs, tasks=tuple(TASKS)) -> list[dict]:
    """Fine-tuning the shipped ``fer2013-7`` network, or a row per task saying it cannot."""
    way = (f"fine-tuned FacialExpressionClassifier(weights=\"fer2013-7\", test_time_flip=True) "
           f"({epochs} epochs)")
    if not fine_tune_available():
        return [_row(task, way, note=NOT_AVAILABLE) for task in tasks]
    from sklearn.pipeline import make_pipeline

    from ferkit import FacialExpressionClassifier
    from ferkit.cli._demo import DEMO_PARAMS
    from ferkit.preprocessing import ImageReshaper, PixelScaler

    return _network_rows(data, way, lambda: make_pipeline(
        ImageReshaper(), PixelScaler(),
        FacialExpressionClassifier(weights="fer2013-7", epochs=epochs, random_state=0,
                                   test_time_flip=True, **DEMO_PARAMS)), tasks)


def reference_rows(data) -> list[dict]:
    """The shipped models as they are: nothing fitted on the sample."""
    import ferkit

    _, _, X_test, y_test, _ = data
    seven = ferkit.load_pretrained("fer2013-7").predict(X_test)
    rows = []
    for task in TASKS:
        name = "fer2013-3" if task == "angry/happy/sad" else "fer2013-7"
        X, truth = _task(task, X_test, y_test)
        if name == "fer2013-3":
            pred = ferkit.load_pretrained(name).predict(X)
        else:
            pred = _task(task, seven, y_test)[0]
            relabel = TASKS[task][1]
            if relabel is not None:
                pred = np.asarray([relabel[e] for e in pred], dtype=object)
        rows.append(_row(task, f"shipped \"{name}\" as it is (reference, nothing fitted)",
                         _scores(truth, pred)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="150 held-out faces, one embedder, networks on one task for "
                             "one epoch (a smoke test)")
    args = parser.parse_args(argv)
    start_load = load_note()
    data = _data(args.quick)
    if data is None:
        print(f"{ARCHIVE} not found: this benchmark measures on FER2013's PublicTest faces "
              "outside the sample, so it needs the archive; nothing measured.")
        return 0
    print(data[-1])
    # Small classes in the quick subsets leave some metrics undefined (counted as 0).
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
    if args.quick:
        rows = embedding_rows(data, EMBEDDERS[1:])
        rows += scratch_rows(data, 1, tasks=["angry/happy/sad"])
        rows += fine_tune_rows(data, 1, tasks=["angry/happy/sad"])
    else:
        from ferkit.cli._demo import DEMO_EPOCHS

        rows = embedding_rows(data, EMBEDDERS)
        rows += scratch_rows(data, DEMO_EPOCHS)
        rows += fine_tune_rows(data, DEMO_EPOCHS)
        rows += reference_rows(data)
    rows.sort(key=lambda row: list(TASKS).index(row["task"]))
    table = markdown_table(rows)
    print(table)
    body = (
        f"{data[-1][0].upper()}{data[-1][1:]}. Machine load: {start_load} at the start, "
        f"{load_note()} at the end. Accuracy and macro-F1 (over the classes present) on the "
        "held-out faces; fit seconds include loading the shipped model and embedding the "
        "training faces. LogisticRegression(C=0.01, max_iter=1000).\n\n" + table
    )
    write_section(SECTION, body, command=COMMAND + (" --quick" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
