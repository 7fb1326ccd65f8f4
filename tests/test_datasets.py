"""Tests for ferkit.datasets.load_fer2013: every source form, bad input, filters, cache.

Every fixture is written here, into tmp_path, from small synthetic arrays.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferkit._emotions import EMOTIONS
from ferkit.datasets import _csv as csv_module
from ferkit.datasets import _image_folder as folder_module
from ferkit.datasets import load_fer2013

N = 14  # two faces per emotion


# --------------------------------------------------------------------------- fixtures ---


@pytest.fixture
def faces():
    """Synthetic faces: random pixels, each emotion twice, a mix of all three splits."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N, 48, 48), dtype=np.uint8)
    codes = np.arange(N) % 7
    usage = np.array(["Training", "PublicTest", "PrivateTest", "Training"] * 4)[:N]
    return images, codes, usage


def _pixels(image) -> str:
    return " ".join(map(str, image.ravel().tolist()))


def write_csv(path: Path, images, codes=None, usage=None, *, header="emotion,pixels,Usage"):
    """A CSV in the column order its header names (leading spaces kept, as in icml_face_data)."""
    names = [h.strip().lower() for h in header.split(",")]
    sep = ", " if ", " in header else ","
    lines = [header]
    for i, image in enumerate(images):
        cells = {"emotion": str(codes[i]) if codes is not None else "",
                 "usage": usage[i] if usage is not None else "",
                 "pixels": _pixels(image)}
        lines.append(sep.join(cells[n] for n in names))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_folder(root: Path, images, codes, usage, *, fmt="png", names=None):
    """The image-folder layout: train/<emotion>/ for Training, test/<emotion>/ otherwise."""
    paths = []
    for i, (image, code, split) in enumerate(zip(images, codes, usage, strict=True)):
        folder = "train" if split == "Training" else "test"
        name = names[i] if names else f"{split}_{i:03d}.{fmt}"
        path = root / folder / EMOTIONS[code] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        paths.append(path.relative_to(root).as_posix())
    return paths


def zip_folder(root: Path, archive: Path, *, prefix="") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                zf.write(file, prefix + file.relative_to(root).as_posix())
    return archive


def folder_order(members, usage):
    """Expected order of the layout: Training first, then by path."""
    return sorted(range(len(members)), key=lambda i: (usage[i] != "Training", members[i]))


def one_warning(record) -> str:
    user = [w for w in record if issubclass(w.category, UserWarning)]
    assert len(user) == 1, [str(w.message) for w in user]
    return str(user[0].message)


# ------------------------------------------------------------------------ round trips ---


@pytest.mark.parametrize(
    "header, labelled, has_usage",
    [
        ("emotion,pixels,Usage", True, True),  # fer2013.csv
        ("emotion, Usage, pixels", True, True),  # icml_face_data.csv
        ("emotion,pixels", True, False),  # competition train.csv
        ("pixels", False, False),  # competition test.csv
    ],
)
def test_csv_forms_round_trip(tmp_path, faces, header, labelled, has_usage):
    images, codes, usage = faces
    path = write_csv(tmp_path / "any-name.csv", images, codes, usage, header=header)
    bunch = load_fer2013(path)
    np.testing.assert_array_equal(bunch.images, images)
    np.testing.assert_array_equal(bunch.data, images.reshape(N, 2304))
    assert bunch.data.dtype == np.uint8 and bunch.images.dtype == np.uint8
    np.testing.assert_array_equal(bunch.row, np.arange(N) + 2)
    if labelled:
        assert bunch.target.tolist() == [EMOTIONS[c] for c in codes]
        assert bunch.target_names.tolist() == list(EMOTIONS)
    else:
        assert bunch.target is None and len(bunch.target_names) == 0
        assert "no labels" in bunch.DESCR
    if has_usage:
        assert bunch.usage.tolist() == usage.tolist()
    else:
        assert bunch.usage is None
    assert "FER2013" in bunch.DESCR and str(path) in bunch.DESCR


def test_form_is_detected_from_content_not_name(tmp_path, faces):
    images, codes, usage = faces
    root = tmp_path / "layout"
    write_folder(root, images, codes, usage)
    disguised = zip_folder(root, tmp_path / "fer2013.csv")  # a zip named like a CSV
    assert len(load_fer2013(disguised).images) == N
    csv = write_csv(tmp_path / "faces.zip", images, codes, usage)  # a CSV named like a zip
    np.testing.assert_array_equal(load_fer2013(csv).images, images)


