"""ferkit.save / ferkit.load of FaceEmbedder pipelines ending in a scikit-learn linear classifier.

A FaceEmbedder over a shipped model is saved by name; over any other model, with that model's
networks. The linear classifier after it is a few checked arrays. Crafted files are copies of
the saved folders, edited.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import ferkit
from ferkit import FaceEmbedder
from ferkit.persistence import _format, load, save

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def faces(sample3):
    return sample3.data, sample3.target


@pytest.fixture(scope="module")
def shipped(faces):
    """The documented recipe: the shipped three-emotion network's features, then a logistic
    regression."""
    X, y = faces
    return make_pipeline(FaceEmbedder("fer2013-3"), LogisticRegression(max_iter=300)).fit(X, y)


@pytest.fixture(scope="module")
def shipped_folder(shipped, tmp_path_factory):
    return save(shipped, tmp_path_factory.mktemp("shipped") / "m")


@pytest.fixture(scope="module")
def tiny_folder(fitted_pipeline, tmp_path_factory):
    """A tiny fitted network pipeline saved to a folder of its own."""
    return save(fitted_pipeline, tmp_path_factory.mktemp("tiny") / "tiny")


def _copy_and_edit(folder: Path, tmp_path: Path, edit=None, arrays=None) -> Path:
    """A copy of ``folder`` with its manifest edited and ``arrays.npz`` entries replaced; the
    checksums are updated, as a deliberate attacker would."""
    copy = Path(shutil.copytree(folder, tmp_path / folder.name))
    manifest = json.loads((copy / "ferkit.json").read_text())
    if edit is not None:
        edit(manifest)
    if arrays is not None:
        with np.load(copy / "arrays.npz", allow_pickle=False) as npz:
            stored = dict(npz)
        stored.update(arrays(stored))
        with open(copy / "arrays.npz", "wb") as f:
            np.savez(f, allow_pickle=False, **stored)
        manifest["files"]["arrays.npz"] = {"bytes": (copy / "arrays.npz").stat().st_size,
                                           "sha256": _format.sha256(copy / "arrays.npz")}
    (copy / "ferkit.json").write_text(json.dumps(manifest))
    return copy


def _steps(manifest):
    return manifest["estimator"]["steps"]


def _array_key(manifest, step, attribute):
    return _steps(manifest)[step]["state"][attribute]["__ndarray__"]


# -- round trips -------------------------------------------------------------------------------

def test_shipped_model_is_saved_by_name(shipped, shipped_folder, faces):
    X, _ = faces
    # No network file: the shipped model is in every ferkit installation.
    assert sorted(p.name for p in shipped_folder.iterdir()) == ["arrays.npz", "ferkit.json"]
    manifest = json.loads((shipped_folder / "ferkit.json").read_text())
    embedder = _steps(manifest)[0]
    assert embedder["class"] == "ferkit.FaceEmbedder"
    assert embedder["params"]["model"] == "fer2013-3" and "model" not in embedder
    assert embedder["state"] == {"n_features_in_": 2304,
                                 "n_features_out_": shipped[0].n_features_out_}
    assert _steps(manifest)[1]["class"] == "sklearn.linear_model.LogisticRegression"
    assert manifest["summary"] == {"classes": ["angry", "happy", "sad"], "n_features_in": 2304}
    loaded = load(shipped_folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), shipped.predict_proba(X))
    assert loaded.get_params(deep=False).keys() == shipped.get_params(deep=False).keys()
    assert loaded[0].get_params() == shipped[0].get_params()
    assert loaded[-1].get_params() == shipped[-1].get_params()
    for key in ("coef_", "intercept_", "classes_", "n_iter_"):
        mine, theirs = getattr(loaded[-1], key), getattr(shipped[-1], key)
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("how", ["folder", "frozen pipeline", "frozen classifier"])
def test_other_models_travel_inside_the_folder(how, fitted_pipeline, tiny_folder, faces,
                                               tmp_path):
    X, y = faces
    if how == "folder":
        origin = Path(shutil.copytree(tiny_folder, tmp_path / "elsewhere"))
        model = str(origin)
    elif how == "frozen pipeline":
        model = FrozenEstimator(fitted_pipeline)
    else:
        model = FrozenEstimator(ferkit.load(tiny_folder)[-1])
        X = X.reshape(-1, 48, 48, 1) / 255.0
    pipe = make_pipeline(FaceEmbedder(model), LogisticRegression(max_iter=300)).fit(X, y)
    folder = save(pipe, tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == [
        "arrays.npz", "ferkit.json", "model.json", "model.weights.h5"]
    if how == "folder":
        shutil.rmtree(origin)  # the path means nothing where the model is loaded
    loaded = load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    embedder = loaded[0]
    assert isinstance(embedder.model, FrozenEstimator) and embedder.model_ is embedder.model
    network = embedder.model_.estimator
    network = network[-1] if hasattr(network, "steps") else network
    original = ferkit.load(tiny_folder)[-1]
    for a, b in zip(network.model_.get_weights(), original.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # A loaded pipeline is refitted and cross-validated on a machine without the folder.
    scores = cross_val_score(loaded, X, y, cv=2)
    assert scores.shape == (2,)
    refit = clone(loaded).fit(X, y)
    np.testing.assert_allclose(refit.predict_proba(X), pipe.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("labels", [
    {"angry": "negative", "sad": "negative", "happy": "positive"},
    {"angry": 0, "happy": 1, "sad": 2},
    {"angry": -1, "happy": 1, "sad": -1},
])
@pytest.mark.parametrize("linear", [LogisticRegression(max_iter=300), LinearSVC()])
def test_labels_outside_the_seven_emotions(labels, linear, fitted_pipeline, faces, tmp_path):
    X, y = faces
    y = np.array([labels[label] for label in y])
    pipe = make_pipeline(FaceEmbedder(FrozenEstimator(fitted_pipeline)), StandardScaler(),
                         clone(linear)).fit(X, y)
    loaded = load(save(pipe, tmp_path / "m"))
    assert loaded.classes_.dtype == pipe.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, pipe.classes_)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(loaded.decision_function(X), pipe.decision_function(X))
    assert set(loaded.predict(X)) <= set(labels.values())


def test_pandas_feature_names_round_trip(fitted_pipeline, faces, tmp_path):
    X, y = faces
    pipe = make_pipeline(FaceEmbedder(FrozenEstimator(fitted_pipeline)),
                         LogisticRegression(max_iter=300)).set_output(transform="pandas")
    pipe.fit(X, y)
    # The output container is a setting of the process, not of the model: set it again.
    loaded = load(save(pipe, tmp_path / "m")).set_output(transform="pandas")
    np.testing.assert_array_equal(loaded[-1].feature_names_in_, pipe[-1].feature_names_in_)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


# -- refused when saving -----------------------------------------------------------------------

def test_what_save_refuses(shipped, fitted_pipeline, faces, tmp_path):
    X, y = faces
    Z = shipped[0].transform(X)
    with pytest.raises(TypeError, match=r"got sklearn.linear_model.*LogisticRegression\. A "
                                        r"LogisticRegression is saved as a step of the pipeline"):
        save(shipped[-1], tmp_path / "m")
    with pytest.raises(TypeError, match=r"FaceEmbedder is saved as a step of the pipeline"):
        save(shipped[0], tmp_path / "m")
    with pytest.raises(TypeError, match=r"step 'ridgeclassifier'.*RidgeClassifier.*Supported "
                                        r"step classes.*LogisticRegression"):
        save(make_pipeline(StandardScaler(), RidgeClassifier()).fit(Z, y), tmp_path / "m")
    misplaced = Pipeline([("lr", shipped[-1]), ("std", StandardScaler().fit(Z))])
    with pytest.raises(TypeError, match=r"step 'lr': the classifier must be the last step"):
        save(misplaced, tmp_path / "m")
    nested = make_pipeline(FaceEmbedder(FrozenEstimator(fitted_pipeline)),
                           LinearSVC()).fit(X, y)
    nested[-1].coef_ = np.full_like(nested[-1].coef_, np.nan)  # as after a diverged fit
    with pytest.raises(ValueError, match=r"step 'linearsvc' cannot be saved: coef_ holds NaN"):
        save(nested, tmp_path / "m")
    unfitted = make_pipeline(FaceEmbedder("fer2013-3"), LogisticRegression())
    with pytest.raises(NotFittedError, match=r"step 'faceembedder'.*not fitted"):
        save(unfitted, tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


# -- refused when loading ----------------------------------------------------------------------

_SHIPPED_EDITS = {
    "coef_ of the wrong shape": (
        None, lambda a, m: {_array_key(m, 1, "coef_"): a[_array_key(m, 1, "coef_")][:, 1:]},
        r"steps\[1\]\.state is incomplete or malformed: coef_ has shape \(3, 255\); 3 classes "
        r"\(classes_\) and n_features_in_ = 256 make it \(3, 256\)"),
    "classes_ count not matching": (
        None, lambda a, m: {_array_key(m, 1, "classes_"): np.array(["happy", "sad"])},
        r"coef_ has shape \(3, 256\); 2 classes"),
    "duplicate classes": (
        None, lambda a, m: {_array_key(m, 1, "classes_"): np.array(["sad", "sad", "x"])},
        r"classes_ must hold at least 2 distinct labels"),
    "intercept_ of the wrong length": (
        None, lambda a, m: {_array_key(m, 1, "intercept_"): np.zeros(2)},
        r"intercept_ has shape \(2,\); 3 classes"),
    "integer coef_": (
        None, lambda a, m: {_array_key(m, 1, "coef_"): np.zeros((3, 256), dtype=np.int64)},
        r"coef_ must be an array of float32 or float64; got an array of dtype int64"),
    "infinite coef_": (
        None, lambda a, m: {_array_key(m, 1, "coef_"): np.full((3, 256), np.inf)},
        r"coef_ holds NaN or infinite values"),
    "coef_ missing": (
        lambda m: _steps(m)[1]["state"].pop("coef_"), None, r"missing \['coef_'\]"),
    "unknown attribute": (
        lambda m: _steps(m)[1]["state"].update(evil_=1), None, r"unknown \['evil_'\]"),
    "n_features_in_ not a count": (
        lambda m: _steps(m)[1]["state"].update(n_features_in_="256"), None,
        r"n_features_in_ must be a positive integer"),
    "n_iter_ absurd": (
        lambda m: _steps(m)[1]["state"].update(n_iter_=[1.5]), None, r"n_iter_ must be"),
    "fewer features than the embedder gives": (
        lambda m: _steps(m)[1]["state"].update(n_features_in_=255),
        lambda a, m: {_array_key(m, 1, "coef_"): a[_array_key(m, 1, "coef_")][:, 1:]},
        r"steps\[1\] takes 255 features \(n_features_in_\) but the step before it gives 256"),
    "invalid parameter": (
        lambda m: _steps(m)[1]["params"].update(C=-1.0), None,
        r"steps\[1\] has invalid parameters.*'C'"),
    "unknown linear class": (
        lambda m: _steps(m)[1].update({"class": "sklearn.linear_model.SGDClassifier"}), None,
        r"names the estimator class 'sklearn.linear_model.SGDClassifier', which ferkit does "
        r"not load"),
    "unknown shipped model": (
        lambda m: _steps(m)[0]["params"].update(model="fer2013-99"), None,
        r"steps\[0\]\.params\.model is 'fer2013-99', which is not a model ferkit ships"),
    "shipped model path": (
        lambda m: _steps(m)[0]["params"].update(model="/etc"), None,
        r"params\.model is '/etc', which is not a model ferkit ships"),
    "other shipped files": (
        lambda m: _steps(m)[0]["pretrained"].update(checksum="0" * 64), None,
        r"saved over a shipped 'fer2013-3' whose files differ from this installation's"),
    "embedder state not its model's": (
        lambda m: _steps(m)[0]["state"].update(n_features_out_=10), None,
        r"steps\[0\]\.state is .*but its model gives .*'n_features_out_': 256"),
    "embedder alone": (
        lambda m: m.update(estimator=_steps(m)[0]), None,
        r"the estimator must be a sklearn.pipeline.Pipeline"),
    "embedder in a vote": (
        lambda m: m.update(estimator={
            "class": "sklearn.ensemble.VotingClassifier", "params": {},
            "estimators": [{"name": "e", **_steps(m)[0]}]}), None,
        r"a ferkit.FaceEmbedder inside a sklearn.ensemble.VotingClassifier is not supported"),
}


@pytest.mark.parametrize("case", list(_SHIPPED_EDITS))
def test_malformed_files_are_refused_naming_the_file(case, shipped_folder, tmp_path):
    edit, arrays, message = _SHIPPED_EDITS[case]
    manifest = json.loads((shipped_folder / "ferkit.json").read_text())
    folder = _copy_and_edit(shipped_folder, tmp_path, edit,
                            arrays and (lambda stored: arrays(stored, manifest)))
    with pytest.raises(ValueError, match=r"ferkit\.json:? .*" + message):
        load(folder)


@pytest.fixture(scope="module")
def nested_folder(fitted_pipeline, faces, tmp_path_factory):
    X, y = faces
    pipe = make_pipeline(FaceEmbedder(FrozenEstimator(fitted_pipeline)),
                         LogisticRegression(max_iter=300)).fit(X, y)
    return save(pipe, tmp_path_factory.mktemp("nested") / "m")


def _inner_steps(manifest):
    return _steps(manifest)[0]["model"]["steps"]


@pytest.mark.parametrize("edit, message", [
    (lambda m: _inner_steps(m).insert(0, {"name": "lr", **_steps(m)[1]}),
     r"'sklearn.linear_model.LogisticRegression', which ferkit does not load inside a "
     r"sklearn.pipeline.Pipeline that is a FaceEmbedder's model"),
    (lambda m: _inner_steps(m).insert(0, {"name": "e", "class": "ferkit.FaceEmbedder",
                                          "params": {"model": "fer2013-3"}}),
     r"a ferkit.FaceEmbedder inside a sklearn.pipeline.Pipeline that is a FaceEmbedder's "
     r"model is not supported"),
    (lambda m: _steps(m)[0]["params"].update(model="fer2013-3"),
     r"steps\[0\] gives both a stored model and params\.model"),
    (lambda m: _steps(m)[0]["model"].update(steps=_inner_steps(m)[:-1]),
     r"steps\[0\] has invalid parameters: The 'model' parameter of FaceEmbedder must be"),
    (lambda m: _steps(m)[0].update(model=_inner_steps(m)[0]),
     r"'ferkit.preprocessing.ImageReshaper', which ferkit does not load inside a "
     r"ferkit.FaceEmbedder"),
    (lambda m: _steps(m)[0]["params"].update(layer="nope"),
     r"steps\[0\] cannot be rebuilt: layer 'nope' is not a layer of the network"),
])
def test_malformed_stored_models_are_refused(nested_folder, tmp_path, edit, message):
    with pytest.raises(ValueError, match=r"ferkit\.json:? .*" + message):
        load(_copy_and_edit(nested_folder, tmp_path, edit))


def test_stored_model_networks_are_checked(nested_folder, tmp_path):
    folder = Path(shutil.copytree(nested_folder, tmp_path / "m"))
    (folder / "model.weights.h5").write_bytes(b"damaged")
    with pytest.raises(ValueError, match=r"model\.weights\.h5 is truncated or corrupted"):
        load(folder)


def test_vote_of_stored_networks(sample3, tiny_params, faces, tmp_path):
    from ferkit import FacialExpressionClassifier
    from ferkit.preprocessing import ImageReshaper, PixelScaler

    X, y = faces
    vote = make_pipeline(ImageReshaper(), PixelScaler(), VotingClassifier(
        [(f"s{seed}", FacialExpressionClassifier(**{**tiny_params, "random_state": seed}))
         for seed in (0, 1)], voting="soft")).fit(X, y)
    pipe = make_pipeline(FaceEmbedder(FrozenEstimator(vote)),
                         LogisticRegression(max_iter=300)).fit(X, y)
    folder = save(pipe, tmp_path / "m")
    assert {"model-2.json", "model-2.weights.h5"} <= {p.name for p in folder.iterdir()}
    np.testing.assert_array_equal(load(folder).predict_proba(X), pipe.predict_proba(X))
