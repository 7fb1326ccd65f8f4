"""Smoke tests: each speed and reliability benchmark runs end to end in its --quick mode.

Results go to a RESULTS.md in tmp_path (``FERKIT_RESULTS``), never to benchmarks/RESULTS.md.
The figures of a quick run mean nothing; the tests check that each script measures both
sides, computes its ratios and writes its section.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str):
    """A benchmark script loaded as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def results(tmp_path, monkeypatch):
    path = tmp_path / "RESULTS.md"
    monkeypatch.setenv("FERKIT_RESULTS", str(path))
    return path


def _section(path: Path, name: str) -> str:
    text = path.read_text()
    match = re.search(rf"<!-- BEGIN {re.escape(name)} -->(.*?)<!-- END {re.escape(name)} -->",
                      text, re.S)
    assert match, f"section {name!r} missing from {text[:500]}"
    return match.group(1)


def _ratio(section: str, row: str, column: int) -> float:
    """The number in ``column`` of the table row starting with ``row``."""
    line = next(line for line in section.splitlines() if line.startswith(f"| {row}"))
    return float(line.split("|")[column + 1].strip().replace(",", ""))


def _approx_quotient(a: float, b: float, decimals: int = 0):
    """``a / b``, for a ratio a table prints to 2 decimals beside ``a`` and ``b`` printed to
    ``decimals``: each printed figure may be off by half its last unit, which matters when
    the figures are small (a slow machine's images per second)."""
    half = 0.5 * 10.0**-decimals
    ratio = a / b
    return pytest.approx(ratio, abs=ratio * (half / a + half / b) + 0.005 + 1e-9)


def test_training_quick(results):
    bench = _script("bench_training")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    assert "Machine load:" in section and "embedded 656-face sample" in section
    for pair in ("unseeded", "repeatable"):
        ours, theirs = _ratio(section, pair, 1), _ratio(section, pair, 2)
        assert ours > 0 and theirs > 0
        assert _ratio(section, pair, 3) == _approx_quotient(ours, theirs)
    # The precision part: each side's speed against plain Keras float32's, and its FLOP rate.
    precision = _section(results, bench.PRECISION_SECTION)
    base = _ratio(precision, "keras float32", 1)
    assert _ratio(precision, "keras float32", 2) == 1.0
    for side in bench.PRECISION_SIDES:
        speed = _ratio(precision, f"{side} |", 1)
        assert _ratio(precision, f"{side} |", 2) == _approx_quotient(speed, base)
        flops = bench.network_flops("tiny", 7) * 3 * speed / 1e9
        assert _ratio(precision, f"{side} |", 5) == pytest.approx(flops, rel=0.01, abs=0.05)


@pytest.mark.slow
def test_training_settings_quick(results):
    """Every setting trains in its own process and gets its ratios to the baseline."""
    bench = _script("bench_training_settings")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    base = _ratio(section, bench.BASELINE, 1)
    assert _ratio(section, bench.BASELINE, 2) == 1.0
    for setting in bench.SETTINGS:
        speed = _ratio(section, f"{setting} |", 1)
        assert speed > 0
        assert _ratio(section, f"{setting} |", 2) == _approx_quotient(speed, base)
    assert "Faster than the baseline" in section


def test_training_settings_verdict_needs_both_ratios_past_the_noise():
    bench = _script("bench_training_settings")
    rows = [{"setting": bench.BASELINE, "vs baseline": "1.00", "median paired ratio": "1.00"},
            {"setting": "a", "vs baseline": "1.30", "median paired ratio": "1.20"},
            {"setting": "b", "vs baseline": "1.30", "median paired ratio": "1.01"},
            {"setting": "c", "vs baseline": "0.80", "median paired ratio": "0.90"}]
    text = bench.verdict(rows)
    assert "both ratios: a (1.30x)." in text
    assert "Slower by as much: c (0.80x)." in text
    assert "b (" not in text