@pytest.mark.parametrize("as_zip", [False, True])
def test_image_folder_round_trip(tmp_path, faces, as_zip):
    images, codes, usage = faces
    usage = np.where(usage == "PrivateTest", "PublicTest", usage)  # the layout has 2 splits
    root = tmp_path / "layout"
    members = write_folder(root, images, codes, usage)  # PNG: lossless, so exact
    (root / "README.txt").write_text("not a face")  # files beside the splits are ignored
    path = zip_folder(root, tmp_path / "faces.zip") if as_zip else root
    bunch = load_fer2013(path)
    order = folder_order(members, usage)
    np.testing.assert_array_equal(bunch.images, images[order])
    assert bunch.target.tolist() == [EMOTIONS[codes[i]] for i in order]
    assert bunch.usage.tolist() == [usage[i] for i in order]
    assert bunch.member.tolist() == [members[i] for i in order]


def test_zip_with_wrapper_folder_and_os_junk(tmp_path, faces):
    images, codes, usage = faces
    usage = np.where(usage == "PrivateTest", "PublicTest", usage)
    root = tmp_path / "layout"
    write_folder(root, images, codes, usage)
    archive = zip_folder(root, tmp_path / "faces.zip", prefix="fer2013/")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/fer2013/train/angry/._x.png", b"resource fork")
        zf.writestr("fer2013/train/angry/.DS_Store", b"finder")
    bunch = load_fer2013(archive)
    assert len(bunch.images) == N
    assert all(m.startswith("fer2013/") for m in bunch.member)


def test_jpeg_matches_pillow(tmp_path, faces, monkeypatch):
    """JPEGs (baseline, progressive, colour) decode exactly as Image.open decodes them."""
    # Small chunks and two threads, so that the threaded decoding is exercised too.
    monkeypatch.setattr(folder_module, "_CHUNK", 3)
    monkeypatch.setattr(folder_module, "_N_THREADS", 2)
    images, codes, _ = faces
    archive = tmp_path / "faces.zip"
    expected = {}
    with zipfile.ZipFile(archive, "w") as zf:
        for i, image in enumerate(images):
            picture = Image.fromarray(image)
            options = {}
            if i % 3 == 1:
                options["progressive"] = True
            if i % 3 == 2:
                picture = Image.merge("RGB", (picture, picture.rotate(90), picture))
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=90, **options)
            name = f"train/{EMOTIONS[codes[i]]}/{i:03d}.jpg"
            zf.writestr(name, buffer.getvalue())
            expected[name] = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    bunch = load_fer2013(archive)
    assert sorted(bunch.member) == sorted(expected)
    for member, image in zip(bunch.member, bunch.images, strict=True):
        np.testing.assert_array_equal(image, expected[member])


def test_decode_face_reads_what_pillow_reads_and_checks_the_size():
    """Long EXIF segments, progressive and colour JPEGs, PNGs; wrong sizes and cut files."""
    def jpeg(mode, size, **options):
        buffer = io.BytesIO()
        Image.new(mode, size, 100).save(buffer, "JPEG", **options)
        return buffer.getvalue()

    exif = Image.Exif()
    exif[0x010E] = "a face" * 100  # a long APP1 segment before the frame header
    for payload in (jpeg("L", (48, 48)), jpeg("L", (48, 48), exif=exif),
                    jpeg("L", (48, 48), progressive=True), jpeg("RGB", (48, 48)), _png()):
        face = folder_module.decode_face(payload)
        assert face.shape == (48, 48) and face.dtype == np.uint8
        np.testing.assert_array_equal(
            face, np.asarray(Image.open(io.BytesIO(payload)).convert("L")))
    with pytest.raises(folder_module.BadFace, match="image is 64x30 pixels; expected a 48x48"):
        folder_module.decode_face(jpeg("L", (64, 30), progressive=True))
    with pytest.raises(folder_module.BadFace, match="cannot be read as an image"):
        folder_module.decode_face(jpeg("L", (48, 48))[:40])  # cut before the frame


# ------------------------------------------------------------------ bad input: CSV ------

PIXELS_OK = _pixels(np.zeros((48, 48), dtype=np.uint8))


