"""ferkit.video and the emotion timeline, on tiny clips the tests write themselves with PyAV.

Clips are 64x48 to 128x64 pixels and a few dozen frames: each is written in milliseconds.
No camera is needed: a camera and a file share every line after the container is opened
(``VideoReader._frames``), which is what these tests read.
"""

from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from ferkit.video import (
    FaceTracker,
    TruncatedVideoWarning,
    VideoReader,
    VideoWriter,
    iou_matrix,
    write_video,
)

av = pytest.importorskip("av")


def _levels(n, shape=(48, 64)):
    """Frames whose brightness says their index: 20 * i, so a frame can be recognised."""
    return [np.full(shape, 20 * i % 250, dtype=np.uint8) for i in range(n)]


def _faces_clip(sample, n=12, size=(64, 128)):
    """Two FER2013 faces moving apart horizontally, with their true boxes per frame."""
    left, right = sample.images[0], sample.images[150]
    frames, boxes = [], []
    for i in range(n):
        frame = np.full((*size, 3), 90, dtype=np.uint8)
        x0, x1 = 14 - i, 66 + i
        frame[8:56, x0:x0 + 48] = left[..., None]
        frame[8:56, x1:x1 + 48] = right[..., None]
        frames.append(frame)
        boxes.append([[x0, 8, 48, 48], [x1, 8, 48, 48]])
    return frames, boxes


# --- reading ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_every_third_frame_with_stream_times(tmp_path, suffix):
    path = tmp_path / f"clip{suffix}"
    write_video(path, _levels(10), fps=25)
    with VideoReader(path, every=3) as reader:
        assert (reader.width, reader.height, reader.fps) == (64, 48, 25.0)
        got = list(reader)
    assert [index for index, _, _ in got] == [0, 3, 6, 9]
    np.testing.assert_allclose([time for _, time, _ in got], [0.0, 0.12, 0.24, 0.36],
                               atol=1e-9)
    for index, _, pixels in got:  # the right frames, not just the right labels
        assert pixels.shape == (48, 64) and pixels.dtype == np.uint8
        assert abs(float(pixels.mean()) - 20 * index) < 4, index


def test_times_follow_the_frame_rate_and_rgb(tmp_path, sample):
    frames, _ = _faces_clip(sample, n=6)
    path = tmp_path / "faces.mp4"
    write_video(path, frames, fps=10)
    got = list(VideoReader(path, color="rgb", every=2))
    assert [(index, round(time, 6)) for index, time, _ in got] == [(0, 0.0), (2, 0.2),
                                                                  (4, 0.4)]
    assert got[0][2].shape == (64, 128, 3)
    # H.264 is lossy; the face is still there, pixel for pixel, to a few grey levels.
    face = got[0][2][8:56, 14:62, 0].astype(float)
    assert np.abs(face - sample.images[0]).mean() < 12