def test_network_flops_count_every_multiply_add():
    """The default network by hand: 3x3 convolutions 1->32 at 48x48, 32->64 at 24x24,
    64->128 at 12x12, then dense 6*6*128->256->128->7, two FLOPs per multiply-add."""
    bench = _script("bench_training")
    convs = 48 * 48 * 32 * 9 * 1 + 24 * 24 * 64 * 9 * 32 + 12 * 12 * 128 * 9 * 64
    dense = 6 * 6 * 128 * 256 + 256 * 128 + 128 * 7
    assert bench.network_flops("default", 7) == 2 * (convs + dense)
    # The large network: two convolutions a block, the second reading its block's filters.
    convs = sum(side * side * f * 9 * (cin + f) for side, cin, f in
                [(48, 1, 32), (24, 32, 64), (12, 64, 128), (6, 128, 256)])
    dense = 3 * 3 * 256 * 256 + 256 * 7
    assert bench.network_flops("large", 7) == 2 * (convs + dense)


def test_prediction_quick(results):
    bench = _script("bench_prediction")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    for path in ("ferkit `predict_proba`", "`model.predict_on_batch`",
                 "`model(x, training=False)`"):
        assert f"| {path}" in section
    assert _ratio(section, "batch throughput vs best plain path", 1) > 0
    assert _ratio(section, "single-face median vs best", 1) > 0


@pytest.mark.slow
def test_import_quick(results):
    bench = _script("bench_import")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    ferkit_row = next(line for line in section.splitlines()
                      if line.startswith("| `import ferkit` |"))
    # The real assertion of this benchmark: importing ferkit loads no TensorFlow.
    assert "| none |" in ferkit_row
    assert "freshly saved pipeline" in section or "pretrained" in section
    assert "keras `model.predict`" in section


def test_video_quick(results):
    """Both clips' peaks measured in fresh processes, both loops timed, the ratio computed
    (tiny clips, the LBP cascade and no network: seconds)."""
    pytest.importorskip("av")
    bench = _script("bench_video")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    # Figures carry thousands separators (a pytest process's peak passes 1,000 MB).
    peaks = [float(row.split("|")[6].replace(",", "")) for row in section.splitlines()
             if re.match(r"\| \d+ s \(", row)]
    assert len(peaks) == 2 and all(peak > 50 for peak in peaks)
    fps = {row.split("|")[1].strip(): float(row.split("|")[4].replace(",", ""))
           for row in section.splitlines() if row.startswith(("| predict_video", "| decode"))}
    ratio = float(re.search(r"analyses ([\d.]+)x the frames per second", section).group(1))
    assert ratio == _approx_quotient(fps["predict_video"], fps["decode + detect"], 1)
    assert "within 200 MB" in section and "network's share" in section


@pytest.mark.slow
def test_robustness_quick(results):
    # The whole corpus is tests/test_robustness.py, which the suite runs anyway: the script's
    # own work (running it, tallying, the table) is checked on two of its properties.
    bench = _script("bench_robustness")
    assert bench.main(["--quick", "--select", "transformers or classifier_predict_proba"]) == 0
    section = _section(results, bench.SECTION)
    tried, passed = map(int, re.search(r"(\d+) cases tried, (\d+) passed", section).groups())
    assert tried > 20 and passed > 0
    assert "| **all** |" in section


