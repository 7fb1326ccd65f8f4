"""ferkit.persistence without a network: the value codec, transformer steps, atomic folders.

Nothing here trains or imports Keras, so these tests are fast.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)

import ferkit
from ferkit.persistence import _atomic, _codec, _registry, load, save
from ferkit.preprocessing import FaceCropper, HistogramEqualizer, ImageReshaper, PixelScaler

REPO = Path(__file__).resolve().parents[1]


def _rewrite_manifest(folder: Path, edit) -> None:
    path = folder / "ferkit.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


# -- codec -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, 0, -3, 2**70, 0.1, 1e-300, "héllo", [1, [2, "x"]], (4, 8), ((1, 2), [3]),
    {"a": (1, 2), "b": None}, {0: 2.0, 1: 1.0}, {"__tuple__": 1}, {(1, 2): "pair"},
    np.float64(0.1), np.float32(0.1), np.int64(7), np.bool_(True), np.str_("sad"),
    float("nan"), float("inf"), -math.inf, np.float64("nan"), np.dtype("float32"),
])
def test_codec_round_trip_keeps_types(value):
    arrays = {}
    data = _codec.encode(value, where="value", arrays=arrays)
    text = json.dumps(data, allow_nan=False)
    back = _codec.decode(json.loads(text), where="$", arrays=arrays, file="f.json")
    assert type(back) is type(value)
    assert repr(back) == repr(value)


@pytest.mark.parametrize("array", [
    np.arange(6, dtype=np.int16).reshape(2, 3), np.array([0.5, np.nan]), np.array([True]),
    np.array(["a", "bc"]), np.array(["pixel0", "pixel1"], dtype=object), np.zeros((0, 3)),
])
def test_codec_arrays_go_to_the_npz_side(array, tmp_path):
    arrays = {}
    data = _codec.encode(array, where="value", arrays=arrays)
    np.savez(tmp_path / "a.npz", allow_pickle=False, **arrays)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        back = _codec.decode(data, where="$", arrays=dict(npz), file="f.json")
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("value, message", [
    (lambda x: x, "Python code"),
    (np.random.RandomState(0), "RandomState"),
    ([1, {2}], "set"),
    (np.array([{"a": 1}], dtype=object), "dtype object"),
])
def test_codec_refuses_what_is_not_plain_data(value, message):
    with pytest.raises(TypeError, match=message):
        _codec.encode(value, where="step 'x' parameter 'p'", arrays={})


@pytest.mark.parametrize("data, message", [
    ({"__pickle__": "gASV"}, "unknown tag"),
    ({"__tuple__": 3}, "malformed"),
    ({"__npscalar__": ["|O", 1]}, "malformed"),
    ({"__ndarray__": "a9"}, "missing"),
    ({"__tuple__": [1], "extra": 2}, "extra keys"),
    ({"__dict__": [[[1], 2]]}, "malformed"),
    ({"__dict__": [[1]]}, "malformed"),
    ({"__float__": "1.5"}, "malformed"),
    ({"__dtype__": "<M8[s]"}, "malformed"),
    ({"__npscalar__": ["<f8", [1]]}, "malformed"),
    ({"__ndarray__": 3}, "malformed"),
    ({"__ndarray__": "a0", "object": "yes"}, "malformed"),
    ({"a": {"__tuple__": 3}}, "malformed"),
])
def test_codec_rejects_malformed_tags_naming_the_file(data, message):
    with pytest.raises(ValueError, match=f"model.json.*{message}"):
        _codec.decode(data, where="$.x", arrays={}, file="model.json")


# -- transformer pipelines (no network) ------------------------------------------------------

def _pixels(rng, n=40, d=64):
    return rng.integers(0, 256, size=(n, d)).astype(np.float64)


@pytest.mark.parametrize("steps", [
    [("s", StandardScaler())],
    [("s", MinMaxScaler(feature_range=(-1, 1), clip=True))],
    [("s", MaxAbsScaler())],
    [("s", RobustScaler(quantile_range=(10.0, 90.0)))],
    [("s", Normalizer(norm="l1"))],
    [("p", PixelScaler(method="dataset")), ("r", ImageReshaper(image_shape=(8, 8)))],
    [("p", PixelScaler(method="image")), ("skip", "passthrough"), ("n", None)],
    [("r", ImageReshaper(image_shape="auto", flatten=True))],
    [("h", HistogramEqualizer(image_shape=(8, 8))), ("s", StandardScaler())],
], ids=lambda steps: "+".join(type(s).__name__ for _, s in steps))
def test_transformer_pipelines_round_trip(steps, tmp_path, rng):
    X = _pixels(rng)
    pipe = Pipeline(steps).fit(X)
    loaded = load(save(pipe, tmp_path / "m"))
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X))
    assert repr(loaded.get_params(deep=False)["steps"]) == repr(pipe.steps)
    for (_, a), (_, b) in zip(pipe.steps, loaded.steps, strict=True):
        if hasattr(a, "get_params"):
            assert type(b) is type(a)
            assert repr(b.get_params()) == repr(a.get_params())
            assert repr(vars(b)) == repr(vars(a))  # fitted attributes, private ones too


def test_face_cropper_step_round_trips(tmp_path, rng):
    images = rng.integers(0, 256, size=(4, 20, 20)).astype(np.uint8)
    cropper = FaceCropper(on_missing="center", size=(8, 8), detector="lbp",
                          detector_params={"min_neighbors": 2})
    pipe = Pipeline([("crop", cropper), ("scale", PixelScaler())]).fit(images)
    expected = pipe.transform(images)
    loaded = load(save(pipe, tmp_path / "m"))
    assert repr(loaded.get_params()) == repr(pipe.get_params())
    np.testing.assert_array_equal(loaded.transform(images), expected)


def test_a_face_cropper_saved_before_detectors_were_chosen_keeps_the_lbp_cascade(tmp_path,
                                                                                 rng):
    # Files written before FaceCropper had detector= and align= found faces with the LBP
    # cascade, unaligned, and their detector_params are LBP options: they load as such.
    images = rng.integers(0, 256, size=(4, 20, 20)).astype(np.uint8)
    old = FaceCropper(on_missing="center", size=(8, 8), detector="lbp", align=False,
                      detector_params={"min_neighbors": 2})
    pipe = Pipeline([("crop", old)]).fit(images)
    folder = save(pipe, tmp_path / "m")
    manifest = json.loads((folder / "ferkit.json").read_text())
    params = manifest["estimator"]["steps"][0]["params"]
    del params["detector"], params["align"]
    (folder / "ferkit.json").write_text(json.dumps(manifest))
    loaded = load(folder)
    assert (loaded[0].detector, loaded[0].align) == ("lbp", False)
    np.testing.assert_array_equal(loaded.transform(images), pipe.transform(images))


def test_fitted_attributes_restore_behaviour(tmp_path, rng):
    # ImageReshaper's inverse_transform needs its private fitted state; feature names come
    # back as object arrays, so StandardScaler still checks DataFrame columns.
    X = _pixels(rng)
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    pipe = Pipeline([("std", StandardScaler())]).fit(frame)
    loaded = load(save(pipe, tmp_path / "m"))
    names = loaded[0].feature_names_in_
    assert names.dtype == object and names.tolist() == frame.columns.tolist()
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(frame.rename(columns={"px0": "other"}))

    reshaper = Pipeline([("r", ImageReshaper(image_shape=(8, 8)))]).fit(X)
    back = load(save(reshaper, tmp_path / "r"))
    np.testing.assert_array_equal(back.inverse_transform(back.transform(X)), X)


def test_arrays_file_has_no_pickled_objects(tmp_path, rng):
    frame = pd.DataFrame(_pixels(rng), columns=[f"px{i}" for i in range(64)])
    folder = save(Pipeline([("std", StandardScaler())]).fit(frame), tmp_path / "m")
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert {npz[k].dtype.kind for k in npz.files} <= set("biufU")


# -- refusals at save time ---------------------------------------------------------------------

def test_function_transformer_is_refused_as_code(tmp_path, rng):
    pipe = Pipeline([("f", FunctionTransformer(np.log1p))]).fit(_pixels(rng))
    with pytest.raises(TypeError, match=r"step 'f'.*FunctionTransformer.*Python code"):
        save(pipe, tmp_path / "m")
    assert not (tmp_path / "m").exists()
    assert list(tmp_path.iterdir()) == []


def test_unsupported_step_and_estimator_are_refused(tmp_path, rng):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    X = _pixels(rng)
    with pytest.raises(TypeError, match=r"step 'pca'.*PCA.*Supported step classes.*Standard"):
        save(Pipeline([("pca", PCA(2))]).fit(X), tmp_path / "m")
    with pytest.raises(TypeError, match=r"FacialExpressionClassifier, a fitted .*VotingClass"):
        save(LogisticRegression(), tmp_path / "m")
    with pytest.raises(TypeError, match=r"FacialExpressionClassifier, a fitted .*VotingClass"):
        save(StandardScaler().fit(X), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_unfitted_step_is_refused(tmp_path):
    with pytest.raises(NotFittedError, match="step 'std'"):
        save(Pipeline([("std", StandardScaler())]), tmp_path / "m")


def test_parameter_that_is_not_data_is_refused(tmp_path, rng):
    pipe = Pipeline([("std", StandardScaler())]).fit(_pixels(rng))
    pipe.steps[0][1].copy = np.random.RandomState(0)  # as a careless set_params would
    with pytest.raises(TypeError, match=r"step 'std' parameter 'copy'.*RandomState"):
        save(pipe, tmp_path / "m")


def test_pipeline_memory_is_refused(tmp_path, rng):
    pipe = Pipeline([("std", StandardScaler())], memory=str(tmp_path / "cache"))
    pipe.fit(_pixels(rng))
    with pytest.raises(ValueError, match=r"'memory' is '.*cache'.*set_params\(memory=None\)"):
        save(pipe, tmp_path / "m")
    assert _visible(tmp_path) == ["cache"]  # joblib's, made by fit


def test_bad_save_arguments(tmp_path, rng):
    pipe = Pipeline([("std", StandardScaler())]).fit(_pixels(rng))
    with pytest.raises(ValueError, match="weights_dtype"):
        save(pipe, tmp_path / "m", weights_dtype="int8")
    with pytest.raises(ValueError, match="must name the model folder"):
        save(pipe, "")
    assert list(tmp_path.iterdir()) == []


# -- hostile or damaged manifests --------------------------------------------------------------

@pytest.fixture
def plain_model(tmp_path, rng):
    pipe = Pipeline([("p", PixelScaler(method="dataset")), ("std", StandardScaler())])
    return save(pipe.fit(_pixels(rng)), tmp_path / "plain")


def test_unknown_step_class_is_refused_without_importing_it(plain_model):
    assert "this" not in sys.modules  # the Zen of Python: printed when imported

    def edit(manifest):
        manifest["estimator"]["steps"][1]["class"] = "this.Zen"

    _rewrite_manifest(plain_model, edit)
    with pytest.raises(ValueError, match=r"ferkit.json names the estimator class 'this.Zen'"):
        load(plain_model)
    assert "this" not in sys.modules


@pytest.mark.parametrize("cls", [
    "sklearn.preprocessing.FunctionTransformer", "builtins.eval", "os.system",
    "ferkit.persistence._save.save",
])
def test_steps_outside_the_allow_list_are_refused(plain_model, cls):
    _rewrite_manifest(plain_model, lambda m: m["estimator"]["steps"][0].update({"class": cls}))
    with pytest.raises(ValueError, match="does not load: model files may only contain"):
        load(plain_model)


@pytest.mark.parametrize("key", ["__class__", "__dict__", "transform", "fit", "with_mean",
                                 "_validate_params", "name with space_"])
def test_state_cannot_set_methods_or_dunders(plain_model, key):
    def edit(manifest):
        manifest["estimator"]["steps"][1]["state"][key] = 1

    _rewrite_manifest(plain_model, edit)
    with pytest.raises(ValueError, match=r"ferkit.json.*(refusing|unknown parameter)"):
        load(plain_model)


@pytest.mark.parametrize("memory", ["/some/dir", {"__tuple__": ["/some/dir"]}, 0])
def test_pipeline_memory_from_the_manifest_is_refused(plain_model, memory):
    # Pipeline.fit would unpickle whatever joblib cache files a crafted path points to.
    _rewrite_manifest(plain_model, lambda m: m["estimator"]["params"].update(memory=memory))
    with pytest.raises(ValueError,
                       match=r"ferkit.json: estimator.params.memory is .*Refusing to load"):
        load(plain_model)


def test_unknown_parameter_is_refused(plain_model):
    _rewrite_manifest(plain_model,
                      lambda m: m["estimator"]["steps"][0]["params"].update({"evil": 1}))
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['evil'\].*ferkit 0"):
        load(plain_model)


def test_invalid_parameter_value_is_refused(plain_model):
    _rewrite_manifest(plain_model,
                      lambda m: m["estimator"]["steps"][0]["params"].update({"method": "x"}))
    with pytest.raises(ValueError, match=r"ferkit.json.*invalid parameters.*method"):
        load(plain_model)


def test_newer_format_version_asks_to_upgrade(plain_model):
    _rewrite_manifest(plain_model, lambda m: m.update(format_version=99))
    with pytest.raises(ValueError, match=r"ferkit.json uses model format version 99.*upgrade"):
        load(plain_model)


@pytest.mark.parametrize("damage, error, message", [
    (lambda f: (f / "ferkit.json").unlink(), FileNotFoundError, r"ferkit.json is missing"),
    (lambda f: (f / "ferkit.json").write_text('{"format": "ferkit-model", '),
     ValueError, r"ferkit.json is not valid JSON \(line 1"),
    (lambda f: (f / "ferkit.json").write_bytes(b"\xff\xfe"), ValueError, "ferkit.json"),
    (lambda f: (f / "ferkit.json").write_text("[1, 2]"), ValueError, "not a ferkit model"),
    (lambda f: (f / "arrays.npz").unlink(), FileNotFoundError, r"arrays.npz is missing"),
    (lambda f: (f / "arrays.npz").write_bytes((f / "arrays.npz").read_bytes()[:100]),
     ValueError, r"arrays.npz is truncated or corrupted"),
], ids=["no-manifest", "bad-json", "not-utf8", "not-manifest", "no-arrays", "cut-arrays"])
def test_damaged_folders_give_errors_naming_the_file(plain_model, damage, error, message):
    damage(plain_model)
    with pytest.raises(error, match=message):
        load(plain_model)


def test_missing_folder_and_file_paths(tmp_path, plain_model):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        load(tmp_path / "file")
    # The manifest itself is accepted as the path of its folder.
    assert isinstance(load(plain_model / "ferkit.json"), Pipeline)


# -- atomic replacement ------------------------------------------------------------------------

def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_overwrite_replaces_the_model_and_leaves_nothing_behind(tmp_path, rng, monkeypatch,
                                                                exchange):
    if not exchange:
        monkeypatch.setattr(_atomic, "_exchange", lambda a, b: False)
    X = _pixels(rng)
    first = save(Pipeline([("std", StandardScaler())]).fit(X), tmp_path / "m")
    second = Pipeline([("mm", MinMaxScaler())]).fit(X)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(second, first)
    assert type(load(first)[0]) is StandardScaler
    save(second, first, overwrite=True)
    assert type(load(first)[0]) is MinMaxScaler
    assert _visible(tmp_path) == ["m"]


def _failing_rename(monkeypatch, fails, error, *, after: bool = False):
    """Make the os.rename call for which ``fails(src, dst)`` holds raise ``error``.

    With ``after``, the rename is done first (an interrupt arriving just after it returned).
    """
    real = os.rename

    def rename(src, dst):
        if not fails(Path(src), Path(dst)):
            return real(src, dst)
        if after:
            real(src, dst)
        raise error

    monkeypatch.setattr(os, "rename", rename)


@pytest.mark.parametrize("fails, error, after", [
    (lambda src, dst: src.name == "m", OSError("Input/output error"), False),
    (lambda src, dst: dst.name == "m" and "ferkit-tmp" in src.name,
     OSError("Input/output error"), False),
    (lambda src, dst: src.name == "m", KeyboardInterrupt(), True),
], ids=["aside", "into-place", "interrupt-after-aside"])
def test_failed_second_rename_puts_the_previous_model_back(tmp_path, rng, monkeypatch, fails,
                                                           error, after):
    X = _pixels(rng)
    first = Pipeline([("std", StandardScaler())]).fit(X)
    target = save(first, tmp_path / "m")
    monkeypatch.setattr(_atomic, "_exchange", lambda a, b: False)
    _failing_rename(monkeypatch, fails, error, after=after)
    with pytest.raises(type(error)):
        save(Pipeline([("mm", MinMaxScaler())]).fit(X), target, overwrite=True)
    monkeypatch.undo()
    assert _visible(tmp_path) == ["m"]  # neither the new model nor the emptied aside folder
    np.testing.assert_array_equal(load(target).transform(X), first.transform(X))


def test_failed_put_back_says_where_the_previous_model_is(tmp_path, rng, monkeypatch):
    X = _pixels(rng)
    target = save(Pipeline([("std", StandardScaler())]).fit(X), tmp_path / "m")
    monkeypatch.setattr(_atomic, "_exchange", lambda a, b: False)
    _failing_rename(monkeypatch, lambda src, dst: dst.name == "m", OSError("disk gone"))
    with pytest.raises(OSError, match=r"nor put the previous model back.*kept in .*\.m\."
                                      r"ferkit-old-\d+-\w+/model"):
        save(Pipeline([("mm", MinMaxScaler())]).fit(X), target, overwrite=True)
    monkeypatch.undo()
    # This process is alive (it could still be finishing the job): nothing is moved yet.
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(target)
    assert [p.name.split("-")[1] for p in tmp_path.iterdir()] == ["old"]


_DIE_BETWEEN_RENAMES = """
import os, sys, time
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from ferkit.persistence import _atomic, save
_atomic._exchange = lambda a, b: False  # as on a file system without renameat2
real_rename = os.rename
def rename(src, dst):
    real_rename(src, dst)
    if ".ferkit-old-" in str(dst):
        print("aside", flush=True)
        time.sleep(300)