def test_times_are_the_stream_timestamps_not_frame_counts(tmp_path):
    """A variable frame rate (as phones record): times follow each frame's timestamp."""
    from fractions import Fraction

    path = tmp_path / "vfr.mkv"
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 1.3]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=20)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, time in enumerate(times):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64), 30 * i, np.uint8),
                                               format="gray")
            frame.pts, frame.time_base = round(time * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    got = [(index, time) for index, time, _ in VideoReader(path)]
    assert [index for index, _ in got] == list(range(6))
    np.testing.assert_allclose([time for _, time in got], times, atol=1e-9)


def test_duration_stops_the_stream(tmp_path):
    path = tmp_path / "clip.mkv"
    write_video(path, _levels(20), fps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopping early on purpose is not a truncation
        got = list(VideoReader(path, duration=0.5))
    assert [index for index, _, _ in got] == [0, 1, 2, 3, 4]


def test_missing_file_and_folder(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match=r"nope\.mp4"):
        VideoReader(missing)
    with pytest.raises(ValueError, match="is not a file"):
        VideoReader(tmp_path)


def test_non_video_file(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    with pytest.raises(ValueError, match=r"notes\.mp4: cannot be read as a video"):
        VideoReader(text)


def test_audio_only_file(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(ValueError, match=r"sound\.wav: has no video stream"):
        VideoReader(path)


def test_frames_are_not_kept(tmp_path):
    """Memory stays flat: the reader holds no reference to the frames it has yielded."""
    import gc
    import weakref

    path = tmp_path / "long.mkv"
    write_video(path, (np.full((48, 64, 3), i % 250, np.uint8) for i in range(300)))
    refs = [weakref.ref(pixels) for _, _, pixels in VideoReader(path, color="rgb")]
    gc.collect()
    assert len(refs) == 300
    assert sum(ref() is not None for ref in refs) == 0


def test_mp4_cut_before_its_index(tmp_path):
    """An MP4 keeps its index at the end: cut short, nothing can be decoded, and it says so."""
    path = tmp_path / "cut.mp4"
    write_video(path, _levels(30), fps=25)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.mp4: .*truncated"):
        VideoReader(path)


def _noisy(n, seed=0):
    """Frames that do not compress away, so a cut falls among the frames, not in the header."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (48, 64), dtype=np.uint8) for _ in range(n)]


def _faststart_mp4(path, frames, fps=25):
    """An MP4 with its index first, as web videos are: decodable up to where it is cut."""
    with av.open(str(path), "w", container_options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else
                                      "mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="gray")))
        container.mux(stream.encode(None))


@pytest.mark.parametrize("kind", ["mkv", "faststart-mp4"])
def test_truncated_video_yields_what_decodes_then_warns(tmp_path, kind):
    path = tmp_path / ("cut.mkv" if kind == "mkv" else "cut.mp4")
    if kind == "mkv":
        write_video(path, _noisy(40), fps=25)
    else:
        _faststart_mp4(path, _noisy(40))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])
    with pytest.warns(TruncatedVideoWarning, match=rf"{path.name}: .*truncated") as record:
        got = list(VideoReader(path))
    assert 0 < len(got) < 40
    assert [index for index, _, _ in got] == list(range(len(got)))
    assert f"after frame {len(got) - 1} " in str(record[0].message)
    # on_truncated="raise": the same frames come first, then the error.
    seen = []
    with pytest.raises(ValueError, match=f"after frame {len(got) - 1} "):
        for item in VideoReader(path, on_truncated="raise"):
            seen.append(item[0])
    assert seen == list(range(len(got)))


def test_a_reader_streams_once(tmp_path):
    path = tmp_path / "clip.mkv"
    write_video(path, _levels(4))
    reader = VideoReader(path)
    assert len(list(reader)) == 4
    with pytest.raises(RuntimeError, match="open a new one"):
        iter(reader)
    stopped = VideoReader(path)
    for _ in stopped:
        break  # the consumer stops early: closing the reader is enough
    stopped.close()
    with pytest.raises(RuntimeError, match="read through or closed"):
        list(stopped)


def test_complete_videos_do_not_warn(tmp_path):
    for name in ("a.mkv", "b.mp4", "c.avi"):
        write_video(tmp_path / name, _noisy(15), fps=30)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert len(list(VideoReader(tmp_path / name))) == 15
    _faststart_mp4(tmp_path / "d.mp4", _noisy(15))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(VideoReader(tmp_path / "d.mp4"))) == 15


def test_a_longer_soundtrack_is_not_a_truncation(tmp_path):
    """An MKV's header has only the container's duration: the longest stream's (here 2 s of
    sound against 0.4 s of picture), which says nothing about the video's end."""
    path = tmp_path / "talk.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=8000)
        for pixels in _levels(10):
            container.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="gray")))
        container.mux(video.encode(None))
        for k in range(20):
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                               layout="mono")
            sound.sample_rate, sound.pts = 8000, 800 * k
            container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(VideoReader(path))) == 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="v4l2 device paths")