@pytest.mark.slow
def test_parallel_quick(results):
    """For each workload (cross-validation, ``ferkit predict`` over a folder), n_jobs=1 and
    n_jobs=2 both measured; the speed-up is the ratio of their medians, and the workers'
    results (fold scores; files, boxes and emotions) are n_jobs=1's."""
    bench = _script("bench_parallel")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    lines = section.splitlines()
    header = [cell.strip() for cell in next(line for line in lines
                                             if line.startswith("| work |")).split("|")[1:-1]]
    rows = {}
    for line in lines:
        if line.startswith(("| cross_val_score", "| ferkit predict")):
            cells = dict(zip(header, (c.strip() for c in line.split("|")[1:-1]), strict=True))
            rows[cells["work"].split(",")[0], cells["candidate"]] = (
                float(cells["wall s (median)"]), float(cells["speed-up vs n_jobs=1"]),
                cells["results as n_jobs=1"])
    assert sorted(rows) == sorted((work, candidate) for work in bench.WORKLOADS
                                  for candidate in bench.QUICK_CANDIDATES)
    for work in bench.WORKLOADS:
        (serial, one, same1), (parallel, speed_up, same) = (rows[work, "n_jobs=1"],
                                                            rows[work, "n_jobs=2"])
        assert serial > 0 and parallel > 0 and one == 1.0
        assert speed_up == _approx_quotient(serial, parallel, 2)
        assert same1 == same == "yes"
    assert "Why not always 2x" in section
    assert f"{bench.QUICK_PHOTOS} photos" in section


def test_run_all_rejects_unknown_names(capsys):
    run_all = _script("run_all")
    with pytest.raises(SystemExit) as exc:
        run_all.main(["--only", "no-such-benchmark"])
    assert exc.value.code == 2
    assert "no-such-benchmark" in capsys.readouterr().err


def test_run_all_finds_every_benchmark():
    run_all = _script("run_all")
    names = [name for name, _ in run_all.scripts()]
    assert {"bench_training.py", "bench_prediction.py", "bench_import.py",
            "bench_robustness.py"} <= set(names)
    assert all(run_all.supports_quick(n) for n in names if n.startswith("bench_"))
    assert ("accuracy.py", ["report"]) in run_all.scripts()


def test_run_all_puts_the_overview_first(results):
    run_all = _script("run_all")
    results_module = sys.modules["_results"]
    results_module.write_section("some benchmark", "figures", command="x")
    results_module.write_section(run_all.SECTION, "what ran", command="y")
    run_all._overview_first()
    text = results.read_text()
    assert text.index(f"BEGIN {run_all.SECTION}") < text.index("BEGIN some benchmark")
    assert text.count("BEGIN ") == 2 and text.startswith("# ferkit benchmark results")


def test_run_all_passes_quick_to_the_scripts_that_have_it(results, monkeypatch):
    run_all = _script("run_all")
    ran = []

    def run(name, args, timeout):
        ran.append((name, args))
        return {"script": name, "status": "ok", "seconds": "0"}

    monkeypatch.setattr(run_all, "run", run)
    assert run_all.main(["--quick", "--only", "training", "accuracy"]) == 0
    assert ran == [("bench_training.py", ["--quick"]), ("accuracy.py", ["report"])]


