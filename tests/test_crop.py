"""FaceCropper: photos of any size and kind in, one 48x48 uint8 face per photo out."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from ferkit.faces import crop_face, detect_faces, make_detector, to_gray
from ferkit.preprocessing import FaceCropper


@pytest.fixture(scope="module")
def photo():
    """The astronaut at 200x200: a real face of about 40 pixels."""
    return np.asarray(
        Image.fromarray(data.astronaut()).resize((200, 200), Image.Resampling.BILINEAR)
    )


@pytest.fixture(scope="module")
def no_face():
    return data.coins()[:150, :150]


def test_crops_the_astronaut(photo):
    cropper = FaceCropper()
    faces = cropper.fit_transform([photo])
    assert faces.shape == (1, 48, 48) and faces.dtype == np.uint8
    assert cropper.faces_found_.tolist() == [True]
    # The crop is the detector's largest face, with the default margin, eyes levelled.
    face = detect_faces(photo).iloc[0]
    np.testing.assert_allclose(cropper.boxes_[0], face[["x", "y", "width", "height"]], atol=1)
    row = make_detector()(to_gray(photo), photo)[0]  # unrounded: a pixel moves a 48x48 crop
    np.testing.assert_array_equal(faces[0], crop_face(to_gray(photo), row, align=True))
    assert not np.array_equal(faces[0], crop_face(to_gray(photo), row))  # it is tilted 4 deg
    unaligned = FaceCropper(align=False).fit_transform([photo])[0]
    np.testing.assert_array_equal(unaligned, crop_face(to_gray(photo), cropper.boxes_[0]))


def test_lfw_faces_are_cropped():
    patches = data.lfw_subset()[:100]  # the faces; ships with scikit-image
    cropper = FaceCropper(on_missing="nan")
    faces = cropper.fit_transform(patches)
    assert faces.shape == (100, 48, 48)
    assert cropper.faces_found_.mean() >= 0.9
    found = faces[cropper.faces_found_]
    assert not np.isnan(found).any() and found.min() >= 0 and found.max() <= 255
    assert np.isnan(faces[~cropper.faces_found_]).all()
    # The same faces with on_missing="center": every crop is a 48x48 uint8 face.
    centred = FaceCropper(on_missing="center").fit_transform(patches[:20])
    assert centred.shape == (20, 48, 48) and centred.dtype == np.uint8


def test_a_batch_of_mixed_sizes_kinds_and_files(photo, tmp_path):
    # A 64-colour palette is too coarse for a 40-pixel face: the palette photo is full size.
    Image.fromarray(data.astronaut()).quantize(64).save(tmp_path / "palette.png")
    Image.fromarray(to_gray(photo).astype(np.uint16) * 257).save(tmp_path / "gray16.png")
    big = np.asarray(Image.fromarray(photo).resize((1000, 1000), Image.Resampling.BILINEAR))
    batch = [
        photo,
        big,
        np.dstack([photo, np.full((200, 200), 255, np.uint8)]),
        photo / 255.0,
        tmp_path / "palette.png",
        str(tmp_path / "gray16.png"),
    ]
    cropper = FaceCropper()
    faces = cropper.fit_transform(batch)
    assert faces.shape == (6, 48, 48) and faces.dtype == np.uint8
    assert cropper.faces_found_.all()
    # Every version of the photo gives the same face: the same box (in its own pixels) and
    # crops that match closely (exactly where only the pixel type differs; the grey one is
    # found without colour, so its box moves by a pixel or two).
    boxes = cropper.boxes_ / np.array([1, 5, 1, 1, 512 / 200, 1])[:, None]
    np.testing.assert_allclose(boxes, np.broadcast_to(boxes[0], boxes.shape), atol=3)
    for face in faces[[2, 3]]:
        assert np.abs(face - faces[0].astype(float)).mean() < 1
    for face in faces[[1, 4, 5]]:
        assert np.corrcoef(face.ravel(), faces[0].ravel())[0, 1] > 0.7


def test_an_array_of_same_size_images(photo):
    stack = np.stack([photo, photo[:, ::-1]])
    cropper = FaceCropper(flatten=True)
    out = cropper.fit_transform(stack)
    assert out.shape == (2, 2304) and cropper.faces_found_.all()


def test_on_missing(photo, no_face):
    batch = [photo, no_face, np.zeros((1, 1), dtype=np.uint8)]
    with pytest.raises(ValueError, match="no face found in image 1 of X"):
        FaceCropper().fit_transform(batch)

    centred = FaceCropper(on_missing="center")
    out = centred.fit_transform(batch)
    assert out.dtype == np.uint8 and centred.faces_found_.tolist() == [True, False, False]
    coins = np.asarray(Image.fromarray(no_face).resize((48, 48), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(out[1], coins)
    assert (out[2] == 0).all()
    assert np.isnan(centred.boxes_[1:]).all()

    marked = FaceCropper(on_missing="nan")
    out = marked.fit_transform(batch)
    assert out.dtype == np.float64
    assert not np.isnan(out[0]).any() and np.isnan(out[1:]).all()


def test_bad_files_and_batches_are_named(photo, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        FaceCropper().fit_transform([photo, bad])
    with pytest.raises(TypeError, match="single path"):
        FaceCropper().fit_transform(str(bad))
    with pytest.raises(ValueError, match="list"):
        FaceCropper().fit_transform(np.zeros((48, 48)))
    with pytest.raises(ValueError, match="empty"):
        FaceCropper().fit_transform([])
    with pytest.raises(ValueError, match="size"):
        FaceCropper(size=(48,)).fit_transform([photo])
    with pytest.raises(TypeError, match=r"unknown option.*neighbours"):
        FaceCropper(detector_params={"neighbours": 3}).fit_transform([photo])


def test_options_change_the_crop(photo):
    tight = FaceCropper(margin=0.0).fit_transform([photo])
    loose = FaceCropper(margin=0.5).fit_transform([photo])
    assert not np.array_equal(tight, loose)
    assert FaceCropper(size=(32, 40)).fit_transform([photo]).shape == (1, 32, 40)
    strict = FaceCropper(on_missing="nan", detector="lbp",
                         detector_params={"min_neighbors": 1000})
    strict.fit_transform([photo])
    assert strict.faces_found_.tolist() == [False]


def test_photos_to_emotions_in_one_pipeline(photo, no_face, tmp_path, fitted_pipeline):
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    model = make_pipeline(FaceCropper(on_missing="center"), fitted_pipeline)
    labels = model.predict([photo, path, no_face])
    assert labels.shape == (3,) and set(labels) <= set(fitted_pipeline.classes_)
    crops = FaceCropper(on_missing="center").transform([photo, path, no_face])
    np.testing.assert_array_equal(labels, fitted_pipeline.predict(crops))
    assert clone(model).get_params()["facecropper__on_missing"] == "center"
