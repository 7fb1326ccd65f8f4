"""Accuracy on FER2013's PublicTest: train with a preset, evaluate, ship pretrained models.

Train on Training, select on PublicTest only (PrivateTest is held back for independent
judging). Runs are long on a CPU, so every epoch is checkpointed under ``runs/<run>/`` (an
ignored folder) with Keras' ``BackupAndRestore``: rerun the same command to resume (the
run's record counts the epochs and time of every sitting).

Usage, from the repository root::

    python benchmarks/accuracy.py train --task fer2013-7 --preset large --epochs 30
    python benchmarks/accuracy.py evaluate --task fer2013-7 --preset large --epochs 30
    python benchmarks/accuracy.py ship --task fer2013-7 --preset large   # into ferkit/pretrained
    python benchmarks/accuracy.py train --task fer2013-7 --preset large --epochs 30 --seed 1
    python benchmarks/accuracy.py evaluate --task fer2013-7 --preset large --epochs 30 --seed 0 1
    python benchmarks/accuracy.py report     # table of every finished run -> RESULTS.md
    nice -n 19 python benchmarks/accuracy.py train --task fer2013-7 --preset large \
        --recipe sgd-bf16 --epochs 100 >> runs/fer2013-7-large+sgd-bf16.log 2>&1 &

``train`` ends with ``evaluate``, which scores the run's final weights on PublicTest as the
model predicts, without and with test-time flipping, and ten-crop (:data:`VIEWS`), and
records the result in ``benchmarks/accuracy_runs/<run>.json``
(tracked, so the table outlives the ignored ``runs/`` folder of the machine that trained).

``--recipe`` adds one of :data:`RECIPES` to the preset (issue #20's candidates, measured here
before any becomes a preset default); the run is then named ``<task>-<preset>+<recipe>``.

``--task fer2013-3`` is the original work's three emotions (angry, happy, sad). ``--seed``
sets the run's ``random_state``; given several seeds (or ``--recipe R1 R2``: recipes) of
finished runs, ``evaluate`` and ``ship`` take the soft vote of their networks (a
``VotingClassifier``, saved as one model), each computing in its run's precision.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _results import markdown_table, write_section  # noqa: E402

from ferkit._presets import PRESETS, SGD_RECIPE  # noqa: E402  (light: no TensorFlow)

ARCHIVE = ROOT.parent / "shared" / "data" / "fer2013-images.zip"
RUNS = ROOT / "runs"
#: One small JSON file per finished run: what ``report`` tabulates.
RECORDS = ROOT / "benchmarks" / "accuracy_runs"
#: In each run's folder: one line per finished epoch, appended across the sittings of a
#: resumed run.
EPOCH_SECONDS = "epoch_seconds.txt"
TASKS = {
    "fer2013-7": None,
    "fer2013-3": ("angry", "happy", "sad"),
}


#: Candidate training recipes, each parameters added to the preset's (and the precision of
#: the network's computations). ``sgd``: ferkit's :data:`~ferkit._presets.SGD_RECIPE`, what
#: the published from-scratch FER2013 networks share (the ``xl`` preset has it already, so
#: there the recipe adds only its precision); ``-erasing`` adds random erasing,
#: ``-mixup`` MixUp with alpha 1 (the ResNet-18 recipe's, with label smoothing 0.1);
#: ``-distill`` learns from the shipped vote (``teacher``: its name, and the share of its
#: probabilities in the targets, the rest the one-hot labels; see :func:`teacher_targets`);
#: ``-bf16`` computes in bfloat16 (Keras' mixed_bfloat16 policy: weights stay float32),
#: which took 1.4x less CPU time per epoch than float32 for the large network on an Intel
#: Xeon with AMX-BF16 (2,048 faces, interleaved), but is slower where the CPU has no bfloat16
#: instructions: 0.73x float32's images per second on a 2-core AVX2 AMD EPYC
#: (``bench_training.py --quick``), so there the ``sgd`` recipe is the one to train with.
RECIPES: dict[str, dict] = {
    "sgd": {"params": SGD_RECIPE, "precision": "float32"},
    "sgd-bf16": {"params": SGD_RECIPE, "precision": "mixed_bfloat16"},
    "sgd-erasing-bf16": {
        "params": {**SGD_RECIPE, "augment": {"flip": 1.0, "rotation": 0.03, "zoom": 0.1,
                                       "shift": 0.1, "contrast": 0.2, "erasing": 0.5}},
        "precision": "mixed_bfloat16"},
    "sgd-mixup-bf16": {"params": {**SGD_RECIPE, "mixup": 1.0}, "precision": "mixed_bfloat16"},
    "sgd-distill-bf16": {"params": SGD_RECIPE, "precision": "mixed_bfloat16",
                         "teacher": ("fer2013-7", 0.5)},
}


#: A single run's record keeps its PublicTest accuracy after each epoch (without flip, as
#: Keras validates) under this key; ``report`` samples it every :data:`CURVE_STEP` epochs.
CURVE = "val_accuracy_by_epoch"
CURVE_STEP = 10

#: The side of the five crops in the ten-crop view: the fraction ``bench_test_time.py``
#: found best for the shipped networks, fixed here rather than chosen again for each run.
TEN_CROP = 0.96
#: The test-time views every run is scored with, beside the model as it predicts: the
#: published from-scratch figures (73.3%, 73.7%) are ten-crop averages, so a run's
#: ten-crop score is the one to compare with them.
VIEWS = {
    "without_flip": {"test_time_flip": False, "test_time_crops": None},
    "with_flip": {"test_time_flip": True, "test_time_crops": None},
    "ten_crop": {"test_time_flip": True, "test_time_crops": TEN_CROP},
}


def recipes_of(args) -> list[str | None]:
    """The ``--recipe`` of each run in the vote (``[None]``: the preset alone; callers that
    predate several recipes pass one name)."""
    recipe = getattr(args, "recipe", None)
    return [recipe] if recipe is None or isinstance(recipe, str) else list(recipe)


def recipe_of(args) -> str | None:
    """The run's one ``--recipe`` (what ``train`` takes)."""
    (recipe,) = recipes_of(args)
    return recipe