os.rename = rename
save(Pipeline([("mm", MinMaxScaler())]).fit(np.eye(3)), sys.argv[1], overwrite=True)
"""


def test_load_puts_back_a_model_left_aside_by_a_killed_save(tmp_path, rng, kill_when_printed):
    X = _pixels(rng, d=3)
    first = Pipeline([("std", StandardScaler())]).fit(X)
    target = save(first, tmp_path / "m")
    kill_when_printed([sys.executable, "-c", _DIE_BETWEEN_RENAMES, str(target)], "aside",
                      timeout=120, cwd=REPO)
    left = sorted(p.name.split("-")[1] for p in tmp_path.iterdir())
    assert left == ["old", "tmp"]  # the target is missing: the killed save was in the window

    np.testing.assert_array_equal(load(target).transform(X), first.transform(X))
    assert [p.name for p in tmp_path.iterdir() if "ferkit-old" in p.name] == []
    save(Pipeline([("mm", MinMaxScaler())]).fit(X), target, overwrite=True)
    assert _visible(tmp_path) == ["m"]  # the next save clears the new model's leftover


@pytest.fixture(scope="module")
def dead_pid():
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.parametrize("overwrite", [False, True])
def test_next_save_puts_back_a_model_left_aside_by_a_dead_process(tmp_path, rng, dead_pid,
                                                                  overwrite):
    X = _pixels(rng)
    first = Pipeline([("std", StandardScaler())]).fit(X)
    target = save(first, tmp_path / "m")
    aside = tmp_path / f".m.ferkit-old-{dead_pid}-abc"  # as the killed save above leaves it
    aside.mkdir()
    target.rename(aside / "model")
    unrelated = tmp_path / f".m.ferkit-old-{dead_pid}-xyz"  # died before moving anything
    unrelated.mkdir()

    second = Pipeline([("mm", MinMaxScaler())]).fit(X)
    if overwrite:
        save(second, target, overwrite=True)
        assert type(load(target)[0]) is MinMaxScaler
    else:  # the model put back is still there: not overwritten without consent
        with pytest.raises(FileExistsError, match="overwrite=True"):
            save(second, target)
        np.testing.assert_array_equal(load(target).transform(X), first.transform(X))
    # The empty leftover goes with the next save that gets as far as writing.
    assert _visible(tmp_path) == (["m"] if overwrite else [unrelated.name, "m"])


def test_overwrite_never_replaces_an_unrelated_folder(tmp_path, rng):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.txt").write_text("keep me")
    pipe = Pipeline([("std", StandardScaler())]).fit(_pixels(rng))
    with pytest.raises(FileExistsError, match="not a ferkit model folder"):
        save(pipe, precious, overwrite=True)
    assert _visible(precious) == ["holiday.txt"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        save(pipe, tmp_path / "afile", overwrite=True)
    # An empty folder (made by a user or a tool) is fine, and parents are created.
    (tmp_path / "empty").mkdir()
    save(pipe, tmp_path / "empty", overwrite=True)
    save(pipe, tmp_path / "new" / "deeper" / "m")
    assert isinstance(load(tmp_path / "new" / "deeper" / "m"), Pipeline)


def test_stale_temporary_folders_of_dead_processes_are_removed(tmp_path, rng):
    pipe = Pipeline([("std", StandardScaler())]).fit(_pixels(rng))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".m.ferkit-tmp-{pid}-abc"
    stale.mkdir()
    (stale / "model.weights.h5").write_bytes(b"half")
    live = tmp_path / f".m.ferkit-tmp-{os.getpid()}-xyz"  # a save in progress: kept
    live.mkdir()
    other = tmp_path / f".other.ferkit-tmp-{pid}-abc"  # belongs to another target: kept
    other.mkdir()
    save(pipe, tmp_path / "m")
    assert _visible(tmp_path) == sorted([live.name, other.name, "m"])


# -- import weight -----------------------------------------------------------------------------

def test_persistence_import_and_plain_load_stay_light(plain_model):
    code = (
        "import sys, ferkit.persistence as p\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
        f"est = p.load({str(plain_model)!r})\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'scikeras', 'optuna', 'matplotlib')"
        " if m in sys.modules]\n"
        "print(type(est).__name__, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Pipeline []"


def test_public_names():
    assert ferkit.save is save and ferkit.load is load
    assert ferkit.persistence.__all__ == ["load", "save"]
    assert _registry.CLASSIFIER in _registry.supported()
