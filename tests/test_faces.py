"""ferkit.faces: reading photos, detecting faces, predicting their emotions, drawing them.

Real faces come from scikit-image's own data (the astronaut photo and the LFW subset, both
shipped inside the package); photo files are written by the tests into tmp_path only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from ferkit import detect_faces, predict_image
from ferkit.faces import (
    IMAGE_EXTENSIONS,
    LANDMARK_COLUMNS,
    crop_face,
    draw_faces,
    list_images,
    read_image,
    to_gray,
)

# Where the astronaut's face is in skimage.data.astronaut() (512x512): its centre and side.
FACE_CENTRE = (226, 115)
FACE_SIDE = (70, 130)


def _holds_the_face(box, scale: float = 1.0) -> bool:
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return (
        abs(cx - FACE_CENTRE[0] * scale) < 30 * scale
        and abs(cy - FACE_CENTRE[1] * scale) < 30 * scale
        and FACE_SIDE[0] * scale <= box["width"] <= FACE_SIDE[1] * scale
    )


#: Most tests search a 200x200 copy of the photo: the same face, found 6x faster.
SMALL = 200 / 512


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def small(astronaut):
    return np.asarray(Image.fromarray(astronaut).resize((200, 200), Image.Resampling.BILINEAR))


BOXES = ["x", "y", "width", "height", "score"]


def test_finds_the_astronaut_and_her_landmarks(astronaut):
    faces = detect_faces(astronaut)
    assert faces.columns.tolist() == [*BOXES, *LANDMARK_COLUMNS]
    assert all(faces[c].dtype == np.int64 for c in BOXES[:4])
    assert len(faces) == 1  # not the badge on her shoulder (MTCNN scores it 0.87)
    face = faces.iloc[0]
    assert _holds_the_face(face) and 0.9 <= face["score"] <= 1
    # Landmarks inside the box, in the image's left-to-right order, eyes above the mouth.
    inside_x = face["x"] <= face[[c for c in LANDMARK_COLUMNS if c.endswith("_x")]]
    assert (inside_x <= face["x"] + face["width"]).all()
    assert face["left_eye_x"] < face["nose_x"] < face["right_eye_x"]
    assert max(face["left_eye_y"], face["right_eye_y"]) < face["nose_y"] < face["mouth_left_y"]


def test_the_lbp_cascade_is_still_there(astronaut):
    faces = detect_faces(astronaut, detector="lbp")
    assert faces.columns.tolist() == BOXES  # no landmarks
    assert _holds_the_face(faces.iloc[0])
    areas = faces["width"] * faces["height"]
    assert (np.diff(areas) <= 0).all()  # largest first
    assert (faces["score"] >= 3).all()  # min_neighbors=3 by default: windows, not probability
    assert len(detect_faces(astronaut, detector="lbp", min_neighbors=8)) <= len(faces)


def test_finds_the_lfw_faces_and_not_the_other_patches():
    # lfw_subset ships inside scikit-image (no download): 100 faces, then 100 non-face patches
    # of 25x25 pixels. MTCNN finds 97 and no false one (the LBP cascade 78, and 1).
    patches = data.lfw_subset()
    found = np.array([len(detect_faces(p)) > 0 for p in patches])
    assert found[:100].mean() >= 0.9
    assert found[100:].mean() <= 0.02


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda a: to_gray(a), id="gray-uint8"),
        pytest.param(lambda a: a / 255.0, id="rgb-float01"),
        pytest.param(lambda a: a.astype(np.float32), id="rgb-float255"),
        pytest.param(lambda a: a.astype(np.uint16) * 257, id="rgb-16bit"),
        pytest.param(lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]), id="rgba"),
        pytest.param(lambda a: to_gray(a).astype(np.int64), id="gray-int64"),
    ],
)
def test_any_pixel_type(small, convert):
    assert _holds_the_face(detect_faces(convert(small)).iloc[0], SMALL)


def test_image_files_of_every_kind(astronaut, small, tmp_path):
    rgb = Image.fromarray(small)
    gray16 = to_gray(small).astype(np.uint16) * 257
    files = {
        "photo.jpg": lambda p: rgb.save(p, quality=90),
        "photo.png": lambda p: rgb.save(p),
        "rgba.png": lambda p: rgb.convert("RGBA").save(p),
        "gray16.png": lambda p: Image.fromarray(gray16).save(p),
        "gray.bmp": lambda p: rgb.convert("L").save(p),
        "cmyk.tif": lambda p: rgb.convert("CMYK").save(p),
    }
    for name, write in files.items():
        write(tmp_path / name)
        assert _holds_the_face(detect_faces(tmp_path / name).iloc[0], SMALL), name
    assert read_image(tmp_path / "gray16.png").dtype == np.uint16
    # Palettes of 64 colours are too coarse for a 40-pixel face: those photos are full size.
    palette = Image.fromarray(astronaut).quantize(64)
    for name in ("palette.png", "palette.gif"):
        palette.save(tmp_path / name)
        assert _holds_the_face(detect_faces(tmp_path / name).iloc[0]), name
    assert read_image(tmp_path / "palette.png").shape == (512, 512, 3)


def test_a_very_large_photo_is_searched_small_and_mapped_back(astronaut):
    big = np.asarray(Image.fromarray(astronaut).resize((4096, 4096), Image.Resampling.BILINEAR))
    faces = detect_faces(big)
    assert _holds_the_face(faces.iloc[0], scale=8.0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (3, 500), (23, 23)])
def test_tiny_images_have_no_face(shape):
    faces = detect_faces(np.full(shape, 128, dtype=np.uint8))
    assert faces.empty and faces.columns.tolist() == [*BOXES, *LANDMARK_COLUMNS]
    assert detect_faces(np.full(shape, 128, dtype=np.uint8), detector="lbp").empty


@pytest.mark.parametrize("name", ["coffee", "rocket", "coins", "chelsea"])
def test_no_face_in_a_photo_without_people(name):
    assert detect_faces(getattr(data, name)()).empty


def test_unreadable_files_are_named(tmp_path, astronaut):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.jpg"
    Image.fromarray(astronaut).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    for bad in (text, empty, truncated):
        with pytest.raises(ValueError, match=bad.name):
            detect_faces(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        detect_faces(tmp_path / "missing.png")
    # A folder is a batch: its unreadable files are named too.
    with pytest.raises(ValueError, match=r"notes\.jpg|empty\.png|truncated\.jpg"):
        detect_faces(tmp_path)
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match=r"no image files in folder .*none"):
        detect_faces(tmp_path / "none")


def test_files_beyond_pillows_size_limit_are_refused_by_name(tmp_path, monkeypatch):
    # Pillow refuses images over twice MAX_IMAGE_PIXELS (~179 megapixels by default) as
    # possible decompression bombs; a lower limit reaches the same path with a small file.
    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((100, 100), dtype=np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match=r"huge\.png.*pixels"):
        detect_faces(path)


def test_exif_orientation_is_applied(astronaut, tmp_path):
    path = tmp_path / "camera.jpg"
    tall = astronaut[:, :300]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(tall).save(path, exif=exif)
    assert read_image(path).shape == (300, 512, 3)


def test_animated_files_give_their_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((8, 8), v, dtype=np.uint8)) for v in (10, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert to_gray(path).max() < 50


def test_units_of_arrays():
    np.testing.assert_array_equal(to_gray(np.array([[0, 65535]], dtype=np.uint16)), [[0, 255]])
    np.testing.assert_array_equal(to_gray(np.array([[False, True]])), [[0, 255]])
    np.testing.assert_array_equal(to_gray(np.array([[0.0, 0.5, 1.0]])), [[0, 128, 255]])
    np.testing.assert_array_equal(to_gray(np.array([[0.0, 127.0, 255.0]])), [[0, 127, 255]])
    np.testing.assert_array_equal(to_gray(np.array([[0, 300, 65535]])), [[0, 1, 255]])
    # Transparent pixels show the white they would be drawn on.
    assert to_gray(np.array([[[0, 0, 0, 0], [0, 0, 0, 255]]], dtype=np.uint8)).tolist() == [
        [255, 0]
    ]


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.array([[-1.0, 0.5]]), ValueError, r"\[-1, 0.5\]"),
        (np.array([[np.nan, 0.5]]), ValueError, "NaN"),
        (np.array([[-3, 7]]), ValueError, r"\[-3, 7\]"),
        (np.zeros((3, 20, 20)), ValueError, "channels-first"),
        (np.zeros((2, 2, 2, 2)), ValueError, "shape"),
        (np.zeros((0, 5)), ValueError, "empty"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
    ],
)
def test_bad_arrays_get_clear_errors(image, error, match):
    with pytest.raises(error, match=match):
        detect_faces(image)


@pytest.mark.parametrize(
    "options",
    [{"min_confidence": 1.5}, {"min_confidence": "high"}, {"max_side": 10},
     {"min_size": "big"}, {"min_size": 5}, {"detector": "yolo"},
     {"detector": "lbp", "min_neighbors": 0}, {"detector": "lbp", "scale_factor": 1.0},
     {"detector": "lbp", "max_side": 10}, {"detector": "lbp", "min_confidence": 0.5}],
)
def test_bad_detector_options(options, small):
    name = [k for k in options if k != "detector"] or ["detector"]
    with pytest.raises((ValueError, TypeError), match=name[0]):
        detect_faces(small, **options)


def test_options_of_the_other_detector_are_named():
    with pytest.raises(TypeError, match=r"min_neighbors.*another detector"):
        detect_faces(np.zeros((50, 50), np.uint8), min_neighbors=3)


def test_crop_face_frames_the_box():
    gray = np.arange(100 * 100, dtype=np.float64).reshape(100, 100) % 251
    gray = gray.astype(np.uint8)
    exact = crop_face(gray, (20, 30, 48, 48), margin=0.0)
    np.testing.assert_array_equal(exact, gray[30:78, 20:68])
    # At a border the missing part repeats the edge pixels, keeping the face square.
    corner = crop_face(gray, (0, 0, 40, 40), margin=0.1, size=(48, 48))
    assert corner.shape == (48, 48) and corner.dtype == np.uint8


def test_predict_image_on_every_face(small, fitted_pipeline):
    table = predict_image(fitted_pipeline, small, align=False)
    classes = fitted_pipeline.classes_.tolist()
    assert table.columns.tolist() == [
        "face", *BOXES, *LANDMARK_COLUMNS, "emotion", *classes
    ]
    faces = detect_faces(small)
    pd.testing.assert_frame_equal(table[faces.columns], faces)
    assert table["face"].tolist() == list(range(len(faces)))
    proba = table[classes].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert (table["emotion"] == np.asarray(classes)[proba.argmax(axis=1)]).all()
    # Each row is the model's own prediction for that face's 48x48 crop.
    crop = crop_face(to_gray(small), faces.iloc[0].to_numpy()[:4])
    np.testing.assert_allclose(
        fitted_pipeline.predict_proba(crop.reshape(1, -1))[0], proba[0], atol=1e-3
    )


def test_predict_image_without_a_face(fitted_pipeline, tmp_path):
    path = tmp_path / "coins.png"
    Image.fromarray(data.coins()).save(path)
    table = predict_image(fitted_pipeline, path)
    assert table.empty
    assert table.columns[-3:].tolist() == fitted_pipeline.classes_.tolist()


def test_predict_image_needs_a_fitted_classifier(small):
    from ferkit import make_fer_pipeline

    with pytest.raises(ValueError, match="not fitted"):
        predict_image(make_fer_pipeline(), small)
    with pytest.raises(TypeError, match="predict_proba"):
        predict_image(object(), small)


def test_draw_faces_marks_the_boxes_only(astronaut):
    boxes = pd.DataFrame({"x": [100], "y": [50], "width": [60], "height": [60]})
    drawn = draw_faces(to_gray(astronaut), boxes)
    assert drawn.shape == (512, 512, 3) and drawn.dtype == np.uint8
    gray3 = np.repeat(to_gray(astronaut)[..., None], 3, axis=2)
    changed = (drawn != gray3).any(axis=2)
    assert changed[50, 100:160].all() and changed[109, 100:160].all()
    assert not changed[300:, :].any()  # the rest of the photo is untouched
    labelled = boxes.assign(emotion=["happy"], happy=[0.9])
    assert (draw_faces(astronaut, labelled) != draw_faces(astronaut, boxes)).any()
    with pytest.raises(ValueError, match="width"):
        draw_faces(astronaut, boxes.drop(columns="width"))


def test_image_extensions_are_those_pillow_opens():
    assert {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"} <= (
        IMAGE_EXTENSIONS
    )
    assert all(ext.startswith(".") and ext == ext.lower() for ext in IMAGE_EXTENSIONS)
    registered = Image.registered_extensions()
    assert all(registered[ext] in Image.OPEN for ext in IMAGE_EXTENSIONS)
    assert ".pdf" not in IMAGE_EXTENSIONS  # Pillow writes PDFs but does not read them
    assert ".txt" not in IMAGE_EXTENSIONS


def test_list_images(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.PNG", "notes.txt", ".hidden.png", "sub/c.png"):
        (tmp_path / name).write_bytes(b"")
    images, skipped = list_images([tmp_path])
    assert [p.name for p in images] == ["a.PNG", "b.jpg"]
    assert [p.name for p in skipped] == ["notes.txt"]
    images, _ = list_images([tmp_path], recursive=True)
    assert [p.name for p in images] == ["a.PNG", "b.jpg", "c.png"]
    # A file named explicitly is kept whatever its extension, so a bad one gets reported.
    assert list_images([tmp_path / "notes.txt"])[0] == [tmp_path / "notes.txt"]
    with pytest.raises(FileNotFoundError, match="nope"):
        list_images([tmp_path / "nope"])


def test_video_files_are_not_listed_as_photos(tmp_path):
    from ferkit.faces import IMAGE_EXTENSIONS, list_images

    assert not {".mpg", ".mpeg"} & IMAGE_EXTENSIONS  # Pillow reads their size, not pixels
    (tmp_path / "clip.mpg").write_bytes(b"\x00\x00\x01\xba")
    (tmp_path / "face.png").write_bytes(b"")
    images, skipped = list_images([tmp_path])
    assert [p.name for p in images] == ["face.png"]
    assert [p.name for p in skipped] == ["clip.mpg"]