@pytest.mark.parametrize(
    "bad_line, expected",
    [
        ("3," + " ".join(["7"] * 2303) + ",Training", ["2303 values", "expected 2304"]),
        ("3," + " ".join(["7"] * 2305) + ",Training", ["2305 values", "expected 2304"]),
        ("3,,Training", ["pixels is empty", "expected 2304"]),
        ("3,12 ab " + " ".join(["7"] * 2302) + ",Training",
         ["'ab'", "value 2 of 2304", "not a whole number", "integers 0-255"]),
        ("3," + " ".join(["7"] * 2303) + " 256,Training",
         ["256", "value 2304", "above 255", "integers 0-255"]),
        ("3,-1 " + " ".join(["7"] * 2303) + ",Training", ["'-1'", "not a whole number"]),
        ("3," + " ".join(["7"] * 2303) + " é,Training", ["'é'", "not a whole number"]),
        ("7," + PIXELS_OK + ",Training", ["emotion code '7' is unknown", "0-6", "0 angry"]),
        ("happy," + PIXELS_OK + ",Training", ["emotion code 'happy' is unknown", "0-6"]),
        ("," + PIXELS_OK + ",Training", ["emotion is empty", "0-6"]),
        ("3," + PIXELS_OK + ",Validation",
         ["Usage 'Validation' is unknown", "Training", "PrivateTest"]),
    ],
)
def test_csv_bad_row_names_file_row_and_expectation(tmp_path, bad_line, expected):
    good = f"0,{PIXELS_OK},Training"
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(["emotion,pixels,Usage", good, good, bad_line, good]) + "\n")
    with pytest.raises(ValueError) as info:
        load_fer2013(path)
    message = str(info.value)
    assert str(path) in message
    assert "row 4:" in message  # header = row 1, so the third face is row 4
    assert "header is row 1" in message
    for text in expected:
        assert text in message