def member_label(preset: str, recipe: str | None) -> str:
    """A preset and the recipe added to it: ``large`` or ``large+sgd-bf16``."""
    return preset + (f"+{recipe}" if recipe else "")


def label(args) -> str:
    """The runs' preset and recipes: ``large``, ``large+sgd-bf16``, or for a vote across
    recipes ``large+sgd-bf16+sgd-distill-bf16``."""
    return args.preset + "".join(f"+{recipe}" for recipe in recipes_of(args) if recipe)


def members(args) -> list[tuple[str | None, int]]:
    """(recipe, seed) of each run in the vote: every ``--recipe`` with every ``--seed``."""
    return [(recipe, seed) for recipe in recipes_of(args) for seed in args.seed]


def precision_of(recipe: str | None) -> str:
    """The Keras dtype policy a recipe trains and is evaluated in."""
    return RECIPES[recipe]["precision"] if recipe else "float32"


@contextlib.contextmanager
def computing_in(policy: str):
    """Keras' global dtype policy, for the networks built inside, restored on leaving (a
    network keeps the policy it was built with)."""
    import keras

    before = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def load_split(usage: str, emotions):
    """Images and labels of one split, cached in runs/cache keyed by the archive's content."""
    cache = RUNS / "cache" / f"fer2013-{archive_digest(ARCHIVE)}.npz"
    if not cache.exists():
        # Caches of other archives (or of this one under the old size-and-time keys) go.
        for stale in cache.parent.glob("fer2013-*.npz"):
            stale.unlink()
        from ferkit.datasets import load_fer2013

        data = load_fer2013(ARCHIVE)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=data.images, target=np.asarray(data.target, dtype=str),
                 usage=np.asarray(data.usage, dtype=str))
    with np.load(cache) as npz:
        keep = npz["usage"] == usage
        if emotions is not None:
            keep &= np.isin(npz["target"], emotions)
        return npz["images"][keep], npz["target"][keep].astype(object)


def archive_digest(path: Path) -> str:
    """A short digest of a zip's members (names, sizes, CRCs): read from its central
    directory, so it is quick, and unlike the file's time it survives a fresh copy."""
    import hashlib
    import zipfile

    digest = hashlib.sha1()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            digest.update(f"{info.filename}\0{info.file_size}\0{info.CRC}\n".encode())
    return digest.hexdigest()[:16]


def run_name(task: str, preset: str, seed: int = 0) -> str:
    # Seed 0 keeps the historical names, so earlier records stay where they were.
    return f"{task}-{preset}" + (f"-seed{seed}" if seed else "")


