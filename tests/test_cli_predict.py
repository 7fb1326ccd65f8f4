"""``ferkit predict``: photos and folders in, one row per face out, bad files reported."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from ferkit.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, fitted_pipeline):
    import ferkit

    path = tmp_path_factory.mktemp("model") / "fer-model"
    ferkit.save(fitted_pipeline, path)
    return path


@pytest.fixture(scope="module")
def photo():
    return np.asarray(
        Image.fromarray(data.astronaut()).resize((200, 200), Image.Resampling.BILINEAR)
    )


@pytest.fixture
def folder(tmp_path, photo):
    """Two photos with a face, one without, a corrupt one and a note."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo).save(photos / "a.jpg")
    Image.fromarray(photo[:, ::-1]).save(photos / "b.png")
    Image.fromarray(data.coins()[:150, :150]).save(photos / "c.png")
    (photos / "d.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (photos / "notes.txt").write_text("hello")
    return photos


def _columns(classes):
    from ferkit.faces import LANDMARK_COLUMNS

    return ["file", "face", "x", "y", "width", "height", "score", *LANDMARK_COLUMNS, "emotion",
            *classes]


def test_folder_with_a_bad_file(folder, model_dir, fitted_pipeline, capsys):
    status = main(["predict", str(folder), "--model", str(model_dir)])
    out, err = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out))
    assert table.columns.tolist() == _columns(fitted_pipeline.classes_.tolist())
    # The photos with faces are predicted despite the corrupt file...
    assert {"a.jpg", "b.png"} <= {p.rsplit("/", 1)[-1] for p in table["file"]}
    assert not table["file"].str.endswith(("c.png", "d.jpg")).any()
    proba = table[fitted_pipeline.classes_.tolist()].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=2e-4)  # rounded to 4 decimals
    # ...and the corrupt one, the faceless one and the skipped note are reported.
    assert "d.jpg" in err and "could not be read" in err
    assert "no face found in" in err and "c.png" in err
    assert "notes.txt" in err
    assert status == 2


def test_the_same_rows_as_predict_image(folder, model_dir, fitted_pipeline, capsys):
    from ferkit import predict_image

    assert main(["predict", str(folder / "a.jpg"), "--model", str(model_dir)]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = predict_image(fitted_pipeline, folder / "a.jpg")
    assert len(table) == len(expected) > 0
    np.testing.assert_array_equal(table["emotion"], expected["emotion"])
    # CSV rounds the probabilities to 4 decimals, and only them (and the score).
    np.testing.assert_array_equal(table[expected.columns[-3:]], expected.iloc[:, -3:].round(4))
    np.testing.assert_array_equal(table[["x", "y", "width", "height"]],
                                  expected[["x", "y", "width", "height"]])


def test_json_to_a_file(folder, model_dir, tmp_path, capsys):
    target = tmp_path / "faces.json"
    files = [str(folder / "a.jpg"), str(folder / "c.png")]
    status = main(["predict", *files, "--model", str(model_dir), "--format", "json",
                   "-o", str(target)])
    assert status == 0
    assert capsys.readouterr().out == ""
    rows = json.loads(target.read_text())
    assert rows and all(row["file"] == files[0] for row in rows)
    assert {"x", "y", "width", "height", "emotion"} <= set(rows[0])


def test_annotated_image_only_when_asked(folder, model_dir, tmp_path, capsys):
    photo = folder / "a.jpg"
    before = set(tmp_path.rglob("*"))
    assert main(["predict", str(photo), "--model", str(model_dir)]) == 0
    assert set(tmp_path.rglob("*")) == before  # nothing written without --annotate

    single = tmp_path / "annotated.png"
    assert main(["predict", str(photo), "--model", str(model_dir), "--annotate",
                 str(single)]) == 0
    drawn = np.asarray(Image.open(single))
    assert drawn.shape == (200, 200, 3)
    assert (drawn != np.asarray(Image.open(photo).convert("RGB"))).any()

    many = tmp_path / "annotated"
    main(["predict", str(folder), "--model", str(model_dir), "--annotate", str(many)])
    assert sorted(p.name for p in many.iterdir()) == [
        "a.annotated.png", "b.annotated.png", "c.annotated.png"
    ]
    capsys.readouterr()


def test_usage_errors_exit_2(folder, model_dir, tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nowhere.jpg"), "--model", str(model_dir)]) == 2
    assert "nowhere.jpg" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--model", str(model_dir)]) == 2
    assert "no image files" in capsys.readouterr().err
    assert main(["predict", str(folder / "a.jpg"), "--model", str(tmp_path / "no-model")]) == 2
    assert "no-model" in capsys.readouterr().err
    both = ["predict", str(folder), "--model", str(model_dir), "--pretrained", "fer2013-7"]
    assert main(both) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_only_bad_files(folder, model_dir, capsys):
    assert main(["predict", str(folder / "d.jpg"), "--model", str(model_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "d.jpg" in err


@pytest.fixture
def photo_png(tmp_path, photo):
    """The 200x200 astronaut (one face) as a PNG file."""
    path = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(path)
    return path


def test_pretrained_by_name_and_by_default(photo_png, capsys):
    import ferkit

    tables = []
    for source in (["--pretrained", "fer2013-7"], []):  # no --model/--pretrained: fer2013-7
        assert main(["predict", str(photo_png), *source]) == 0
        table = pd.read_csv(io.StringIO(capsys.readouterr().out))
        assert len(table) == 1 and table["emotion"][0] in ferkit.EMOTIONS
        assert table.columns.tolist() == _columns(
            ferkit.load_pretrained("fer2013-7").classes_.tolist()
        )
        tables.append(table)
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_a_bad_detector_option_is_a_usage_error(photo_png, tmp_path, capsys):
    # Checked before the model is loaded (this one does not exist) or any photo is read.
    args = ["predict", str(photo_png), "--model", str(tmp_path / "no-model")]
    assert main([*args, "--detector", "lbp", "--min-neighbors", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--min-neighbors must be an int >= 1; got 0" in err
    assert main([*args, "--min-confidence", "2"]) == 2
    assert "--min-confidence must be a number from 0 to 1; got 2" in capsys.readouterr().err
    assert main([*args, "--min-neighbors", "3"]) == 2  # an option of the other detector
    assert "--min-neighbors applies to --detector lbp" in capsys.readouterr().err
    assert "no-model" not in err and "could not be read" not in err


def test_annotate_creates_missing_folders(photo_png, model_dir, tmp_path, capsys):
    target = tmp_path / "some" / "missing" / "dir" / "out.png"
    assert main(["predict", str(photo_png), "--model", str(model_dir),
                 "--annotate", str(target)]) == 0
    assert np.asarray(Image.open(target)).shape == (200, 200, 3)
    capsys.readouterr()


def test_annotate_errors_name_the_path(photo_png, model_dir, tmp_path, capsys, monkeypatch):
    args = ["predict", str(photo_png), "--model", str(model_dir), "--annotate"]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for target, status in [(blocker / "out.png", 2), (tmp_path / "out.nope", 2)]:
        assert main([*args, str(target)]) == status
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(target) in err, err

    def no_space(self, fp, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", no_space)
    target = tmp_path / "out.png"
    assert main([*args, str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(target) in err and "No space left on device" in err