def test_csv_odd_but_valid_pixel_strings(tmp_path, faces, monkeypatch):
    """Leading zeros, tabs, repeated or surrounding spaces: parsed, not rejected."""
    monkeypatch.setattr(csv_module, "_CHUNK_ROWS", 4)  # odd rows in several chunks
    images, codes, usage = faces
    strings = [_pixels(image) for image in images]
    strings[1] = "\t".join(f"{v:03d}" for v in images[1].ravel())  # "007", tabs
    strings[5] = "  " + strings[5].replace(" ", "   ") + " "
    strings[6] = "0000000000000000000000" + strings[6]  # 22 leading zeros: same value
    path = tmp_path / "fer2013.csv"
    lines = ["emotion,pixels,Usage"] + [
        f'{c},"{p}",{u}' for c, p, u in zip(codes, strings, usage, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    np.testing.assert_array_equal(load_fer2013(path).images, images)


def test_csv_long_or_large_values_are_errors(tmp_path, faces):
    images, codes, usage = faces
    path = write_csv(tmp_path / "fer2013.csv", images[:3], codes, usage)
    lines = path.read_text().splitlines()
    values = lines[2].split(",")[1].split()
    values[99] = "1" + "0" * 25  # would overflow any integer type
    lines[2] = f"{codes[1]},{' '.join(values)},{usage[1]}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"row 3: pixel value 1000+ \(value 100\) is above 255"):
        load_fer2013(path)


def test_csv_rows_count_blank_lines_and_report_the_rest(tmp_path, faces):
    images, codes, usage = faces
    lines = write_csv(tmp_path / "x.csv", images[:3], codes, usage).read_text().splitlines()
    bad = "9," + lines[1].split(",", 1)[1]
    lines = [lines[0], lines[1], "", bad, lines[2], bad, bad]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    # The blank line is row 3: it is skipped but counted, as a spreadsheet shows it.
    with pytest.raises(ValueError, match=r"row 4: emotion code '9'.* 2 more bad rows follow "
                                         r"\(next: row 6\)"):
        load_fer2013(path)


def test_csv_bad_row_in_a_later_chunk(tmp_path, faces, monkeypatch):
    """Row numbers stay right across parsing chunks."""
    monkeypatch.setattr(csv_module, "_CHUNK_ROWS", 3)
    images, codes, usage = faces
    lines = write_csv(tmp_path / "x.csv", images, codes, usage).read_text().splitlines()
    lines[9] = lines[9].rsplit(" ", 1)[0] + "," + lines[9].rsplit(",", 1)[1]  # one value short
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"row 10: pixels has 2303 values"):
        load_fer2013(path)
    with pytest.warns(UserWarning, match=r"Skipped 1 bad row in .*row 10: pixels has 2303"):
        bunch = load_fer2013(path, on_error="skip")
    keep = np.arange(N) != 8
    np.testing.assert_array_equal(bunch.images, images[keep])
    np.testing.assert_array_equal(bunch.row, (np.arange(N) + 2)[keep])


def test_csv_skip_warns_once_with_count_and_first_locations(tmp_path, faces):
    images, codes, usage = faces
    lines = write_csv(tmp_path / "x.csv", images, codes, usage).read_text().splitlines()
    bad_rows = [3, 5, 6, 8, 11, 12, 15]  # spreadsheet rows: lines[r - 1]
    for r in bad_rows:
        lines[r - 1] = "8," + lines[r - 1].split(",", 1)[1]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bunch = load_fer2013(path, on_error="skip")
    message = one_warning(record)
    assert message.startswith(f"Skipped 7 bad rows in '{path}'")
    assert re.findall(r"row (\d+):", message) == ["3", "5", "6", "8", "11"]
    assert "and 2 more" in message
    keep = np.ones(N, dtype=bool)
    keep[[r - 2 for r in bad_rows]] = False
    np.testing.assert_array_equal(bunch.images, images[keep])
    assert bunch.target.tolist() == [EMOTIONS[c] for c in codes[keep]]
    assert "7 bad entries skipped" in bunch.DESCR


def test_csv_row_with_extra_fields(tmp_path, faces):
    images, codes, usage = faces
    lines = write_csv(tmp_path / "x.csv", images[:4], codes, usage).read_text().splitlines()
    lines[2] += ",surplus"
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"fer2013.csv' is not a well-formed CSV.*line 3"):
        load_fer2013(path)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bunch = load_fer2013(path, on_error="skip")
    assert "row 3: has more fields than the header" in one_warning(record)
    np.testing.assert_array_equal(bunch.images, images[[0, 2, 3]])
    np.testing.assert_array_equal(bunch.row, [2, 4, 5])  # later rows keep their numbers


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty"),
        (b"\n\n  \n", "is empty"),
        (b"emotion,pixels,Usage\n", "has a header but no rows"),
        (b"emotion,Usage\n3,Training\n", "missing the column(s) ['pixels']"),
        (b"pixels,Usage\n1 2,Training\n", "missing the column(s) ['emotion']"),
        (b"label,image\n3,1 2\n", "missing the column(s) ['pixels']"),
        (b"0,70 80 82,Training\n", "has no header line"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a FER2013 file"),
        (gzip.compress(b"emotion,pixels,Usage\n"), "gzip or tar archive"),
    ],
)
def test_bad_files_name_the_file_and_what_was_expected(tmp_path, content, expected):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    for on_error in ("raise", "skip"):  # a broken file cannot be skipped row by row
        with pytest.raises(ValueError) as info:
            load_fer2013(path, on_error=on_error)
        assert str(path) in str(info.value)
        assert expected in str(info.value)
        if "missing" in expected:
            assert "emotion,pixels,Usage" in str(info.value)


# --------------------------------------------------------- bad input: image folders ----