def record_name(task: str, preset: str, seeds: list[int]) -> str:
    """One run's name, or the ensemble's: ``fer2013-7-large-seeds0-1``."""
    if len(seeds) == 1:
        return run_name(task, preset, seeds[0])
    return f"{task}-{preset}-seeds" + "-".join(map(str, seeds))


def build(preset: str, epochs: int, seed: int, callbacks=None, verbose: int = 2,
          recipe: str | None = None):
    from ferkit import make_fer_pipeline

    extra = RECIPES[recipe]["params"] if recipe else {}
    return make_fer_pipeline(
        preset=preset, epochs=epochs, random_state=seed, verbose=verbose, callbacks=callbacks,
        **extra,
    )


def evaluate(model, X, y) -> dict:
    """Accuracy, macro-F1 and per-class figures of ``model`` as it predicts (its own settings)."""
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    pred = model.predict(X)
    report = classification_report(y, pred, output_dict=True, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "per_class": {
            c: {k: float(report[c][k]) for k in ("precision", "recall", "f1-score", "support")}
            for c in model.classes_
        },
    }


def cmd_train(args) -> int:
    import keras

    emotions = TASKS[args.task]
    X_train, y_train = load_split("Training", emotions)
    X_val, y_val = load_split("PublicTest", emotions)
    (seed,) = args.seed
    run = RUNS / run_name(args.task, label(args), seed)
    run.mkdir(parents=True, exist_ok=True)
    print(f"{args.task}/{label(args)}: {len(X_train)} training faces, {len(X_val)} PublicTest",
          flush=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run / "backup")),
        keras.callbacks.CSVLogger(str(run / "epochs.csv"), append=True),
        _epoch_timer(run / EPOCH_SECONDS),
    ]
    teacher = RECIPES[recipe_of(args)].get("teacher") if recipe_of(args) else None
    fit_kwargs = {} if teacher is None else {
        "soft_targets": teacher_targets(*teacher, X_train, y_train, cache=run / "teacher.npy")}
    with computing_in(precision_of(recipe_of(args))):
        model = build(args.preset, args.epochs, seed, callbacks=callbacks,
                      recipe=recipe_of(args))
        # The pipeline's own steps prepare validation data too: fit them first, then hand
        # the classifier PublicTest as its validation set (early stopping selects on it).
        prep = model[:-1].fit(X_train)
        model[-1].fit(prep.transform(X_train), y_train,
                      validation_data=(prep.transform(X_val), y_val), **fit_kwargs)
    model[-1].model_.save_weights(run / "final.weights.h5")
    # A resumed run's fit sees only its last sitting: count every sitting's epochs.
    seconds = [float(line) for line in (run / EPOCH_SECONDS).read_text().split()]
    (run / "training.json").write_text(json.dumps(
        {"epochs_run": len(seconds), "train_seconds": round(sum(seconds))}))
    return cmd_evaluate(args)


def teacher_targets(name: str, weight: float, X, y, cache: Path | None = None):
    """Distillation targets: ``weight`` x the shipped model ``name``'s probabilities for the
    training faces + (1 - ``weight``) x their one-hot labels; columns in sorted class order.

    Kept in ``cache`` (the run's folder) so a resumed run does not predict them again, and
    computed in float32 whatever the run's precision (shipped networks compute in float32).
    """
    from ferkit import load_pretrained

    if cache is not None and cache.exists():
        return np.load(cache)
    classes = np.unique(y)
    with computing_in("float32"):
        teacher = load_pretrained(name)
        if list(teacher.classes_) != list(classes):
            raise ValueError(f"teacher {name} has classes {list(teacher.classes_)}, the run "
                             f"{list(classes)}")
        proba = teacher.predict_proba(X)
    targets = weight * proba + (1 - weight) * (y[:, None] == classes)
    if cache is not None:
        np.save(cache, targets)
    return targets


def _epoch_timer(path: Path):
    """A callback appending each finished epoch's wall-clock seconds to ``path``."""
    import keras

    started = {}

    def begin(epoch, logs=None):
        started["at"] = time.perf_counter()

    def end(epoch, logs=None):
        with open(path, "a") as f:
            f.write(f"{time.perf_counter() - started['at']:.1f}\n")

    return keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)