def test_camera_that_does_not_exist():
    with pytest.raises(ValueError, match=r"camera 97: no such camera \(/dev/video97"):
        VideoReader(97)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"source": -1}, ValueError, "camera index"),
    ({"source": True}, TypeError, "source"),
    ({"source": 3.5}, TypeError, "source"),
    ({"source": "x.mp4", "every": 0}, ValueError, "every"),
    ({"source": "x.mp4", "every": 2.0}, ValueError, "every"),
    ({"source": "x.mp4", "color": "bgr"}, ValueError, "color"),
    ({"source": "x.mp4", "duration": float("inf")}, ValueError, "duration"),
    ({"source": "x.mp4", "on_truncated": "ignore"}, ValueError, "on_truncated"),
])
def test_reader_options_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        VideoReader(**kwargs)


# --- writing ---------------------------------------------------------------------------------

def test_writer_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(path, fps=25) as writer:
        for pixels in _levels(5):
            writer.write(pixels)
        raise RuntimeError("boom")
    with pytest.raises(ValueError, match="even"):
        write_video(path, [np.zeros((47, 64), np.uint8)])
    with pytest.raises(ValueError, match="as the first"):
        write_video(path, [np.zeros((48, 64), np.uint8), np.zeros((48, 66), np.uint8)])
    with pytest.raises(ValueError, match="no frame"):
        write_video(path, [])
    assert list(tmp_path.iterdir()) == []
    write_video(path, _levels(3))  # and a good one lands at the path, alone
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    assert len(list(VideoReader(path))) == 3


# --- tracking --------------------------------------------------------------------------------

def test_two_faces_moving_apart_keep_their_ids(sample, tmp_path):
    """Through a real clip: frames read back, boxes (known) fed in shuffled order."""
    frames, boxes = _faces_clip(sample, n=12)
    path = tmp_path / "two.mp4"
    write_video(path, frames, fps=25)
    tracker, rng = FaceTracker(), np.random.default_rng(0)
    first = None
    for index, _, _ in VideoReader(path, every=3):
        order = rng.permutation(2)
        ids, _ = tracker.update(np.array(boxes[index])[order])
        by_position = dict(zip(order.tolist(), ids.tolist(), strict=True))
        first = first or by_position
        assert by_position == first  # the left face keeps its id, the right one its own
    assert tracker.n_tracks_ == 2


