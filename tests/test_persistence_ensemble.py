"""ferkit.save / ferkit.load of soft- and hard-voting ensembles of classifiers.

scikit-learn's :class:`~sklearn.ensemble.VotingClassifier` fits one network per member; the
model folder then holds one architecture and weights file pair per network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.pipeline import Pipeline, make_pipeline

import ferkit
from ferkit import FacialExpressionClassifier
from ferkit.persistence import load, save
from ferkit.preprocessing import ImageReshaper, PixelScaler

pytest.importorskip("keras")


def _member(tiny_params, seed):
    return FacialExpressionClassifier(**{**tiny_params, "random_state": seed})


@pytest.fixture(scope="module")
def ensembles(sample3, tiny_params):
    """A soft-voting pipeline with a dropped member, and a bare hard-voting ensemble."""
    soft = make_pipeline(ImageReshaper(), PixelScaler(), VotingClassifier(
        [("a", _member(tiny_params, 0)), ("off", "drop"), ("b", _member(tiny_params, 1))],
        voting="soft", weights=[2.0, 1.0, 1.0],
    )).fit(sample3.data, sample3.target)
    hard = VotingClassifier(
        [("a", _member(tiny_params, 2)), ("b", _member(tiny_params, 3)),
         ("c", _member(tiny_params, 4))], voting="hard",
    ).fit(sample3.data.reshape(-1, 48, 48, 1) / 255.0, sample3.target)
    return {"soft": soft, "hard": hard}


@pytest.fixture(scope="module")
def saved(ensembles, tmp_path_factory):
    root = tmp_path_factory.mktemp("ensembles")
    return {name: save(est, root / name) for name, est in ensembles.items()}


def _inputs(name, sample3):
    return sample3.data if name == "soft" else sample3.data.reshape(-1, 48, 48, 1) / 255.0


@pytest.mark.parametrize("name", ["soft", "hard"])
def test_round_trip_predicts_the_same(ensembles, saved, sample3, name):
    X = _inputs(name, sample3)
    loaded = load(saved[name])
    assert (loaded.predict(X) == ensembles[name].predict(X)).all()
    assert set(loaded.predict(X)) <= {"angry", "happy", "sad"}
    if name == "soft":
        np.testing.assert_array_equal(loaded.predict_proba(X), ensembles[name].predict_proba(X))
    vc = loaded[-1] if isinstance(loaded, Pipeline) else loaded
    original = ensembles[name][-1] if name == "soft" else ensembles[name]
    assert vc.get_params(deep=False).keys() == original.get_params(deep=False).keys()
    assert vc.weights == original.weights and vc.voting == original.voting
    assert list(vc.named_estimators_) == list(original.named_estimators_)
    assert len(vc.estimators_) == len(original.estimators_)
    for mine, theirs in zip(vc.estimators_, original.estimators_, strict=True):
        assert mine.random_state == theirs.random_state
        for a, b in zip(mine.model_.get_weights(), theirs.model_.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(vc.classes_, original.classes_)
    assert vc.le_.inverse_transform([0, 2]).tolist() == ["angry", "sad"]


def test_each_network_gets_its_own_files(saved):
    folder = saved["hard"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "ferkit.json", "model-2.json", "model-2.weights.h5", "model-3.json",
        "model-3.weights.h5", "model.json", "model.weights.h5",
    ]
    manifest = json.loads((folder / "ferkit.json").read_text())
    assert manifest["network"]["count"] == 3
    assert [m["epochs_run"] for m in manifest["summary"]["networks"]] == [2, 2, 2]
    assert manifest["summary"]["classes"] == ["angry", "happy", "sad"]
    members = manifest["estimator"]["estimators"]
    assert "network" not in members[0]
    assert members[2]["network"] == {"architecture": "model-3.json",
                                     "weights": "model-3.weights.h5"}


def test_loaded_ensemble_refits_and_clones(saved, sample3):
    from sklearn.base import clone

    loaded = load(saved["soft"])
    refit = clone(loaded).fit(sample3.data, sample3.target)
    assert refit.score(sample3.data, sample3.target) > 0
    assert not hasattr(clone(loaded)[-1], "estimators_")


def test_members_that_are_not_classifiers_are_refused(sample3, tiny_params, tmp_path):
    members = [("a", make_pipeline(PixelScaler(), _member(tiny_params, 0))),
               ("b", _member(tiny_params, 1))]
    ensemble = VotingClassifier(members, voting="soft").fit(
        sample3.data.reshape(-1, 48, 48, 1), sample3.target)
    with pytest.raises(TypeError, match=r"member 'a' is a sklearn\.pipeline\.Pipeline.*"
                                        r"FacialExpressionClassifier only"):
        save(ensemble, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_unfitted_ensemble_is_refused(tiny_params, tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="VotingClassifier"):
        save(VotingClassifier([("a", _member(tiny_params, 0))]), tmp_path / "m")


def _edited(folder: Path, tmp_path: Path, edit) -> Path:
    copy = Path(shutil.copytree(folder, tmp_path / folder.name))
    manifest = json.loads((copy / "ferkit.json").read_text())
    edit(manifest)
    (copy / "ferkit.json").write_text(json.dumps(manifest))
    return copy


def _members(manifest):
    return manifest["estimator"]["estimators"]


@pytest.mark.parametrize("edit, message", [
    (lambda m: _members(m)[1].update(network={"architecture": "model.json",
                                              "weights": "model.weights.h5"}),
     r"estimator\.estimators\[1\] names the network files .* another classifier"),
    (lambda m: _members(m)[1].update(network={"architecture": "arrays.npz",
                                              "weights": "model-2.weights.h5"}),
     r"estimator\.estimators\[1\]\.network must name"),
    (lambda m: _members(m)[1].update({"class": "sklearn.pipeline.Pipeline",
                                      "steps": [{"class": "passthrough"}]}),
     r"a sklearn\.pipeline\.Pipeline inside a sklearn\.ensemble\.VotingClassifier"),
    (lambda m: _members(m)[1].update({"class": "sklearn.linear_model.LogisticRegression"}),
     r"LogisticRegression', which ferkit does not load"),
    (lambda m: m["estimator"].update(estimators=[]), r"non-empty list of \"estimators\""),
    (lambda m: m["estimator"]["state"].update(classes=["angry", "happy"]),
     r"member 'a' has 3 classes but the ensemble has 2"),
    (lambda m: m["estimator"]["state"].update(classes_dtype="<f8"),
     r"estimator\.state is incomplete or malformed"),
    (lambda m: m["estimator"]["state"].pop("classes"),
     r"estimator\.state is incomplete or malformed"),
])
def test_malformed_ensemble_files_are_refused(saved, tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        load(_edited(saved["hard"], tmp_path, edit))


def test_missing_member_network_names_the_file(saved, tmp_path):
    folder = Path(shutil.copytree(saved["hard"], tmp_path / "m"))
    (folder / "model-3.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"model-3\.weights\.h5 is missing"):
        ferkit.load(folder)