def score_views(model, X, y) -> tuple[dict, dict]:
    """The model scored as it predicts, and its accuracy and macro-F1 with each of
    :data:`VIEWS` (every network set to the view, then restored)."""
    networks = classifiers(model)
    own = {key: networks[0].get_params()[key] for key in ("test_time_flip", "test_time_crops")}
    result, views = evaluate(model, X, y), {}
    try:
        for view, params in VIEWS.items():
            for clf in networks:
                clf.set_params(**params)
            scored = result if params == own else evaluate(model, X, y)
            views[f"accuracy_{view}"] = scored["accuracy"]
            views[f"macro_f1_{view}"] = scored["macro_f1"]
    finally:
        for clf in networks:
            clf.set_params(**own)
    return result, views


def cmd_evaluate(args) -> int:
    """Score a finished run's final weights (or several runs' soft vote) on PublicTest, as it
    predicts and with each of :data:`VIEWS`."""
    emotions = TASKS[args.task]
    X_train, y_train = load_split("Training", emotions)
    X_val, y_val = load_split("PublicTest", emotions)
    # Each network computes in the precision it was trained in, as during its run.
    model = rebuild_runs(args, X_train, y_train, precision=None)
    result, views = score_views(model, X_val, y_val)
    runs = [RUNS / run_name(args.task, member_label(args.preset, recipe), seed)
            for recipe, seed in members(args)]
    trained = [json.loads((run / "training.json").read_text()) for run in runs]
    if len(runs) == 1:
        (trained,) = trained
    else:
        trained = {key: [t[key] for t in trained] for key in trained[0]}
    result.update(
        task=args.task, preset=label(args),
        test_time_flip=classifiers(model)[0].test_time_flip,
        seed=args.seed[0] if len(runs) == 1 else args.seed, networks=len(runs),
        **views, ten_crop_fraction=TEN_CROP, **trained, command=reproduce_command(args),
    )
    if len(runs) == 1:
        # The learning curve, from the epoch log of every sitting: whether more epochs
        # would have paid is read from it (``report``'s curve table).
        history = classifiers(model)[0].history_
        result[CURVE] = [round(v, 4) for v in history.get("val_accuracy", [])]
        (runs[0] / "result.json").write_text(json.dumps(result, indent=2))
    RECORDS.mkdir(exist_ok=True)
    name = record_name(args.task, label(args), args.seed)
    (RECORDS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in (
        "accuracy", "macro_f1", *views, "epochs_run")}),
        flush=True)
    return 0


def reproduce_command(args) -> str:
    """The commands that train the runs and, for a vote, evaluate them together."""
    recipes, seeds = recipes_of(args), " ".join(map(str, args.seed))
    recipe = " --recipe R" if len(recipes) > 1 else \
        (f" --recipe {recipes[0]}" if recipes[0] else "")
    train = f"python benchmarks/accuracy.py train --task {args.task} " \
            f"--preset {args.preset}{recipe} --epochs {args.epochs}"
    if len(recipes) == 1 and len(args.seed) == 1:
        return train + (f" --seed {args.seed[0]}" if args.seed[0] else "")
    loops = ([f"R in {' '.join(recipes)}"] if len(recipes) > 1 else []) + \
        ([f"S in {seeds}"] if len(args.seed) > 1 else [])
    train += " --seed S" if len(args.seed) > 1 else ""
    together = (f" --recipe {' '.join(recipes)}" if recipes[0] else "") + f" --seed {seeds}"
    return (f"{train}, for {' and '.join(loops)}; then python benchmarks/accuracy.py evaluate "
            f"--task {args.task} --preset {args.preset}{together} --epochs {args.epochs}")


def classifiers(model) -> list:
    """The networks of a pipeline: its classifier, or every member of its ensemble."""
    return list(getattr(model[-1], "estimators_", [model[-1]]))


def rebuild_runs(args, X_train, y_train, precision: str | None = "float32"):
    """The run of ``--recipe R --seed S`` as a fitted pipeline; given several recipes or
    seeds, the soft vote of every run of them.

    ``precision``: the Keras dtype policy the networks compute in; None, each run's own.
    """
    models = []
    for recipe, seed in members(args):
        run = RUNS / run_name(args.task, member_label(args.preset, recipe), seed)
        with computing_in(precision or precision_of(recipe)):
            models.append(rebuild(run, args.preset, args.epochs, seed, X_train, y_train,
                                  recipe=recipe))
    if len(models) == 1:
        return models[0]
    several = len(recipes_of(args)) > 1
    return soft_vote(models, [f"{recipe}-seed{seed}" if several else f"seed{seed}"
                              for recipe, seed in members(args)])


