"""Faces in the wild (issue #17): MTCNN on scenes with several faces, aligned crops, boxes
from your own detector, batches of photos and the progress bar of ``ferkit predict``.

The scenes are built by ``tests/_scenes.py`` from scikit-image's own pictures: LFW faces
pasted at 30-150 pixels into its photos without people, at known places.
"""

from __future__ import annotations

import io
import sys
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from _scenes import make_scenes, score_detections
from PIL import Image
from skimage import data

from ferkit import detect_faces, predict_image
from ferkit.faces import LANDMARK_COLUMNS, _detect, crop_face, make_detector, to_gray
from ferkit.preprocessing import FaceCropper

N_SCENES = 20


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(N_SCENES)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def test_recall_and_false_faces_on_the_scene_set(scenes):
    detector = make_detector()
    hits = false = total = 0
    for image, truth in scenes:
        found = detect_faces(image, detector=detector)
        h, f = score_detections(truth, found[["x", "y", "width", "height"]].to_numpy())
        hits, false, total = hits + h, false + f, total + len(truth)
        assert ((found["score"] >= 0.9) & (found["score"] <= 1)).all()
    assert total == 4 * N_SCENES
    assert hits / total >= 0.95, f"found {hits} of {total} faces"
    assert false <= N_SCENES // 10, f"{false} false faces in {N_SCENES} scenes"


def test_exactly_one_astronaut_and_no_face_without_people(astronaut):
    assert len(detect_faces(astronaut)) == 1
    for name in ("coffee", "rocket", "coins"):
        assert detect_faces(getattr(data, name)()).empty, name


def test_a_lower_confidence_finds_more_and_is_checked(astronaut):
    # The astronaut's shoulder badge scores 0.87: kept at 0.8, not at the default 0.9.
    assert len(detect_faces(astronaut, min_confidence=0.8)) == 2
    with pytest.raises(ValueError, match="min_confidence"):
        detect_faces(astronaut, min_confidence=-0.1)


def _tilted(image: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).rotate(degrees, resample=Image.Resampling.BILINEAR))


def test_align_levels_the_eyes(astronaut):
    upright = detect_faces(astronaut).iloc[0].to_numpy()
    reference = crop_face(to_gray(astronaut), upright, align=True).astype(float)
    for degrees in (-20, 20):
        tilted = _tilted(astronaut, degrees)
        face = detect_faces(tilted).iloc[0]
        slope = np.degrees(np.arctan2(face["right_eye_y"] - face["left_eye_y"],
                                      face["right_eye_x"] - face["left_eye_x"]))
        assert abs(slope + degrees) < 8  # the landmarks see the tilt (PIL turns anticlockwise)
        gray, row = to_gray(tilted), face.to_numpy()
        aligned = crop_face(gray, row, align=True).astype(float)
        plain = crop_face(gray, row, align=False).astype(float)
        similar = np.corrcoef(aligned.ravel(), reference.ravel())[0, 1]
        assert similar > 0.8
        assert similar > np.corrcoef(plain.ravel(), reference.ravel())[0, 1] + 0.1
    # Without eye landmarks there is nothing to level by: the crop is not rotated.
    box = upright[:4]
    np.testing.assert_array_equal(crop_face(to_gray(astronaut), box, align=True),
                                  crop_face(to_gray(astronaut), box))


def test_predict_image_with_your_own_boxes(astronaut, fitted_pipeline):
    classes = fitted_pipeline.classes_.tolist()
    boxes = np.array([[180, 60, 90, 115], [10, 10, 50, 60]])
    table = predict_image(fitted_pipeline, astronaut, boxes=boxes)
    assert table.columns.tolist() == ["face", "x", "y", "width", "height", "score", "emotion",
                                      *classes]
    assert table[["x", "y", "width", "height"]].to_numpy().tolist() == boxes.tolist()
    assert table["score"].isna().all()  # the given order, no detector score
    crops = np.stack([crop_face(to_gray(astronaut), b) for b in boxes]).astype(np.float32)
    np.testing.assert_allclose(table[classes], fitted_pipeline.predict_proba(crops), atol=1e-5)
    # A detect_faces table works as boxes too; its landmarks are used to align.
    found = detect_faces(astronaut)
    again = predict_image(fitted_pipeline, astronaut, boxes=found)
    assert again[list(found.columns)].equals(found)


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        (np.zeros((2, 3)), r"boxes .*shape \(2, 3\)"),
        ([[0, 0, -5, 10]], "boxes must have finite x, y and positive"),
        ([[0, 0, np.nan, 10]], "boxes must have finite"),
        (pd.DataFrame({"x": [1], "y": [2], "w": [3], "h": [4]}), r"boxes .*lacks \['width'"),
        ([["a", "b", "c", "d"]], "boxes must hold numbers"),
    ],
)
def test_bad_boxes_are_named(astronaut, fitted_pipeline, boxes, match):
    with pytest.raises(ValueError, match=match):
        predict_image(fitted_pipeline, astronaut, boxes=boxes)