def _png(shape=(48, 48), mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, shape[::-1], 128).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(shape=(48, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", shape[::-1], 128).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "member, payload, expected",
    [
        ("train/contempt/x.png", _png(), ["emotion folder 'contempt' is unknown",
                                          "angry, disgust, fear, happy, neutral, sad, surprise"]),
        ("val/angry/x.png", _png(), ["folder 'val' is not a split folder", "train/<emotion>"]),
        ("train/x.png", _png(), ["is not in the layout", "train/<emotion>/<image>"]),
        ("train/angry/x.jpg", b"not an image at all",
         ["cannot be read as an image", "expected a 48x48 grayscale image"]),
        ("train/angry/x.jpg", _jpeg()[:200], ["cannot be read as an image", "expected a 48x48"]),
        ("train/angry/x.jpg", _jpeg((64, 64)), ["image is 64x64 pixels", "expected a 48x48"]),
        ("train/angry/x.jpg", _jpeg((48, 47)), ["image is 47x48 pixels", "expected a 48x48"]),
        ("test/sad/x.png", _png((96, 96)), ["image is 96x96 pixels", "expected a 48x48"]),
    ],
)
@pytest.mark.parametrize("as_zip", [True, False])
def test_image_folder_bad_member(tmp_path, faces, member, payload, expected, as_zip):
    images, codes, _ = faces
    root = tmp_path / "layout"
    write_folder(root, images[:3], codes[:3], ["Training"] * 3)
    (root / member).parent.mkdir(parents=True, exist_ok=True)
    (root / member).write_bytes(payload)
    path = zip_folder(root, tmp_path / "faces.zip") if as_zip else root
    with pytest.raises(ValueError) as info:
        load_fer2013(path)
    message = str(info.value)
    unit = "member" if as_zip else "file"
    assert message.startswith(f"'{path}', {unit} '{member}': ")
    for text in expected:
        assert text in message
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bunch = load_fer2013(path, on_error="skip")
    assert f"Skipped 1 bad {unit} in '{path}': {unit} '{member}'" in one_warning(record)
    np.testing.assert_array_equal(bunch.images, images[:3])


def test_damaged_zip_member_is_reported(tmp_path, faces):
    images, codes, _ = faces
    root = tmp_path / "layout"
    write_folder(root, images[:2], codes[:2], ["Training"] * 2)
    archive = zip_folder(root, tmp_path / "faces.zip")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("train/disgust/Training_001.png")
    data[info.header_offset + 30 + len(info.filename) + 60] ^= 0xFF  # flip bits in its data
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"member 'train/disgust/Training_001.png': cannot be "
                                         r"read \(Bad CRC-32"):
        load_fer2013(archive)


def test_no_layout_found(tmp_path, faces):
    images, codes, usage = faces
    csv = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    archive = tmp_path / "kaggle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(csv, "icml_face_data.csv")
    with pytest.raises(ValueError, match=r"kaggle.zip' holds no faces in the image-folder "
                                         r"layout .*icml_face_data.csv.*extracted CSV"):
        load_fer2013(archive)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(ValueError, match=r"empty' holds no faces .*found 0 file"):
        load_fer2013(empty_dir)


# --------------------------------------------------------------- filters and frame ------


@pytest.mark.parametrize("as_zip", [False, True])
def test_emotion_and_usage_filters(tmp_path, faces, as_zip):
    images, codes, usage = faces
    if as_zip:
        usage = np.where(usage == "PrivateTest", "PublicTest", usage)
        root = tmp_path / "layout"
        members = write_folder(root, images, codes, usage)
        path = zip_folder(root, tmp_path / "faces.zip")
        order = folder_order(members, usage)
        images, codes, usage = images[order], codes[order], usage[order]
    else:
        path = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    names = np.asarray(EMOTIONS)[codes]

    three = load_fer2013(path, emotions=("sad", "angry", "happy"))
    keep = np.isin(names, ["angry", "happy", "sad"])
    np.testing.assert_array_equal(three.images, images[keep])
    assert three.target_names.tolist() == ["angry", "happy", "sad"]

    public = load_fer2013(path, usage="publictest")  # case-insensitive
    np.testing.assert_array_equal(public.images, images[usage == "PublicTest"])
    assert set(public.usage) == {"PublicTest"}

    both = load_fer2013(path, emotions=["happy"], usage=["Training", "PublicTest"])
    keep = (names == "happy") & np.isin(usage, ["Training", "PublicTest"])
    np.testing.assert_array_equal(both.images, images[keep])


def test_filters_against_sources_without_that_column(tmp_path, faces):
    images, codes, _ = faces
    train = write_csv(tmp_path / "train.csv", images, codes, header="emotion,pixels")
    test = write_csv(tmp_path / "test.csv", images, header="pixels")
    with pytest.raises(ValueError, match=r"train.csv' has no Usage column"):
        load_fer2013(train, usage="Training")
    with pytest.raises(ValueError, match=r"test.csv' has no emotion column"):
        load_fer2013(test, emotions=["happy"])
    assert load_fer2013(train, emotions=["happy"]).target.tolist() == ["happy", "happy"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(emotions=["joy"]), ValueError, r"unknown emotion\(s\) \['joy'\]"),
        (dict(usage="Validation"), ValueError, r"unknown split\(s\) \['Validation'\]"),
        (dict(usage=[]), ValueError, r"usage is empty"),
        (dict(usage=3), TypeError, r"usage must be"),
        (dict(on_error="ignore"), ValueError, r"on_error must be 'raise' or 'skip'"),
        (dict(as_frame="yes"), TypeError, r"as_frame must be True or False"),
        (dict(cache=3), TypeError, r"cache must be True, False or a directory"),
    ],
)
def test_invalid_arguments(tmp_path, faces, kwargs, error, match):
    images, codes, usage = faces
    path = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    with pytest.raises(error, match=match):
        load_fer2013(path, **kwargs)


