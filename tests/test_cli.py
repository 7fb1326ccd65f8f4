"""The ``ferkit`` command line, in-process through ``ferkit.cli.main`` with tiny networks."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

import ferkit
from ferkit.cli import main
from ferkit.plotting import FIGURES

#: A network that trains in a second or two: the demo's own defaults stay real.
TINY = ["--epochs", "1", "--param", "filters=(4, 8)", "--param", "dense_units=(8,)",
        "--param", "batch_size=64"]
THREE = "angry,happy,sad"


def run_cli(*args) -> tuple[int, str, str]:
    """``ferkit ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One tiny demo run on the three-emotion sample: (output folder, exit status, stdout)."""
    out = tmp_path_factory.mktemp("cli") / "demo"
    status, stdout, stderr = run_cli("demo", "--emotions", THREE, "--out", out, *TINY)
    assert status == 0, stderr
    return out, stdout


@pytest.fixture(scope="module")
def fer2013_csv(tmp_path_factory):
    """A small fer2013.csv (emotion,pixels,Usage) written from the shipped sample."""
    from ferkit._emotions import EMOTION_TO_CODE
    from ferkit.datasets import load_sample

    faces = load_sample(emotions=THREE.split(","))
    usage = np.where(np.arange(len(faces.target)) % 5 == 0, "PublicTest", "Training")
    frame = pd.DataFrame({
        "emotion": [EMOTION_TO_CODE[e] for e in faces.target],
        "pixels": [" ".join(map(str, row)) for row in faces.data],
        "Usage": usage,
    })
    path = tmp_path_factory.mktemp("data") / "fer2013.csv"
    frame.to_csv(path, index=False)
    return path


def test_help_on_every_subcommand():
    status, out, _ = run_cli("--help")
    assert status == 0
    for name in ("demo", "train", "evaluate", "predict", "tune", "info"):
        assert name in out
        status, out_sub, _ = run_cli(name, "--help")
        assert status == 0 and out_sub.startswith(f"usage: ferkit {name}")
        assert "--debug" in out_sub  # accepted after the subcommand too
    status, out, _ = run_cli()  # no command: the help, and a usage-error status
    assert status == 2 and out.startswith("usage: ferkit")


def test_debug_before_or_after_the_subcommand(tmp_path):
    bad = ["train", "--sample", "--out", tmp_path / "out", "--param", "oops"]
    for args in ([*bad, "--debug"], ["--debug", *bad]):
        status, _, err = run_cli(*args)
        assert status == 2 and "Traceback (most recent call last)" in err, err
        assert "--param expects NAME=VALUE" in err
    status, _, err = run_cli(*bad)
    assert status == 2 and "Traceback" not in err
    assert err == "ferkit train: error: --param expects NAME=VALUE; got 'oops'\n"


def test_demo_prints_the_report_and_writes_model_and_plots(demo):
    out, stdout = demo
    assert f"Results will be written to {out}/" in stdout
    assert "epoch 1/1" in stdout and "loss" in stdout
    assert "accuracy" in stdout and "precision" in stdout
    # The face-feature model is written where this ferkit can save it, else a note says so.
    saved = "Wrote the face-feature model to" in stdout
    assert saved or "embedding-model/ not written" in stdout
    assert {p.name for p in out.iterdir()} == {
        "model", "report.txt", "report.csv", *(f"{name}.png" for name in FIGURES),
        *(["embedding-model"] if saved else []),
    }
    # The model written is the one reported on: reload it, rebuild the demo's hold-out and
    # compare its report with the CSV.
    from ferkit.datasets import load_sample

    faces = load_sample(emotions=THREE.split(","))
    _, X_test, _, y_test = train_test_split(
        faces.data, faces.target, test_size=0.2, stratify=faces.target, random_state=0
    )
    model = ferkit.load(out / "model")
    assert model.named_steps["clf"].callbacks is None
    expected = ferkit.report(model, X_test, y_test).to_frame()
    written = pd.read_csv(out / "report.csv", index_col="emotion")
    assert written.index.tolist() == ["angry", "happy", "sad"]
    assert written["support"].tolist() == [20, 20, 20]
    np.testing.assert_allclose(written[["precision", "recall", "f1-score"]],
                               expected[["precision", "recall", "f1-score"]])
    accuracy = ferkit.report(model, X_test, y_test).accuracy
    assert f"Network trained from scratch, on a stratified hold-out of 20% (60 faces): " \
           f"accuracy {accuracy:.3f}" in stdout
    assert (out / "report.txt").read_text().count("precision") == 1
    # Both models' accuracies are printed, then side by side.
    embedding = re.search(r'FaceEmbedder\("fer2013-7"\) \+ LogisticRegression, on a stratified '
                          r"hold-out of 20% \(60 faces\): accuracy (\d\.\d{3}), macro-F1", stdout)
    assert embedding, stdout
    if saved:
        reloaded = ferkit.load(out / "embedding-model")
        assert embedding[1] == f"{ferkit.report(reloaded, X_test, y_test).accuracy:.3f}"
    table = stdout[stdout.index("Side by side"):].splitlines()
    assert re.match(rf"\s+network from scratch\s+{accuracy:.3f}\s", table[2])
    assert re.match(rf'\s+FaceEmbedder\("fer2013-7"\) \+ LogisticRegression\s+{embedding[1]}\s',
                    table[3])


def test_an_out_folder_with_a_model_needs_overwrite(demo):
    out, _ = demo
    manifest = out / "model" / "ferkit.json"
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)

    status, stdout, stderr = run_cli("demo", "--emotions", THREE, "--out", out, *TINY)
    assert status == 2
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"ferkit demo: error: {out} already holds a model")
    assert "--overwrite" in stderr
    assert "epoch" not in stdout  # refused before any training
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before

    status, _, stderr = run_cli("demo", "--emotions", THREE, "--out", out, "--overwrite",
                                "--faces", "--random-state", "1", *TINY)
    assert status == 0, stderr
    assert manifest.stat().st_mtime_ns != before[1]
    assert (out / "faces.png").is_file()  # drawn because it was asked for


def test_train_and_evaluate_a_csv_with_fer2013_splits(fer2013_csv, tmp_path):
    train_out, eval_out = tmp_path / "train", tmp_path / "evaluate"
    status, stdout, stderr = run_cli("train", fer2013_csv, "--out", train_out, *TINY)
    assert status == 0, stderr
    assert f"Loading {fer2013_csv}" in stdout and "PublicTest: 60, Training: 240" in stdout
    assert "Report on FER2013's PublicTest split (60 faces)" in stdout
    assert (train_out / "model" / "ferkit.json").is_file()

    status, stdout, stderr = run_cli("evaluate", fer2013_csv, "--model", train_out,
                                     "--out", eval_out)
    assert status == 0, stderr
    assert "Using the PublicTest split: 60 faces" in stdout
    assert not (eval_out / "model").exists()
    # The saved model reproduces, on the same faces, the report made when it was trained.
    pd.testing.assert_frame_equal(pd.read_csv(eval_out / "report.csv"),
                                  pd.read_csv(train_out / "report.csv"))
    assert (eval_out / "reliability_diagram.png").is_file()
    assert not (eval_out / "faces.png").exists()

    # evaluate refuses to write over a folder that holds a report, too.
    status, _, stderr = run_cli("evaluate", fer2013_csv, "--model", train_out,
                                "--out", eval_out)
    assert status == 2 and "already holds a report" in stderr


def test_train_from_a_shipped_model_fits_on_its_face_features(fer2013_csv, tmp_path):
    out = tmp_path / "from"
    status, stdout, stderr = run_cli("train", fer2013_csv, "--from", "fer2013-3",
                                     "--param", "C=0.1", "--out", out)
    assert status == 0, stderr
    assert "Fitting a logistic regression on fer2013-3's face features of 240 faces" in stdout
    assert "epoch" not in stdout  # no network trained
    line = re.search(r"Report on FER2013's PublicTest split \(60 faces\): accuracy (\d\.\d{3})",
                     stdout)
    assert line, stdout
    written = pd.read_csv(out / "report.csv", index_col="emotion")
    assert written["support"].tolist() == [20, 20, 20]
    assert not (out / "learning_curves.png").exists()  # a logistic regression has no epochs
    assert (out / "confusion_matrix.png").is_file()
    if not (out / "model").exists():
        assert "model/ not written" in stdout
        return
    model = ferkit.load(out / "model")
    assert model.named_steps["clf"].C == 0.1
    assert model.named_steps["embed"].model == "fer2013-3"
    from ferkit.datasets import load_fer2013

    test = load_fer2013(fer2013_csv, usage="PublicTest")
    assert line[1] == f"{model.score(test.data, test.target):.3f}"


def test_train_fine_tunes_a_shipped_model_where_the_classifier_can(fer2013_csv, tmp_path):
    import inspect

    can = "weights" in inspect.signature(ferkit.FacialExpressionClassifier).parameters
    out = tmp_path / "fine"
    status, stdout, stderr = run_cli("train", fer2013_csv, "--from", "fer2013-3",
                                     "--fine-tune", "--epochs", "1", "--param",
                                     "batch_size=64", "--out", out)
    if not can:
        assert status == 2 and "cannot fine-tune" in stderr
        assert not (out / "model").exists()
        return
    assert status == 0, stderr
    assert "epoch 1/1" in stdout and "Report on FER2013's PublicTest split" in stdout
    assert "face features" not in stdout
    model = ferkit.load(out / "model")
    assert model.named_steps["clf"].weights == "fer2013-3"


def test_evaluate_a_pretrained_model_on_the_sample(tmp_path):
    if "fer2013-3" not in ferkit.available_pretrained():
        pytest.skip("the pretrained model fer2013-3 is not installed yet")
    status, stdout, stderr = run_cli("evaluate", "--sample", "--pretrained", "fer2013-3",
                                     "--out", tmp_path)
    assert status == 0, stderr
    assert "300 faces" in stdout  # only the emotions the model knows
    assert "optimistic" in stderr  # PublicTest chose the model's epochs


@pytest.mark.parametrize(
    "args, message",
    [
        (["train"], "no data: give a DATA path"),
        (["train", "--sample", "fer.csv"], "either DATA or --sample"),
        (["train", "missing.csv"], "DATA not found: missing.csv"),
        (["train", "--sample", "--emotions", "angry,joy"], "unknown emotion(s) ['joy']"),
        (["train", "--sample", "--param", "dropout"], "--param expects NAME=VALUE"),
        (["train", "--sample", "--param", "colour=3"], "Invalid parameter colour"),
        (["train", "--sample", "--test-size", "1.5"], "--test-size must be between 0 and 1"),
        (["train", "--sample", "--usage", "Training"], "--usage applies to DATA"),
        (["train", "garbage.csv"], "garbage.csv"),
        (["evaluate", "--sample", "--model", "no-model-here"], "no-model-here"),
        (["train", "--sample", "--fine-tune"], "--fine-tune needs --from MODEL"),
        (["train", "--sample", "--from", "no-model-here"], "--from no-model-here: neither"),
        (["train", "--sample", "--from", "fer2013-3", "--epochs", "3"],
         "--epochs applies to networks"),
        (["train", "--sample", "--from", "fer2013-3", "--preset", "plain"],
         "--preset applies to networks"),
        (["train", "--sample", "--from", "fer2013-3", "--param", "dropout=0.5"],
         "Invalid parameter 'dropout'"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("garbage.csv").write_text("this,is\nnot,fer2013\n")
    status, _, stderr = run_cli(*args, "--out", tmp_path / "out")
    assert status == 2
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"ferkit {args[0]}: error: ") and message in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out" / "model").exists()


def test_usage_errors_exit_2_with_one_line():
    status, _, stderr = run_cli("demo", "--epochs", "many")
    assert status == 2 and "invalid int value: 'many'" in stderr
    assert stderr == (
        "ferkit demo: error: argument --epochs: invalid int value: 'many' "
        "(see 'ferkit demo --help')\n"
    )
    status, _, stderr = run_cli("evaluate", "--sample")
    assert status == 2 and "one of the arguments --model --pretrained is required" in stderr
    assert stderr.count("\n") == 1 and "usage:" not in stderr


def test_debug_shows_the_traceback(tmp_path):
    status, _, stderr = run_cli("--debug", "train", "--sample", "--emotions", "joy",
                                "--out", tmp_path)
    assert status == 2
    assert "Traceback (most recent call last)" in stderr
    assert stderr.rstrip().splitlines()[-1].startswith("ferkit train: error: ")


def test_unexpected_failures_exit_1(monkeypatch):
    # A command failing for a reason that is not the user's input: injected, since no real
    # command should fail this way.
    import ferkit.cli._info

    def broken(args):
        raise RuntimeError("the disk is on fire\nsecond line")

    monkeypatch.setattr(ferkit.cli._info, "run", broken)
    status, _, stderr = run_cli("info")
    assert status == 1
    assert stderr == "ferkit info: failed: RuntimeError: the disk is on fire\n"


def test_console_script_help_and_info():
    script = Path(sys.executable).with_name("ferkit")
    if not script.exists():
        pytest.skip(f"the ferkit console script is not installed beside {sys.executable}")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert all(name in done.stdout for name in ("demo", "train", "evaluate", "info"))

    done = subprocess.run([script, "info"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ferkit {ferkit.__version__}")
    assert "fer2013_sample.npz" in done.stdout and "scikit-learn" in done.stdout
    assert "fer2013-7" in done.stdout
    assert "GPU: " in done.stdout


def test_stderr_filter_passes_progress_bars_on_as_they_come():
    """The filter that drops TensorFlow's start-up lines passes a progress bar's "\\r"
    redraws on at once, not when a newline finally comes."""
    import select
    import threading

    from ferkit.cli import _pass_on

    read_end, write_end = os.pipe()
    out_read, out_write = os.pipe()
    thread = threading.Thread(target=_pass_on, args=(read_end, out_write, threading.Event()))
    thread.start()
    bar = b" 10%|#    \r 20%|##   \r"
    os.write(write_end, b"I0000 00:00:17.5 7 port.cc:153] oneDNN custom operations\n" + bar)
    shown = b""
    while len(shown) < len(bar) and select.select([out_read], [], [], 10)[0]:
        shown += os.read(out_read, 1024)
    os.close(write_end)
    thread.join(10)  # the pipe ended: the thread closed out_write
    os.close(out_read)
    assert shown == bar


def test_stderr_filter_does_not_wait_for_children(capfd):
    """A child process that inherited the filtered stderr (as joblib's workers do) keeps the
    pipe open; the command still ends at once, with all its own lines on the real stderr."""
    import subprocess
    import time

    from ferkit.cli import _without_native_noise

    start = time.monotonic()
    with _without_native_noise():
        child = subprocess.Popen(["sleep", "60"])  # holds descriptor 2, the pipe
        os.write(2, b"I0000 00:00:17.5 7 port.cc:153] oneDNN custom operations\n")
        print("the command's last line", file=sys.stderr)
    seconds = time.monotonic() - start
    child.kill()
    child.wait()
    assert capfd.readouterr().err == "the command's last line\n"
    assert seconds < 5  # waiting for the pipe's end would last until a 10 s timeout
