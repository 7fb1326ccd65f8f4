"""The straight path from photo to prediction: one read of the photo, one crop function, one
check of the detector's options, images (not flat rows) into the model, and the input size
taken from the fitted model."""

from __future__ import annotations

import ast
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from skimage.data import astronaut

import ferkit
from ferkit import _validation, predict_image
from ferkit.faces import _crop, _detect

ROOT = Path(__file__).resolve().parents[1]


def _spy(module, name):
    """Patch ``module.name`` with a wrapper that counts its calls (and still does the work)."""
    return mock.patch.object(module, name, side_effect=getattr(module, name), autospec=True)


@pytest.fixture(scope="module")
def shipped():
    return ferkit.load_pretrained("fer2013-7")


def test_a_photo_is_validated_once_on_its_way_through_the_shipped_vote(shipped):
    # Before the redesign one photo through fer2013-7 scanned the pixels 5 times (reshaper,
    # scaler, three networks); now the photo is read and checked once and its crops, made by
    # ferkit from checked pixels, are not scanned again.
    with _spy(_crop, "to_gray") as to_gray, _spy(_validation, "_check_values") as scans, \
            _spy(_detect, "_check_detector_params") as options:
        table = predict_image(shipped, astronaut())
    assert len(table) >= 1
    assert to_gray.call_count == 1
    assert scans.call_count == 0
    assert options.call_count == 1


def test_pixels_from_users_are_still_scanned_by_every_step(shipped, sample):
    # Outside predict_image nothing is trusted: a NaN anywhere is found by the first step.
    faces = sample.data[:2].astype(float)
    faces[1, 7] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        shipped.predict_proba(faces)
    with _spy(_validation, "_check_values") as scans:
        shipped.predict_proba(sample.data[:2])
    assert scans.call_count == 5  # reshaper, scaler and each of the three networks


def test_crops_reach_the_model_as_images_of_its_fitted_size(shipped):
    seen = []
    first = shipped.steps[0][1]
    original = type(first).transform

    def record(self, X):
        seen.append(np.shape(X))
        return original(self, X)

    with mock.patch.object(type(first), "transform", record):
        table = predict_image(shipped, astronaut())
    assert seen == [(len(table), 48, 48)]


def test_the_input_size_comes_from_image_shape_not_from_a_square_root(sample):
    # A model fitted on 24x96 strips: 2304 pixels like FER2013's, but not a square.
    pipe = ferkit.make_fer_pipeline(image_shape=(24, 96), filters=(4,), dense_units=(4,),
                                    epochs=1, random_state=0)
    pipe.fit(sample.data, sample.target)
    with _spy(_crop, "_crop_face") as crop:
        table = predict_image(pipe, astronaut())
    assert len(table) >= 1
    assert crop.call_args.kwargs["size"] == (24, 96)


def test_faces_for_a_model_on_flat_rows_are_flat_fer2013_rows(sample):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=50).fit(sample.data[:200] / 255, sample.target[:200])
    table = predict_image(model, astronaut())
    assert len(table) >= 1 and set(table["emotion"]) <= set(sample.target)


def test_one_crop_function_serves_predict_image_and_face_cropper(fitted_pipeline):
    from ferkit.faces import _predict
    from ferkit.preprocessing import FaceCropper
    from ferkit.preprocessing import _crop as cropper_module

    assert _predict.crop_faces is cropper_module.crop_faces is _crop.crop_faces
    # _crop.to_gray is called by crop_faces alone: one call per photo, from both callers.
    with _spy(_crop, "to_gray") as to_gray:
        predict_image(fitted_pipeline, astronaut())
        FaceCropper().fit_transform([astronaut(), astronaut()])
    assert to_gray.call_count == 3


def test_face_cropper_checks_detector_options_once_per_batch():
    from ferkit.preprocessing import FaceCropper

    with _spy(_detect, "_check_detector_params") as options:
        FaceCropper(detector_params={"min_confidence": 0.8}).transform([astronaut()] * 3)
    assert options.call_count == 1


def _called_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)}


def test_detector_options_are_checked_in_one_place():
    callers = [path.relative_to(ROOT).as_posix() for path in (ROOT / "ferkit").rglob("*.py")
               if "_check_detector_params" in _called_names(path)]
    assert callers == ["ferkit/faces/_detect.py"]


def test_the_classifier_class_is_under_250_lines():
    tree = ast.parse((ROOT / "ferkit" / "_classifier.py").read_text())
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef)
              and node.name == "FacialExpressionClassifier"]
    assert cls.end_lineno - cls.lineno + 1 < 250