def soft_vote(models: list, names: list[str]):
    """One pipeline averaging the probabilities of separately trained pipelines.

    Each was trained in its own run, so the ``VotingClassifier`` is assembled with the
    attributes its ``fit`` would leave; the members' preprocessing steps are identical and
    stateless, so the first one's serve all.
    """
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    for model in models[1:]:
        if repr(model[:-1]) != repr(models[0][:-1]) or \
                list(model.classes_) != list(models[0].classes_):
            raise ValueError("the runs differ in preprocessing or classes; cannot vote")
    members = [(name, model[-1]) for name, model in zip(names, models, strict=True)]
    vote = VotingClassifier(members, voting="soft")
    vote.estimators_ = [clf for _, clf in members]
    vote.named_estimators_ = Bunch(**dict(members))
    # The members' classes are the emotion names themselves (VotingClassifier.fit would have
    # given them encoded labels); soft voting only needs them in the same order.
    vote.le_ = LabelEncoder().fit(models[0].classes_)
    vote.classes_ = vote.le_.classes_
    return Pipeline([*models[0].steps[:-1], ("clf", vote)])


def rebuild(run: Path, preset: str, epochs: int, seed: int, X_train, y_train,
            recipe: str | None = None):
    """The fitted pipeline of a finished run, from its final weights and epoch log."""
    import csv

    # The same parameters as in training (minus the checkpoint callbacks), so the shipped
    # ferkit.json says how the model was trained.
    model = build(preset, epochs=epochs, seed=seed, verbose=0, recipe=recipe)
    model[:-1].fit(X_train[:1])
    # initialize() builds the network for these classes without training it.
    model[-1].initialize(model[:-1].transform(X_train), y_train)
    with warnings.catch_warnings():
        # The file holds the optimizer's state too; predicting needs none of it.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model[-1].model_.load_weights(run / "final.weights.h5")
    with open(run / "epochs.csv") as f:
        rows = list(csv.DictReader(f))
    model[-1].history_ = {
        key: [float(r[key]) for r in rows] for key in rows[0] if key != "epoch"
    }
    return model


