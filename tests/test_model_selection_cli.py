"""``ferkit tune`` run end to end on the sample with tiny settings (the tuning examples run in
tests/test_examples.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from ferkit.cli import main

#: A tiny network pinned with --param; the search tunes learning rate, dropout, batch size.
TINY = ["--epochs", "1", "--param", "filters=4,", "--param", "dense_units=8,",
        "--param", "validation_split=0.2"]


def test_tune_writes_model_params_trials_and_plots(tmp_path, capsys):
    import ferkit

    out = tmp_path / "tuned"
    argv = ["tune", "--sample", "--emotions", "happy,sad", "--max-samples", "40",
            "--trials", "2", "--cv", "2", *TINY, "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Best cross-validated accuracy" in printed

    best = json.loads((out / "best_params.json").read_text())
    assert set(best["best_params"]) == {"clf__learning_rate", "clf__dropout", "clf__batch_size"}
    assert best["pinned_params"]["clf__filters"] == [4]
    trials = pd.read_csv(out / "trials.csv")
    assert trials["trial_number"].tolist() == [0, 1]
    top = trials.loc[trials["trial_number"] == best["best_trial"]].iloc[0]
    assert top["rank_test_score"] == 1
    assert top["mean_test_score"] == pytest.approx(best["best_score"])
    for name in ("optimization_history", "param_importances"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"

    model = ferkit.load(out / "model")
    clf = model.named_steps["clf"]
    assert clf.filters == (4,)
    assert clf.learning_rate == pytest.approx(best["best_params"]["clf__learning_rate"])
    from ferkit.datasets import load_sample

    X, _ = load_sample(emotions=("happy", "sad"), return_X_y=True)
    assert set(model.predict(X[:10])) <= {"happy", "sad"}

    # The model is not overwritten unless asked; the refusal comes before any training.
    assert main(argv) == 2
    assert "already holds a model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trials", "0"], "--trials must be at least 1"),
        (["--cv", "1"], "--cv must be at least 2"),
        (["--storage", "sqlite:///no/such/folder/study.db"], "Cannot open the Optuna storage"),
        (["--param", "learning_rate=0.01", "--param", "dropout=0.1", "--param", "filters=4,",
          "--param", "dense_units=8,", "--param", "batch_size=32"], "nothing to tune"),
        (["--param", "dropuot=0.1"], "dropuot"),
    ],
    ids=["trials", "cv", "storage", "all-pinned", "unknown-param"],
)
def test_tune_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, message):
    argv = ["tune", "--sample", "--max-samples", "40", "--out", str(tmp_path / "out"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ferkit tune: error:")
    assert message in err[-1]
    assert not (tmp_path / "out" / "model").exists()


def _no_search(monkeypatch):
    """Make any search fail the test: the output checks must come before the first trial."""
    from ferkit.model_selection import OptunaSearchCV

    def fit(self, *args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(OptunaSearchCV, "fit", fit)


@pytest.mark.parametrize("where", ["under a file", "is a file"])
def test_tune_checks_an_unwritable_out_before_any_trial(tmp_path, capsys, monkeypatch, where):
    _no_search(monkeypatch)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    out = blocker / "out" if where == "under a file" else blocker
    argv = ["tune", "--sample", "--max-samples", "40", *TINY, "--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Searching" not in captured.out
    err = captured.err.strip().splitlines()
    assert err[-1].startswith("ferkit tune: error:")
    assert "--out" in err[-1] and str(blocker) in err[-1]


def test_tune_creates_out_before_any_trial(tmp_path, monkeypatch, capsys):
    """Missing folders of --out exist, and are writable, before the search starts."""
    from ferkit.model_selection import OptunaSearchCV

    out = tmp_path / "new" / "nested" / "out"
    seen = {}

    def fit(self, *args, **kwargs):
        seen["out existed"] = out.is_dir()
        raise ValueError("stopped here by the test")

    monkeypatch.setattr(OptunaSearchCV, "fit", fit)
    argv = ["tune", "--sample", "--max-samples", "40", *TINY, "--out", str(out)]
    assert main(argv) == 2
    assert seen == {"out existed": True}
    assert "stopped here by the test" in capsys.readouterr().err


def test_tune_needs_data_or_sample(tmp_path, capsys):
    assert main(["tune", "--out", str(tmp_path / "out")]) == 2
    assert "--sample" in capsys.readouterr().err


def test_parser_and_model_selection_stay_light():
    """Building the parser loads no Optuna; the tuning module loads no TensorFlow."""
    code = (
        "import sys, ferkit.cli\n"
        "ferkit.cli.build_parser()\n"
        "assert 'optuna' not in sys.modules\n"
        "import ferkit.model_selection\n"
        "heavy = {'tensorflow', 'keras', 'matplotlib'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    "study_storage", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)],
    indirect=True,
)
def test_tune_processes_share_one_study_through_storage(tmp_path, capsys, study_storage):
    """Two `ferkit tune` runs on one --storage/--study-name: --trials is the study's total.
    On SQLite and on a PostgreSQL server (``postgresql://...``)."""
    import optuna

    import ferkit

    url = study_storage
    common = ["tune", "--sample", "--emotions", "happy,sad", "--max-samples", "40", "--cv", "2",
              *TINY, "--storage", url, "--study-name", "shared"]
    assert main([*common, "--trials", "2", "--out", str(tmp_path / "w1")]) == 0
    assert main([*common, "--trials", "3", "--out", str(tmp_path / "w2")]) == 0  # one more
    capsys.readouterr()
    study = optuna.load_study(study_name="shared", storage=url)
    assert [t.number for t in study.trials] == [0, 1, 2]  # each trial ran once
    assert all(t.state.is_finished() for t in study.trials)
    for worker in ("w1", "w2"):
        assert ferkit.load(tmp_path / worker / "model").named_steps["clf"].filters == (4,)


def test_tune_names_the_package_of_a_missing_database_driver(tmp_path, capsys, monkeypatch):
    """A postgresql:// storage without psycopg: the error says what to install, before any
    training (the library's own check, shown by the command line)."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    url = "postgresql://user:secret@/fer?host=/nowhere"
    argv = ["tune", "--sample", "--max-samples", "40", "--storage", url,
            "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ferkit tune: failed: ImportError: Cannot open the Optuna storage")
    assert "pip install 'ferkit[postgres]'" in err and "'psycopg'" in err
    assert "secret" not in err
    assert not (tmp_path / "out" / "model").exists()


def test_tune_refuses_a_study_of_another_search(tmp_path, capsys):
    """Rejoining a stored study with other pinned parameters (so another search space or
    other fixed values) exits 2 before training, naming the study, storage and difference."""
    import optuna

    url = f"sqlite:///{tmp_path / 'study.db'}"
    common = ["tune", "--sample", "--emotions", "happy,sad", "--max-samples", "40", "--cv", "2",
              "--trials", "1", "--storage", url, "--study-name", "fer"]
    assert main([*common, *TINY, "--out", str(tmp_path / "w1")]) == 0
    capsys.readouterr()
    for extra, name in ((["--epochs", "2"], "clf__epochs"),
                        (["--param", "dropout=0.1"], "clf__dropout")):
        argv = [*common, *TINY, *extra, "--trials", "2", "--out", str(tmp_path / "w2")]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("ferkit tune: error: Study 'fer' in storage")
        assert url in err[-1] and repr(name) in err[-1]
        assert not (tmp_path / "w2" / "model").exists()
    assert len(optuna.load_study(study_name="fer", storage=url).trials) == 1