def test_run_all_end_to_end(tmp_path):
    """run_all starts each script as its own process and records how it went; ``accuracy.py
    report`` is the script it runs here because it only tabulates (under a second)."""
    path = tmp_path / "RESULTS.md"
    env = dict(os.environ, FERKIT_RESULTS=str(path), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run_all.py"), "--quick", "--only", "accuracy"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    overview = _section(path, "overview")
    assert "| `python benchmarks/accuracy.py report` | ok |" in overview
    text = path.read_text()
    assert text.index("BEGIN overview") < text.index("BEGIN accuracy")


def test_accuracy_soft_vote_of_separate_runs(sample3, tiny_params, tmp_path):
    """Runs trained apart (as accuracy.py trains seeds) vote as one saved pipeline."""
    import numpy as np

    import ferkit

    accuracy = _script("accuracy")
    runs = [ferkit.make_fer_pipeline(**{**tiny_params, "random_state": seed})
            .fit(sample3.data, sample3.target) for seed in (0, 1)]
    vote = accuracy.soft_vote(runs, ["seed0", "seed1"])
    expected = (runs[0].predict_proba(sample3.data) + runs[1].predict_proba(sample3.data)) / 2
    np.testing.assert_allclose(vote.predict_proba(sample3.data), expected, rtol=1e-6)
    assert (vote.predict(sample3.data) == vote.classes_[expected.argmax(axis=1)]).all()
    assert accuracy.classifiers(vote) == [runs[0][-1], runs[1][-1]]
    loaded = ferkit.load(ferkit.save(vote, tmp_path / "vote"))
    np.testing.assert_array_equal(loaded.predict_proba(sample3.data),
                                  vote.predict_proba(sample3.data))
    other = ferkit.make_fer_pipeline(**tiny_params).fit(
        sample3.data, np.where(sample3.target == "sad", "happy", sample3.target))
    with pytest.raises(ValueError, match="differ in preprocessing or classes"):
        accuracy.soft_vote([runs[0], other], ["a", "b"])
    assert accuracy.record_name("fer2013-7", "large", [0]) == "fer2013-7-large"
    assert accuracy.record_name("fer2013-7", "large", [2]) == "fer2013-7-large-seed2"
    assert accuracy.record_name("fer2013-7", "large", [0, 1]) == "fer2013-7-large-seeds0-1"


@pytest.mark.parametrize("recipe", ["sgd", "sgd-bf16", "sgd-erasing-bf16", "sgd-mixup-bf16",
                                    "sgd-distill-bf16"])
def test_accuracy_recipes_are_parameters_the_classifier_takes(recipe, sample3, tiny_params):
    """Each candidate recipe of the long runs builds, and trains a step, with its precision."""
    import argparse

    import keras

    accuracy = _script("accuracy")
    args = argparse.Namespace(preset="large", recipe=recipe)
    assert accuracy.label(args) == f"large+{recipe}"
    model = accuracy.build("default", epochs=1, seed=0, verbose=0, recipe=recipe)
    model.set_params(**{f"clf__{k}": v for k, v in tiny_params.items() if k != "epochs"})
    with accuracy.computing_in(accuracy.precision_of(accuracy.recipe_of(args))):
        model.fit(sample3.data[::5], sample3.target[::5])
    policy = model[-1].model_.get_layer("block1_conv1").dtype_policy.name
    assert policy == accuracy.RECIPES[recipe]["precision"]
    assert keras.config.dtype_policy().name == "float32"  # left as it was found
    assert type(model[-1].model_.optimizer).__name__ == "SGD"


def test_accuracy_xl_runs_train_ferkits_xl_preset_and_the_sgd_recipe_adds_only_precision():
    from ferkit._presets import preset_params

    accuracy = _script("accuracy")
    clf = accuracy.build("xl", epochs=3, seed=0, verbose=0, recipe="sgd-bf16")[-1]
    expected = preset_params("xl", epochs=3, random_state=0)
    assert {k: clf.get_params()[k] for k in expected} == expected
    assert accuracy.precision_of("sgd-bf16") == "mixed_bfloat16"
    # On large, the same recipe is what changes the optimizer.
    large = accuracy.build("large", epochs=3, seed=0, recipe="sgd-bf16")[-1]
    assert (large.optimizer, large.filters) == ("sgd", (32, 64, 128, 256))
    assert accuracy.build("large", epochs=3, seed=0)[-1].optimizer == "adam"


def test_accuracy_split_cache_follows_the_archive_content_not_its_time(tmp_path, monkeypatch):
    import os
    import zipfile

    from PIL import Image

    accuracy = _script("accuracy")
    rng = np.random.default_rng(0)
    archive = tmp_path / "faces.zip"

    def write(n_train):
        with zipfile.ZipFile(archive, "w") as zf:
            for i in range(n_train + 2):
                folder, emotion = ("train", "happy") if i < n_train else ("test", "sad")
                png = tmp_path / "face.png"
                Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(png)
                zf.write(png, f"{folder}/{emotion}/{i}.png")

    monkeypatch.setattr(accuracy, "ARCHIVE", archive)
    monkeypatch.setattr(accuracy, "RUNS", tmp_path / "runs")
    write(3)
    X, y = accuracy.load_split("Training", None)
    assert X.shape == (3, 48, 48) and set(y) == {"happy"}
    (cache,) = (tmp_path / "runs" / "cache").iterdir()
    os.utime(archive, (1, 1))  # a fresh copy of the same archive: the cache still serves
    np.testing.assert_array_equal(accuracy.load_split("Training", None)[0], X)
    assert list(cache.parent.iterdir()) == [cache]
    write(4)  # other content: a new cache, and the stale one goes
    X, y = accuracy.load_split("PublicTest", None)
    assert X.shape == (2, 48, 48) and set(y) == {"sad"}
    (fresh,) = cache.parent.iterdir()
    assert fresh != cache


def test_accuracy_teacher_targets_blend_the_shipped_model_with_the_labels(sample3, tmp_path):
    from ferkit import load_pretrained

    accuracy = _script("accuracy")
    X, y = sample3.data[::10], sample3.target[::10]
    cache = tmp_path / "teacher.npy"
    targets = accuracy.teacher_targets("fer2013-3", 0.5, X, y, cache=cache)
    proba = load_pretrained("fer2013-3").predict_proba(X)
    onehot = (y[:, None] == np.unique(y)).astype(float)
    np.testing.assert_allclose(targets, (proba + onehot) / 2, atol=1e-6)
    np.testing.assert_array_equal(np.load(cache), targets)
    # A resumed run reads them back instead of predicting again.
    np.save(cache, np.zeros_like(targets))
    assert not accuracy.teacher_targets("fer2013-3", 0.5, X, y, cache=cache).any()
    with pytest.raises(ValueError, match="teacher fer2013-7 has classes"):
        accuracy.teacher_targets("fer2013-7", 0.5, X, y)


def test_accuracy_train_counts_every_sitting_of_a_resumed_run(sample3, tiny_params,
                                                              tmp_path, monkeypatch):
    """A run stopped after an epoch and started again resumes from its checkpoint, and its
    record counts the epochs and seconds of both sittings."""
    import csv
    import json

    import keras

    import ferkit

    accuracy = _script("accuracy")
    monkeypatch.setattr(accuracy, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(accuracy, "RECORDS", tmp_path / "records")
    monkeypatch.setattr(accuracy, "load_split",
                        lambda usage, emotions: (sample3.images, sample3.target))

    class Stop(Exception):
        pass

    def stop_after_first_epoch(epoch, logs=None):
        raise Stop

    extra = []

    def build(preset, epochs, seed, callbacks=None, verbose=2, recipe=None):
        return ferkit.make_fer_pipeline(**{**tiny_params, "epochs": epochs, "random_state": seed,
                                           "callbacks": [*(callbacks or []), *extra],
                                           "verbose": 0})

    monkeypatch.setattr(accuracy, "build", build)
    argv = ["train", "--task", "fer2013-3", "--epochs", "3"]
    extra.append(keras.callbacks.LambdaCallback(on_epoch_end=stop_after_first_epoch))
    with pytest.raises(Stop):
        accuracy.main(argv)
    run = tmp_path / "runs" / "fer2013-3-default"
    assert len((run / "epoch_seconds.txt").read_text().split()) == 1
    assert (run / "backup").is_dir() and not (run / "training.json").exists()

    extra.clear()
    assert accuracy.main(argv) == 0
    seconds = [float(s) for s in (run / "epoch_seconds.txt").read_text().split()]
    assert len(seconds) == 3  # one epoch, then the two left: resumed, not restarted
    trained = json.loads((run / "training.json").read_text())
    assert trained == {"epochs_run": 3, "train_seconds": round(sum(seconds))}
    record = json.loads((tmp_path / "records" / "fer2013-3-default.json").read_text())
    assert record["epochs_run"] == 3 and 0 <= record["accuracy"] <= 1
    # The learning curve spans both sittings, as Keras logged them.
    with open(run / "epochs.csv") as f:
        logged = [round(float(row["val_accuracy"]), 4) for row in csv.DictReader(f)]
    assert len(logged) == 3 and record[accuracy.CURVE] == logged


def test_accuracy_curve_table_samples_runs_of_different_lengths():
    accuracy = _script("accuracy")
    long_run = {"task": "fer2013-7", "preset": "xl", accuracy.CURVE: [i / 100 for i in range(25)]}
    short_run = {"task": "fer2013-3", "preset": "large", accuracy.CURVE: [0.5, 0.7, 0.6]}
    vote = {"task": "fer2013-7", "preset": "large", "networks": 3}
    lines = accuracy.curve_table([long_run, short_run, vote]).splitlines()
    header, rows = lines[2], lines[4:6]
    assert header == "| task | preset | epoch 10 | epoch 20 | epoch 25 | best (epoch) |"
    assert rows[0] == "| fer2013-7 | xl | 0.090 | 0.190 | 0.240 | 0.240 (25) |"
    assert rows[1] == "| fer2013-3 | large | - | - | - | 0.700 (2) |"
    assert len([line for line in lines if line.startswith("| fer")]) == 2  # no vote
    assert accuracy.curve_table([vote]) == ""


def test_accuracy_vote_across_recipes(sample3, tiny_params, tmp_path, monkeypatch):
    """Runs of different recipes, each trained alone, are evaluated as one vote: each network
    in the precision it was trained in, the record naming both recipes and how to rerun."""
    import json

    import keras

    accuracy = _script("accuracy")
    monkeypatch.setattr(accuracy, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(accuracy, "RECORDS", tmp_path / "records")
    monkeypatch.setattr(accuracy, "load_split",
                        lambda usage, emotions: (sample3.images[::3], sample3.target[::3]))
    real_build = accuracy.build

    def build(preset, epochs, seed, callbacks=None, verbose=2, recipe=None):
        model = real_build(preset, epochs, seed, callbacks=callbacks, verbose=0, recipe=recipe)
        tiny = {k: v for k, v in tiny_params.items() if k != "epochs"}
        return model.set_params(**{f"clf__{k}": v for k, v in tiny.items()})

    monkeypatch.setattr(accuracy, "build", build)
    common = ["--task", "fer2013-3", "--epochs", "1"]
    for recipe in ("sgd", "sgd-bf16"):
        assert accuracy.main(["train", *common, "--recipe", recipe]) == 0
    with pytest.raises(SystemExit):
        accuracy.main(["train", *common, "--recipe", "sgd", "sgd-bf16"])
    assert accuracy.main(["evaluate", *common, "--recipe", "sgd", "sgd-bf16"]) == 0
    record = json.loads(
        (tmp_path / "records" / "fer2013-3-default+sgd+sgd-bf16.json").read_text())
    assert record["networks"] == 2 and record["preset"] == "default+sgd+sgd-bf16"
    assert record["epochs_run"] == [1, 1]
    assert record["ten_crop_fraction"] == accuracy.TEN_CROP
    assert 0 <= record["accuracy_ten_crop"] <= 1
    assert record["command"] == (
        "python benchmarks/accuracy.py train --task fer2013-3 --preset default --recipe R "
        "--epochs 1, for R in sgd sgd-bf16; then python benchmarks/accuracy.py evaluate "
        "--task fer2013-3 --preset default --recipe sgd sgd-bf16 --seed 0 --epochs 1")

    args = accuracy.main.__globals__["argparse"].Namespace(
        task="fer2013-3", preset="default", recipe=["sgd", "sgd-bf16"], seed=[0], epochs=1)
    X, y = sample3.images[::3], sample3.target[::3]
    vote = accuracy.rebuild_runs(args, X, y, precision=None)
    assert list(vote[-1].named_estimators_) == ["sgd-seed0", "sgd-bf16-seed0"]
    policies = [clf.model_.get_layer("block1_conv1").dtype_policy.name
                for clf in accuracy.classifiers(vote)]
    assert policies == ["float32", "mixed_bfloat16"]
    shipped = accuracy.rebuild_runs(args, X, y)  # what ship checks: float32 throughout
    assert {clf.model_.get_layer("block1_conv1").dtype_policy.name
            for clf in accuracy.classifiers(shipped)} == {"float32"}
    assert accuracy.evaluate(vote, X, y)["accuracy"] == record["accuracy"]
    # Training in bfloat16 left the process's policy as it was: later networks are float32.
    assert keras.config.dtype_policy().name == "float32"


def test_accuracy_scores_each_view_of_the_same_weights(sample3, tiny_params):
    """A run's record scores its weights with every test-time view (ten-crop: how published
    figures are measured), each as if the model were set to it, and leaves the model as it
    was."""
    import ferkit

    accuracy = _script("accuracy")
    X, y = sample3.images[::2], sample3.target[::2]
    model = ferkit.make_fer_pipeline(**{**tiny_params, "test_time_flip": True}).fit(X, y)
    result, views = accuracy.score_views(model, X, y)
    assert result == accuracy.evaluate(model, X, y)
    assert model[-1].get_params()["test_time_crops"] is None and model[-1].test_time_flip
    assert set(views) == {f"{score}_{view}" for score in ("accuracy", "macro_f1")
                          for view in ("without_flip", "with_flip", "ten_crop")}
    for view, params in accuracy.VIEWS.items():
        alone = accuracy.evaluate(clone_fitted(model, params), X, y)
        assert views[f"accuracy_{view}"] == alone["accuracy"]
        assert views[f"macro_f1_{view}"] == alone["macro_f1"]
    assert views["accuracy_with_flip"] == result["accuracy"]
    assert accuracy.VIEWS["ten_crop"]["test_time_crops"] == accuracy.TEN_CROP


def clone_fitted(model, params):
    """``model`` with its classifier's test-time views set to ``params`` (weights shared)."""
    import copy

    other = copy.copy(model)
    other.steps = [*model.steps[:-1], ("clf", copy.copy(model[-1]).set_params(**params))]
    return other


def test_small_data_quick(results):
    bench = _script("bench_small_data")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    if not bench.ARCHIVE.exists():
        assert "not found: fitted on half of the sample" in section
    for task in bench.TASKS:
        row = next(line for line in section.splitlines()
                   if line.startswith(f"| {task} | FaceEmbedder(\"fer2013-3\")"))
        accuracy, macro_f1, seconds = (float(row.split("|")[i].strip()) for i in (3, 4, 5))
        assert 0 <= accuracy <= 1 and 0 <= macro_f1 <= 1 and seconds > 0
    assert "| angry/happy/sad | network from scratch" in section
    fine_tune = next(line for line in section.splitlines()
                     if line.startswith("| angry/happy/sad | fine-tuned"))
    if not bench.fine_tune_available():
        assert bench.NOT_AVAILABLE in fine_tune


def test_small_data_needs_the_held_out_faces(results, monkeypatch, tmp_path, capsys):
    bench = _script("bench_small_data")
    monkeypatch.setattr(bench, "ARCHIVE", tmp_path / "missing.zip")
    assert bench.main([]) == 0
    assert "needs the archive; nothing measured" in capsys.readouterr().out
    assert not results.exists()


def test_test_time_quick(results):
    bench = _script("bench_test_time")
    assert bench.main(["--quick"]) == 0
    section = _section(results, bench.SECTION)
    assert "140 PublicTest faces of the sample" in section
    for task in bench.TASKS:
        for views, passes in [("face", 1), ("face + mirror (shipped)", 2),
                              ("5 crops of 0.92", 5), ("ten-crop of 0.92", 10)]:
            row = next(line for line in section.splitlines()
                       if line.startswith(f"| {task} | {views} |"))
            cells = [cell.strip() for cell in row.split("|")[3:8]]
            assert int(cells[0]) % passes == 0  # networks x views
            assert 0 <= float(cells[1]) <= 1 and 0 <= float(cells[2]) <= 1
            assert float(cells[3]) > 0 and cells[4].endswith("x")
        assert f"| {task} | face + mirror (shipped) |" in section