def cmd_ship(args) -> int:
    """Copy a finished run into ferkit/pretrained with float16 weights, if accuracy holds."""
    import ferkit

    emotions = TASKS[args.task]
    X_train, y_train = load_split("Training", emotions)
    model = rebuild_runs(args, X_train, y_train)
    X_val, y_val = load_split("PublicTest", emotions)
    before = evaluate(model, X_val, y_val)
    record = RECORDS / f"{record_name(args.task, label(args), args.seed)}.json"
    recorded = json.loads(record.read_text())["accuracy"]
    # Shipped networks compute in float32 (bfloat16 is slow where the CPU lacks it, and the
    # saved architecture stays policy-free); a run trained and recorded in bfloat16 is
    # shipped only if float32 computing keeps its accuracy within issue #20's 0.3 points.
    precisions = {precision_of(recipe) for recipe in recipes_of(args)}
    precision = "+".join(sorted(precisions))
    tolerance = 1e-9 if precisions == {"float32"} else 0.003
    if abs(before["accuracy"] - recorded) > tolerance:
        print(f"rebuilt model scores {before['accuracy']:.4f} in float32, run recorded "
              f"{recorded:.4f} in {precision}", file=sys.stderr)
        return 1
    target = ROOT / "ferkit" / "pretrained" / args.task
    ferkit.save(model, target, overwrite=True, weights_dtype="float16", include_optimizer=False)
    after = evaluate(ferkit.load(target), X_val, y_val)
    print(f"accuracy float32 {before['accuracy']:.4f} -> float16 {after['accuracy']:.4f}")
    if abs(after["accuracy"] - before["accuracy"]) > 0.002:
        print("float16 changed accuracy by more than 0.2 points", file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    rows, details = [], []
    records = [json.loads(path.read_text()) for path in sorted(RECORDS.glob("*.json"))]
    for r in records:
        views = {view: r.get(f"accuracy_{view}") for view in VIEWS}
        networks = r.get("networks", 1)
        preset = r["preset"] + (f" x{networks} (soft vote)" if networks > 1 else "")
        rows.append({
            "task": r["task"], "preset": preset,
            "test-time flip": "yes" if r.get("test_time_flip") else "no",
            "accuracy": f"{r['accuracy']:.4f}", "macro-F1": f"{r['macro_f1']:.4f}",
            **{f"accuracy {view.replace('_', ' ')}": "-" if value is None else f"{value:.4f}"
               for view, value in views.items()},
            "epochs": _per_network(r["epochs_run"]),
            "train time (s)": _per_network(r["train_seconds"]), "command": f"`{r['command']}`",
        })
        per_class = [
            {"emotion": c, "precision": f"{v['precision']:.3f}", "recall": f"{v['recall']:.3f}",
             "F1": f"{v['f1-score']:.3f}", "support": int(v["support"])}
            for c, v in r["per_class"].items()
        ]
        details.append(f"### {r['task']} / {preset} / {_per_network(r['epochs_run'])} epochs\n\n"
                       f"{markdown_table(per_class)}\n")
    if not rows:
        print(f"no finished runs recorded in {RECORDS.relative_to(ROOT)}")
        return 1
    table, curves = markdown_table(rows), curve_table(records)
    print(table)
    body = (
        "Trained on FER2013 Training, evaluated on PublicTest (the selection split; PrivateTest "
        "is held back). Presets: `plain` = the original 3-conv network without the recipe, "
        "`default` = the same network with the recipe, `large` = 4 blocks x 2 convolutions "
        "with the recipe, `xl` = `large` at twice the width trained with SGD (see "
        "`ferkit/_presets.py`); `+name` adds one of `accuracy.py`'s candidate recipes "
        "(`RECIPES`: `-bf16` trains in bfloat16). *accuracy* and *macro-F1* are the model "
        "as it predicts (with test-time flip where the preset has it; the per-class tables "
        "too); the last three accuracy columns score the same weights without and with the "
        f"mirror image, and with the ten-crop (five crops of {TEN_CROP} of the side and their "
        "mirror images: how the published from-scratch figures are measured). Runs "
        "recorded before a view was scored show '-' there.\n\n"
        + table + "\n\n" + curves + "\n".join(details)
    )
    write_section("accuracy", body, command="python benchmarks/accuracy.py report")
    return 0


def curve_table(records: list[dict]) -> str:
    """Markdown: each single run's PublicTest accuracy (no flip) every :data:`CURVE_STEP`
    epochs (and after the longest run's last), with its best epoch; empty when no record
    has a curve."""
    curved = [r for r in records if r.get(CURVE)]
    if not curved:
        return ""
    longest = max(len(r[CURVE]) for r in curved)
    rows = []
    for r in curved:
        curve = r[CURVE]
        row = {"task": r["task"], "preset": r["preset"]}
        for epoch in [*range(CURVE_STEP, longest, CURVE_STEP), longest]:
            row[f"epoch {epoch}"] = f"{curve[epoch - 1]:.3f}" if epoch <= len(curve) else "-"
        best = int(np.argmax(curve))
        row["best (epoch)"] = f"{curve[best]:.3f} ({best + 1})"
        rows.append(row)
    return ("Learning curves: PublicTest accuracy without flip after each epoch, as Keras "
            "validated during training.\n\n" + markdown_table(rows) + "\n\n")


def _per_network(value) -> str:
    """A run's figure, or an ensemble's figures one per network: ``40 + 40``."""
    return " + ".join(map(str, value)) if isinstance(value, list) else str(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("train", "evaluate", "ship"):
        p = sub.add_parser(name)
        p.add_argument("--task", choices=sorted(TASKS), required=True)
        p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                       help="a preset of ferkit's (ferkit.PRESETS)")
        p.add_argument("--epochs", type=int, default=30)
        p.add_argument("--recipe", choices=sorted(RECIPES), nargs="+", default=None,
                       help="a candidate recipe added to the preset (see RECIPES); several "
                            "(evaluate, ship): the vote of their runs")
        p.add_argument("--seed", type=int, nargs="+", default=[0],
                       help="random_state of the run; several (evaluate, ship): their ensemble")
    sub.add_parser("report")
    args = parser.parse_args(argv)
    if args.command == "train" and (len(args.seed) != 1 or len(recipes_of(args)) != 1):
        parser.error("train takes one --seed and one --recipe; train each, then evaluate "
                     "them together")
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "ship": cmd_ship,
                "report": cmd_report}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