def _cross(tracker, dy, step):
    """Two 40-pixel boxes crossing horizontally, ``dy`` apart; whether both ids held."""
    first = None
    for k in range(160 // step + 1):
        ids = tracker.update([[k * step, 0, 40, 40], [160 - k * step, dy, 40, 40]])[0].tolist()
        first = first or ids
        if ids != first:
            return False
    return tracker.n_tracks_ == 2


@pytest.mark.parametrize(("dy", "step", "kept"), [
    (10, 2, True), (10, 6, True), (10, 12, True), (30, 12, True),
    (0, 2, True), (0, 6, False),  # the limitation the docs state: same line, fast
])
def test_crossing_faces(dy, step, kept):
    assert _cross(FaceTracker(), dy, step) is kept


def test_tracks_end_after_missed_frames():
    tracker = FaceTracker(max_missed=2)
    box = [[10, 10, 30, 30]]
    assert tracker.update(box)[0].tolist() == [0]
    tracker.update([])
    tracker.update(np.empty((0, 4)))
    assert tracker.update(box)[0].tolist() == [0]  # two misses: still the same face
    for _ in range(3):
        tracker.update([])
    assert tracker.update(box)[0].tolist() == [1]  # three: it left, and a new face came


def test_low_overlap_starts_a_new_track():
    tracker = FaceTracker(min_iou=0.5)
    tracker.update([[0, 0, 10, 10]])
    assert iou_matrix([[0, 0, 10, 10]], [[5, 0, 10, 10]])[0, 0] == pytest.approx(1 / 3)
    assert tracker.update([[5, 0, 10, 10]])[0].tolist() == [1]


def test_smoothing_math():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    ema = FaceTracker(smooth=0.5)
    got = [ema.update([[0, 0, 10, 10]], [row])[1][0] for row in p]
    np.testing.assert_allclose(got, [[1, 0], [0.5, 0.5], [0.25, 0.75]])
    window = FaceTracker(smooth=2)
    got = [window.update([[0, 0, 10, 10]], [row])[1][0] for row in p]
    np.testing.assert_allclose(got, [[1, 0], [0.5, 0.5], [0, 1]])
    # Per track: a second face's probabilities do not leak into the first one's average.
    two = FaceTracker(smooth=2)
    two.update([[0, 0, 10, 10], [50, 0, 10, 10]], [[1, 0], [0, 1]])
    _, out = two.update([[50, 0, 10, 10], [0, 0, 10, 10]], [[0, 1], [1, 0]])
    np.testing.assert_allclose(out, [[0, 1], [1, 0]])
    # Off by default: the probabilities come back as given.
    _, same = FaceTracker().update([[0, 0, 10, 10]], [[0.3, 0.7]])
    np.testing.assert_allclose(same, [[0.3, 0.7]])


@pytest.mark.parametrize("smooth", [0, 0.0, 1.5, -2, True, float("nan"), "ema"])
def test_bad_smooth(smooth):
    with pytest.raises(ValueError, match="smooth"):
        FaceTracker(smooth=smooth)


# --- timeline --------------------------------------------------------------------------------

def _table():
    import pandas as pd

    rows = []
    for frame in range(0, 12, 3):
        for face in (0, 1):
            if face == 1 and frame == 6:
                continue  # face 1 unseen in this frame: a gap in its lines
            happy = 0.2 + 0.05 * frame if face == 0 else 0.1
            rows.append(dict(frame=frame, time=frame / 25, face=face, x=10 + 50 * face, y=5,
                             width=40, height=40, score=0.99,
                             emotion="happy" if happy > 0.5 else "sad", happy=happy,
                             sad=1 - happy))
    return pd.DataFrame(rows)


def test_timeline_draws_one_panel_per_face():
    from ferkit.plotting import EmotionTimelineDisplay

    display = EmotionTimelineDisplay.from_predictions(_table())
    assert [ax.get_title() for ax in display.axes_] == ["face 0", "face 1"]
    assert sorted(display.lines_) == [(0, "happy"), (0, "sad"), (1, "happy"), (1, "sad")]
    x, y = display.lines_[(1, "happy")].get_data()
    np.testing.assert_allclose(x, [0, 0.12, 0.24, 0.36])
    assert np.isnan(y[2]) and not np.isnan(y[[0, 1, 3]]).any()
    only = EmotionTimelineDisplay.from_predictions(_table(), faces=[1], classes=["sad"])
    assert list(only.lines_) == [(1, "sad")]


def test_timeline_errors():
    from ferkit.plotting import EmotionTimelineDisplay

    table = _table()
    with pytest.raises(ValueError, match="lacks columns"):
        EmotionTimelineDisplay.from_predictions(table.drop(columns="time"))
    with pytest.raises(ValueError, match="no faces"):
        EmotionTimelineDisplay.from_predictions(table.iloc[:0])
    with pytest.raises(ValueError, match=r"faces \[7\]"):
        EmotionTimelineDisplay.from_predictions(table, faces=[7])
    with pytest.raises(TypeError, match="DataFrame"):
        EmotionTimelineDisplay.from_predictions(table.to_numpy())


# --- the package -----------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["ferkit.video._reader", "ferkit.video._track",
                                    "ferkit.video._write", "ferkit.plotting._timeline",
                                    "ferkit.video._predict"])
def test_docstring_examples(module, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_ferkit_does_not_load_pyav():
    # Nor does the command line's parser, which knows the video options.
    code = ("import sys, ferkit, ferkit.video, ferkit.plotting, ferkit.cli; "
            "ferkit.cli.build_parser(); assert 'av' not in sys.modules, 'av loaded'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_pyav_the_error_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "clip.mp4"
    write_video(path, _levels(2))
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    for attempt in (lambda: VideoReader(path), lambda: write_video(path, _levels(2))):
        with pytest.raises(ImportError, match=r"PyAV.*pip install 'ferkit\[video\]'"):
            attempt()
