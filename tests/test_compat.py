"""Files written by ferkit 0.1.0 still load and predict as they did (tests/data/ferkit-0.1.0)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ferkit

DATA = Path(__file__).parent / "data" / "ferkit-0.1.0"


@pytest.fixture(scope="module")
def expected():
    with np.load(DATA / "expected.npz") as arrays:
        return dict(arrays)


@pytest.mark.parametrize("name", ["pipeline", "vote"])
def test_0_1_0_files_load_and_predict_the_same(tmp_path, expected, name):
    folder = shutil.copytree(DATA / name, tmp_path / name)
    model = ferkit.load(folder)
    np.testing.assert_allclose(model.predict_proba(expected["probe"]), expected[name],
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["fer2013-7", "fer2013-3"])
def test_shipped_models_predict_as_ferkit_0_1_0_did(expected, name):
    model = ferkit.load_pretrained(name)
    np.testing.assert_allclose(model.predict_proba(expected["probe"]), expected[name],
                               rtol=0, atol=1e-6)


def test_private_state_of_0_1_0_is_not_restored_nor_written_again(tmp_path, expected):
    manifest = json.loads((DATA / "pipeline" / "ferkit.json").read_text())
    states = [step.get("state", {}) for step in manifest["estimator"]["steps"]]
    assert any(key.startswith("_") for state in states for key in state)
    model = ferkit.load(shutil.copytree(DATA / "pipeline", tmp_path / "old"))
    for _, step in model.steps:
        assert not [key for key in vars(step) if key in ("_input_ndim", "_sample_shape")]
    resaved = ferkit.save(model, tmp_path / "new")
    manifest = json.loads((resaved / "ferkit.json").read_text())
    for step in manifest["estimator"]["steps"]:
        assert not [key for key in step.get("state", {}) if key.startswith("_")], step
    np.testing.assert_allclose(ferkit.load(resaved).predict_proba(expected["probe"]),
                               expected["pipeline"], rtol=0, atol=1e-6)
