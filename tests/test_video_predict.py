"""ferkit.predict_video on clips the tests write: astronaut faces moving apart, a blank clip.

The model is a logistic regression on raw 48x48 pixels and the detector the LBP cascade, so
no network is trained and TensorFlow is not needed: what is tested is the video path (frames,
batches, tracks, table), which is the same for a ferkit network.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import ferkit
from ferkit.video import write_video

pytest.importorskip("av")


class _CountingModel:
    """A fitted scikit-learn classifier that counts its predict_proba calls and faces."""

    def __init__(self, sample):
        from sklearn.linear_model import LogisticRegression

        keep = np.isin(sample.target, ["happy", "sad"])
        self.inner = LogisticRegression(max_iter=500).fit(self._pool(sample.data[keep]),
                                                          sample.target[keep])
        self.classes_ = self.inner.classes_
        self.calls = []

    @staticmethod
    def _pool(X):
        """48x48 faces as 12x12 means: a fit in a fraction of a second."""
        X = np.asarray(X, dtype=float).reshape(len(X), 12, 4, 12, 4)
        return X.mean(axis=(2, 4)).reshape(len(X), -1) / 255

    def predict_proba(self, X):
        self.calls.append(len(X))
        return self.inner.predict_proba(self._pool(X))


@pytest.fixture(scope="module")
def astronaut_face():
    from skimage.data import astronaut
    from skimage.transform import resize

    return (resize(astronaut()[40:200, 150:290], (64, 56), anti_aliasing=True) * 255).astype(
        np.uint8)


def _two_faces(face, n=12):
    """Frames with two faces moving apart: left one left, right one right."""
    frames = []
    for i in range(n):
        frame = np.full((96, 192, 3), 90, np.uint8)
        x0, x1 = 20 - i, 110 + i
        frame[16:80, x0:x0 + 56] = face
        frame[16:80, x1:x1 + 56] = face[:, ::-1]
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def model(sample):
    return _CountingModel(sample)


def test_two_faces_moving_apart(tmp_path, model, astronaut_face):
    path = tmp_path / "two.mp4"
    write_video(path, _two_faces(astronaut_face), fps=25)
    model.calls.clear()
    table = ferkit.predict_video(model, path, every=3, detector="lbp", batch_size=5)
    assert table.columns.tolist() == ["frame", "time", "face", "x", "y", "width", "height",
                                      "score", "emotion", "happy", "sad"]
    assert sorted(set(table["frame"])) == [0, 3, 6, 9]
    np.testing.assert_allclose(table.groupby("frame")["time"].first(), [0, 0.12, 0.24, 0.36],
                               atol=1e-9)
    # Two tracks, and each keeps its side: the ids do not swap.
    assert sorted(set(table["face"])) == [0, 1]
    centre = table["x"] + table["width"] / 2
    sides = table.assign(left=centre < 96).groupby("face")["left"].agg(["min", "max"])
    assert sides["min"].tolist() == sides["max"].tolist()  # one side per track
    assert sorted(sides["min"].tolist()) == [False, True]
    # Faces of several frames went through the model together (batch_size=5: 6 + 2).
    assert model.calls == [6, 2]
    np.testing.assert_allclose(table[["happy", "sad"]].sum(axis=1), 1.0)


def test_smoothing_reaches_the_table(tmp_path, model, astronaut_face):
    path = tmp_path / "two.mkv"
    write_video(path, _two_faces(astronaut_face, n=6), fps=25)
    raw = ferkit.predict_video(model, path, detector="lbp")
    smooth = ferkit.predict_video(model, path, detector="lbp", smooth=3)
    for face in (0, 1):
        mine = raw[raw["face"] == face]["happy"].to_numpy()
        expected = [mine[max(0, i - 2):i + 1].mean() for i in range(len(mine))]
        np.testing.assert_allclose(smooth[smooth["face"] == face]["happy"], expected)


def test_a_clip_with_no_face(tmp_path, model):
    path = tmp_path / "blank.mp4"
    write_video(path, [np.full((48, 64), 120, np.uint8)] * 6)
    table = ferkit.predict_video(model, path, detector="lbp")
    assert len(table) == 0
    assert table.columns.tolist() == ["frame", "time", "face", "x", "y", "width", "height",
                                      "score", "emotion", "happy", "sad"]


def test_truncated_clip_gives_the_rows_that_decode(tmp_path, model, astronaut_face):
    path = tmp_path / "cut.mkv"
    rng = np.random.default_rng(0)
    frames = [np.clip(f.astype(int) + rng.integers(-40, 40, f.shape), 0, 255).astype(np.uint8)
              for f in _two_faces(astronaut_face, n=20)]
    write_video(path, frames, fps=25)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.warns(ferkit.video.TruncatedVideoWarning, match=r"cut\.mkv") as record:
        table = ferkit.predict_video(model, path, detector="lbp")
    last = int(re.search(r"after frame (\d+)", str(record[0].message)).group(1))
    assert 0 < table["frame"].max() <= last < 19  # the rows of the frames that decoded


def test_bad_sources(tmp_path, model):
    with pytest.raises(FileNotFoundError):
        ferkit.predict_video(model, tmp_path / "missing.mp4", detector="lbp")
    with pytest.raises(ValueError, match="every"):
        ferkit.predict_video(model, tmp_path / "missing.mp4", every=0)
    with pytest.raises(ValueError, match="smooth"):
        ferkit.predict_video(model, tmp_path / "missing.mp4", smooth=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="predict_proba"):
            ferkit.predict_video(object(), tmp_path / "missing.mp4")


def test_the_stream_gives_each_batch_as_it_comes(tmp_path, model, astronaut_face):
    from ferkit.video._predict import VideoStream

    path = tmp_path / "two.mp4"
    write_video(path, _two_faces(astronaut_face), fps=25)
    seen = []
    stream = VideoStream(model, path, detector="lbp", batch_size=4, keep_pixels=True,
                         on_frame=lambda frame, time: seen.append(frame))
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        # A batch's rows come before the next batch's frames are read.
        assert seen[-1] == chunk.frames[-1][0] == chunk.rows["frame"].max()
    assert len(chunks) == 6 and seen == list(range(12))
    assert all(pixels.shape == (96, 192, 3) for chunk in chunks for _, _, pixels in chunk.frames)
    import pandas as pd

    streamed = pd.concat([c.rows for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(
        streamed, ferkit.predict_video(model, path, detector="lbp", batch_size=4))


def test_ctrl_c_ends_a_camera_but_interrupts_a_file(tmp_path, model, astronaut_face):
    """A camera and a file share the stream; only its ``camera`` flag differs, so a file
    stands in for the camera (none is needed) with the flag set."""
    from ferkit.video._predict import VideoStream

    path = tmp_path / "two.mp4"
    write_video(path, _two_faces(astronaut_face), fps=25)

    def ctrl_c_at_frame_5(frame, time):
        if frame == 5:
            raise KeyboardInterrupt

    camera = VideoStream(model, path, detector="lbp", batch_size=4, on_frame=ctrl_c_at_frame_5)
    camera.camera = True
    rows = [chunk.rows for chunk in camera]
    assert camera.interrupted
    # The faces detected before Ctrl-C are still predicted: frames 0 to 5, then it stops.
    assert sorted({f for r in rows for f in r["frame"]}) == [0, 1, 2, 3, 4, 5]
    a_file = VideoStream(model, path, detector="lbp", batch_size=4, on_frame=ctrl_c_at_frame_5)
    with pytest.raises(KeyboardInterrupt):
        list(a_file)
