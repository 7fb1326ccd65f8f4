"""``ferkit predict clip.mp4`` and ``--camera``: the table, --annotate, --plot, bad input.

Clips are tiny (96x192 pixels, a few dozen frames, written by the tests with
``write_video``); the detector is the LBP cascade and the model the tiny shared pipeline.
Everything runs in-process through ``ferkit.cli.main``, except Ctrl-C, which needs a
process of its own.
"""

from __future__ import annotations

import io
import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
from _interrupt import interrupt_when, start_ferkit

import ferkit
from ferkit.cli import main
from ferkit.video import VideoReader, write_video

pytest.importorskip("av")


def _two_faces(n=24, step=1):
    """Frames of two astronaut faces moving apart (left one left, right one right)."""
    from skimage.data import astronaut
    from skimage.transform import resize

    face = (resize(astronaut()[40:200, 150:290], (64, 56), anti_aliasing=True) * 255).astype(
        np.uint8)
    for i in range(n):
        frame = np.full((96, 192, 3), 90, np.uint8)
        x0, x1 = 20 - (i * step) % 20, 110 + (i * step) % 20
        frame[16:80, x0:x0 + 56] = face
        frame[16:80, x1:x1 + 56] = face[:, ::-1]
        yield frame


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    write_video(folder / "two.mp4", _two_faces(), fps=25)
    write_video(folder / "other.mkv", _two_faces(12), fps=25)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, fitted_pipeline):
    path = tmp_path_factory.mktemp("model") / "fer-model"
    ferkit.save(fitted_pipeline, path)
    return path


def _predict(*args, model_dir):
    return main(["predict", *map(str, args), "--model", str(model_dir), "--detector", "lbp"])


def test_the_table_is_predict_videos_with_the_file(clips, model_dir, fitted_pipeline, capsys):
    assert _predict(clips / "two.mp4", "--every", "3", "--smooth", "2", model_dir=model_dir) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = ferkit.predict_video(fitted_pipeline, clips / "two.mp4", every=3, detector="lbp",
                                    smooth=2)
    assert table.columns.tolist() == ["file", *expected.columns]
    assert set(table["file"]) == {str(clips / "two.mp4")}
    assert len(table) == len(expected) == 16  # 8 analysed frames, two faces each
    np.testing.assert_array_equal(table[["frame", "face", "x", "width"]],
                                  expected[["frame", "face", "x", "width"]])
    np.testing.assert_array_equal(table["emotion"], expected["emotion"])
    classes = fitted_pipeline.classes_.tolist()
    np.testing.assert_allclose(table[classes], expected[classes], atol=5e-5)  # 4 decimals


def test_several_clips_as_json(clips, model_dir, tmp_path, capsys):
    target = tmp_path / "out" / "faces.json"
    status = _predict(clips / "two.mp4", clips / "other.mkv", "--every", "4", "--format", "json",
                      "-o", target, model_dir=model_dir)
    assert status == 0 and capsys.readouterr().out == ""
    rows = json.loads(target.read_text())
    files = [row["file"] for row in rows]
    assert files == sorted(files, key=lambda f: not f.endswith("two.mp4"))  # in input order
    assert {f.rsplit("/", 1)[-1] for f in files} == {"two.mp4", "other.mkv"}
    assert {row["frame"] for row in rows if row["file"].endswith("other.mkv")} == {0, 4, 8}


def test_annotate_and_plot_only_when_asked(clips, model_dir, tmp_path, capsys, monkeypatch):
    before = set(clips.iterdir())
    assert _predict(clips / "two.mp4", "--every", "2", model_dir=model_dir) == 0
    assert set(clips.iterdir()) == before  # nothing but the table without the options
    capsys.readouterr()
    out = tmp_path / "drawn"
    # A terminal on stderr: the progress bar with frames per second.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert _predict(clips / "two.mp4", "--every", "2", "--annotate", out / "two.mp4",
                    "--plot", out / "timeline.png", model_dir=model_dir) == 0
    assert "frame/s" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["timeline.png", "two.mp4"]  # no leftovers
    reader = VideoReader(out / "two.mp4", color="rgb")
    assert reader.fps == pytest.approx(12.5)  # the analysed frames, at their rate
    drawn = [pixels for _, _, pixels in reader]
    originals = [f for i, f in enumerate(_two_faces()) if i % 2 == 0]
    assert len(drawn) == len(originals) == 12
    # The boxes and labels are drawn (compression alone changes pixels by a few levels).
    assert all(np.abs(d.astype(int) - o).max() > 100 for d, o in zip(drawn, originals,
                                                                      strict=True))
    from PIL import Image

    assert Image.open(out / "timeline.png").size[1] > Image.open(out / "timeline.png").size[0] / 2

    folder = tmp_path / "many"  # several clips: one file per clip in a folder
    assert _predict(clips / "two.mp4", clips / "other.mkv", "--every", "6", "--annotate", folder,
                    "--plot", folder, "-q", model_dir=model_dir) == 0
    assert capsys.readouterr().err == ""
    assert sorted(p.name for p in folder.iterdir()) == [
        "other.annotated.mp4", "other.timeline.png", "two.annotated.mp4", "two.timeline.png"]