def test_invalid_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing-here\.csv"):
        load_fer2013(tmp_path / "nothing-here.csv")
    with pytest.raises(TypeError, match="path must be a str or path-like"):
        load_fer2013(42)


def test_as_frame(tmp_path, faces):
    images, codes, usage = faces
    path = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    bunch = load_fer2013(path, as_frame=True, usage="Training")
    frame = bunch.frame
    assert frame.shape == (len(bunch.data), 2304 + 3)
    assert list(frame.columns[:2]) == ["pixel_0", "pixel_1"]
    assert list(frame.columns[-3:]) == ["emotion", "usage", "row"]
    np.testing.assert_array_equal(frame.iloc[:, :2304].to_numpy(), bunch.data)
    assert (frame.iloc[:, :2304].dtypes == np.uint8).all()
    assert frame["emotion"].tolist() == bunch.target.tolist()
    assert set(frame["usage"]) == {"Training"}
    assert "frame" not in load_fer2013(path)


# ---------------------------------------------------------------------------- cache -----


def test_cache_serves_same_faces_and_is_never_stale(tmp_path, faces):
    images, codes, usage = faces
    store = tmp_path / "cache"
    path = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    first = load_fer2013(path, cache=store)
    entries = list(store.glob("*.npz"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns

    again = load_fer2013(path, cache=store, emotions=["happy", "sad"], usage="Training")
    plain = load_fer2013(path, emotions=["happy", "sad"], usage="Training")
    for key in ("data", "images", "target", "usage", "row", "target_names"):
        np.testing.assert_array_equal(again[key], plain[key])
    np.testing.assert_array_equal(load_fer2013(path, cache=store).images, first.images)
    assert entries[0].stat().st_mtime_ns == stamp  # read back, not rewritten

    # Same size and time stamp, one pixel different: a new entry, never the old faces.
    stat = path.stat()
    changed = images.copy()
    changed[0, 0, 0] ^= 1  # same number of digits, so the same file size
    write_csv(path, changed, codes, usage)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    np.testing.assert_array_equal(load_fer2013(path, cache=store).images, changed)
    assert len(list(store.glob("*.npz"))) == 2


def test_cache_of_unlabelled_and_image_folder_forms(tmp_path, faces):
    images, codes, usage = faces
    store = tmp_path / "cache"
    test_csv = write_csv(tmp_path / "test.csv", images, header="pixels")
    for _ in range(2):
        bunch = load_fer2013(test_csv, cache=store)
        assert bunch.target is None and bunch.usage is None
        np.testing.assert_array_equal(bunch.images, images)
    usage = np.where(usage == "PrivateTest", "PublicTest", usage)
    root = tmp_path / "layout"
    write_folder(root, images, codes, usage)
    cold = load_fer2013(root, cache=store)
    warm = load_fer2013(root, cache=store, usage="PublicTest")
    keep = cold.usage == "PublicTest"
    np.testing.assert_array_equal(warm.images, cold.images[keep])
    assert warm.member.tolist() == cold.member[keep].tolist()
    assert len(list(store.glob("*.npz"))) == 2


def test_cache_true_uses_xdg_cache_home_and_survives_a_damaged_entry(tmp_path, faces,
                                                                     monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    images, codes, usage = faces
    path = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    load_fer2013(path, cache=True)
    (entry,) = (tmp_path / "xdg" / "ferkit" / "fer2013").glob("*.npz")
    entry.write_bytes(b"half-written")  # e.g. a disk that filled up
    np.testing.assert_array_equal(load_fer2013(path, cache=True).images, images)
    assert entry.read_bytes() != b"half-written"  # stored again
    np.testing.assert_array_equal(load_fer2013(path, cache=True).images, images)


def test_cache_true_without_xdg_cache_home_uses_scikit_learn_data_home(tmp_path, faces,
                                                                      monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn"))
    images, codes, usage = faces
    path = write_csv(tmp_path / "fer2013.csv", images, codes, usage)
    load_fer2013(path, cache=True)
    assert len(list((tmp_path / "sklearn" / "ferkit" / "fer2013").glob("*.npz"))) == 1
    np.testing.assert_array_equal(load_fer2013(path, cache=True).images, images)


def test_a_load_that_skipped_entries_is_not_cached(tmp_path, faces):
    images, codes, usage = faces
    lines = write_csv(tmp_path / "x.csv", images, codes, usage).read_text().splitlines()
    lines[3] = "9," + lines[3].split(",", 1)[1]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    store = tmp_path / "cache"
    for _ in range(2):  # warns every time, as nothing was cached
        with pytest.warns(UserWarning, match="Skipped 1 bad row"):
            load_fer2013(path, on_error="skip", cache=store)
    assert not list(store.glob("*.npz"))


# ---------------------------------------------------------------- the real archive ------


def _readme_counts(readme: Path) -> dict[str, tuple[int, int]]:
    """The data README's table: emotion -> (train, test)."""
    counts = {}
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in EMOTIONS:
            counts[cells[0]] = (int(cells[1].replace(",", "")), int(cells[2].replace(",", "")))
    return counts


@pytest.mark.fulldata
def test_shared_archive_counts_match_its_readme(shared_archive):
    expected = _readme_counts(shared_archive.with_name("README.md"))
    assert sorted(expected) == sorted(EMOTIONS)
    bunch = load_fer2013(shared_archive)
    assert bunch.data.shape == (len(bunch.target), 2304) and bunch.data.dtype == np.uint8
    for emotion, (n_train, n_test) in expected.items():
        is_emotion = bunch.target == emotion
        assert (is_emotion & (bunch.usage == "Training")).sum() == n_train, emotion
        assert (is_emotion & (bunch.usage == "PublicTest")).sum() == n_test, emotion
    assert set(bunch.usage) == {"Training", "PublicTest"}
    # Every member is a real face, not a blank decode.
    assert (bunch.data.std(axis=1) > 0).mean() > 0.99


def test_load_sample_is_the_documented_bunch():
    from sklearn.utils import Bunch

    from ferkit import EMOTIONS
    from ferkit.datasets import load_sample

    faces = load_sample()
    assert isinstance(faces, Bunch)
    assert faces.data.shape == (656, 2304) and faces.data.dtype == np.uint8
    assert faces.images.shape == (656, 48, 48) and faces.images.dtype == np.uint8
    np.testing.assert_array_equal(faces.images.reshape(656, -1), faces.data)
    assert sorted(faces.target_names) == sorted(EMOTIONS)
    names, counts = np.unique(faces.target, return_counts=True)
    # 100 per emotion; PublicTest, where the sample comes from, has only 56 disgust faces.
    assert sorted(names) == sorted(EMOTIONS)
    assert dict(zip(names, counts, strict=True)) == {e: 56 if e == "disgust" else 100
                                                     for e in EMOTIONS}
    # No shipped network was trained on these faces.
    assert set(faces.usage) == {"PublicTest"}
    assert all(m.startswith("test/") for m in faces.member)
    assert "FER2013" in faces.DESCR
    three = load_sample(emotions=("angry", "happy", "sad"))
    assert set(three.target) == {"angry", "happy", "sad"} and len(three.target) == 300
    X, y = load_sample(return_X_y=True)
    np.testing.assert_array_equal(X, faces.data)
    np.testing.assert_array_equal(y, faces.target)


def test_the_shipped_sample_stays_small():
    from importlib import resources

    sample = resources.files("ferkit.datasets").joinpath("data/fer2013_sample.npz")
    assert sample.stat().st_size < 3 * 2**20  # "a few MB at most"


def test_old_mac_line_endings_are_named(tmp_path):
    rows = ["emotion,pixels,Usage"] + [f"3,{' '.join(['7'] * 2304)},Training"] * 2
    path = tmp_path / "fer2013.csv"
    path.write_bytes("\r".join(rows).encode())
    with pytest.raises(ValueError, match=r"fer2013\.csv.*carriage return"):
        load_fer2013(path)
    path.write_bytes("\r\n".join(rows).encode())  # Windows line endings are fine
    assert load_fer2013(path).data.shape == (2, 2304)