def test_face_cropper_with_your_own_boxes(astronaut):
    photos = [astronaut, data.coffee()]
    boxes = pd.DataFrame({"x": [180, np.nan], "y": [60, np.nan], "width": [90, np.nan],
                          "height": [115, np.nan]})
    cropper = FaceCropper(boxes=boxes, on_missing="nan")
    crops = cropper.fit_transform(photos)
    assert cropper.faces_found_.tolist() == [True, False]
    np.testing.assert_array_equal(crops[0], crop_face(to_gray(astronaut), [180, 60, 90, 115]))
    assert np.isnan(crops[1]).all()
    with pytest.raises(ValueError, match="boxes has 2 row"):
        FaceCropper(boxes=boxes).fit_transform([astronaut])


def test_batches_reuse_one_detector(astronaut, tmp_path):
    Image.fromarray(astronaut).save(tmp_path / "b.png")
    Image.fromarray(data.coffee()).save(tmp_path / "a.jpg")
    spy = mock.patch.object(_detect, "_check_detector_params",
                            side_effect=_detect._check_detector_params, autospec=True)
    with spy as checks:
        table = detect_faces([astronaut, data.rocket(), tmp_path / "b.png"])
    assert checks.call_count == 1  # one detector built for the whole list
    assert table["image"].tolist() == [0, str(tmp_path / "b.png")]
    folder = detect_faces(tmp_path)
    assert folder["image"].tolist() == [str(tmp_path / "b.png")]  # a.jpg: coffee, no face
    assert folder.columns.tolist()[1:] == ["x", "y", "width", "height", "score",
                                           *LANDMARK_COLUMNS]
    with pytest.raises(ValueError, match="empty list"):
        detect_faces([])


def test_predict_image_on_a_folder(astronaut, tmp_path, fitted_pipeline):
    for name in ("one.png", "two.png"):
        Image.fromarray(astronaut).save(tmp_path / name)
    table = predict_image(fitted_pipeline, tmp_path)
    assert table["image"].tolist() == [str(tmp_path / "one.png"), str(tmp_path / "two.png")]
    single = predict_image(fitted_pipeline, tmp_path / "one.png")
    pd.testing.assert_frame_equal(table.iloc[:1, 1:], single)
    with pytest.raises(ValueError, match="one photo"):
        predict_image(fitted_pipeline, tmp_path, boxes=[[0, 0, 10, 10]])


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_ferkit_predict_shows_progress_on_folders_for_a_terminal(astronaut, tmp_path,
                                                                  fitted_pipeline, monkeypatch):
    import ferkit
    from ferkit.cli import main

    model = ferkit.save(fitted_pipeline, tmp_path / "model")
    photos = tmp_path / "photos"
    photos.mkdir()
    small = np.asarray(Image.fromarray(astronaut).resize((160, 160)))
    for name in ("a.png", "b.png"):
        Image.fromarray(small).save(photos / name)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert main(["predict", str(photos), "--model", str(model)]) == 0
    assert "2/2" in terminal.getvalue() and "photo" in terminal.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["predict", str(photos), "--model", str(model), "--quiet"]) == 0
    assert "2/2" not in quiet.getvalue()
    # Not a terminal (a log file, a pipe): no bar.
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    assert main(["predict", str(photos), "--model", str(model)]) == 0
    assert "2/2" not in plain.getvalue()


def test_mtcnn_weights_are_plain_arrays_checked_before_use(tmp_path, monkeypatch):
    from ferkit.faces import _mtcnn

    # Every member loads without pickle: the file can hold no code.
    with np.load(_mtcnn.WEIGHTS_DIR / "weights.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype == np.float32 for name in arrays.files)
    assert "MIT License" in (_mtcnn.WEIGHTS_DIR / "LICENSE").read_text()
    damaged = bytearray((_mtcnn.WEIGHTS_DIR / "weights.npz").read_bytes())
    damaged[-100] ^= 0xFF
    (tmp_path / "weights.npz").write_bytes(bytes(damaged))
    monkeypatch.setattr(_mtcnn, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"weights\.npz is damaged"):
        _mtcnn._load_weights()
    (tmp_path / "weights.npz").unlink()
    with pytest.raises(FileNotFoundError, match="weights are missing"):
        _mtcnn._load_weights()


@pytest.mark.slow
@pytest.mark.fulldata
def test_photo_accuracy_benchmark_runs(shared_archive, tmp_path, monkeypatch):
    """``benchmarks/bench_photo_accuracy.py`` on 40 PublicTest faces: the model card's gap
    comes from this script."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_photo_accuracy.py"
    spec = importlib.util.spec_from_file_location("_bench_photo_accuracy", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setenv("FERKIT_RESULTS", str(tmp_path / "RESULTS.md"))
    assert bench.main(["--faces", "40", "--data", str(shared_archive)]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## accuracy on faces found in photos" in text
    assert "margin 0, aligned (default)" in text and "tilted up to 20 degrees" in text