def test_bad_input_exits_2_and_writes_no_partial_file(clips, model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    extras = ["--annotate", out / "a.mp4", "--plot", out / "t.png"]
    # A truncated clip: the rows of the frames that decode, then a warning naming the frame.
    rng = np.random.default_rng(0)
    noisy = [np.clip(f.astype(int) + rng.integers(-40, 40, f.shape), 0, 255).astype(np.uint8)
             for f in _two_faces(30)]
    cut = tmp_path / "cut.mkv"
    write_video(cut, noisy, fps=25)
    cut.write_bytes(cut.read_bytes()[: int(cut.stat().st_size * 0.6)])
    assert _predict(cut, *extras, model_dir=model_dir) == 2
    captured = capsys.readouterr()
    table = pd.read_csv(io.StringIO(captured.out))
    last = int(re.search(r"cut\.mkv: the video is damaged or truncated: it ends after frame "
                         r"(\d+)", captured.err).group(1))
    assert 0 < table["frame"].max() <= last < 29
    assert "could not be read in full: " in captured.err
    assert list(out.iterdir()) == []  # neither the copy nor the timeline, nor a temporary

    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("hello")
    for path, message in [(tmp_path / "missing.mp4", "missing.mp4: no such file"),
                          (not_a_video, "notes.mp4: cannot be read as a video")]:
        assert _predict(path, *extras, model_dir=model_dir) == 2
        assert message in capsys.readouterr().err
    # One bad clip among good ones: the good one is still predicted.
    assert _predict(not_a_video, clips / "other.mkv", model_dir=model_dir) == 2
    captured = capsys.readouterr()
    assert "other.mkv" in captured.out and "1 of 2 video(s)" in captured.err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--camera", "97"], "camera 97: no such camera"),
    (["--camera", "-1"], "--camera: expected a camera index (0, 1...); got '-1'"),
    (["{clip}", "--every", "0"], "--every: expected a whole number >= 1; got '0'"),
    (["{clip}", "--smooth", "1.5"], "--smooth: expected a window"),
    (["{clip}", "--duration", "0"], "--duration: expected a positive number"),
    (["{clip}", "--recursive"], "--recursive applies to photos only"),
    (["{clip}", "--annotate", "{tmp}/a.gif"], "not a video format that can be written"),
    (["{clip}", "{tmp}/photo.png"], "cannot be mixed in one call"),
    (["{tmp}/photo.png", "--every", "2"], "--every applies to videos only"),
    (["{clip}", "--camera", "0"], "--camera reads the camera only"),
    ([], "nothing to predict"),
])
def test_usage_errors_exit_2(args, message, clips, tmp_path, capsys):
    if "--camera" in args and "97" in args and not sys.platform.startswith("linux"):
        pytest.skip("v4l2 device paths")
    args = [a.format(clip=clips / "two.mp4", tmp=tmp_path) for a in args]
    # Found before the model is loaded: this one does not exist.
    assert main(["predict", *args, "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert message in err and "no-model" not in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_keeps_the_rows_done_and_no_partial_video(model_dir, tmp_path):
    clip = tmp_path / "long.mp4"
    write_video(clip, _two_faces(1500, step=3), fps=25)
    target, drawn = tmp_path / "faces.csv", tmp_path / "drawn.mp4"
    proc = start_ferkit(["predict", str(clip), "--model", str(model_dir), "--detector", "lbp",
                         "-o", str(target), "--annotate", str(drawn)])
    running, err = interrupt_when(
        proc, lambda: target.exists() and target.read_text().count("\n") > 1,
        wait=120, drain=60)
    rows = pd.read_csv(target)
    assert running, err
    assert proc.returncode == 1 and "interrupted" in err
    assert 0 < len(rows) < 3000 and rows["emotion"].notna().all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces.csv", "long.mp4"]
