"""The pretrained models shipped in the package: load offline, take raw pixels, score as stated."""

from __future__ import annotations

import numpy as np
import pytest

import ferkit
from ferkit._pretrained import PUBLICTEST_ACCURACY

NAMES = ["fer2013-7", "fer2013-3"]


@pytest.fixture(scope="module", params=NAMES)
def pretrained(request):
    return request.param, ferkit.load_pretrained(request.param)


def test_both_models_ship():
    assert ferkit.available_pretrained() == sorted(NAMES)


def test_raw_pixels_in_emotion_names_out(pretrained, sample):
    name, model = pretrained
    expected = {"fer2013-7": set(ferkit.EMOTIONS), "fer2013-3": {"angry", "happy", "sad"}}[name]
    assert set(model.classes_) == expected
    images = sample.images[::35]  # uint8 (n, 48, 48)
    pred = model.predict(images)
    np.testing.assert_array_equal(pred, model.predict(images.reshape(len(images), -1)))
    assert set(pred) <= expected
    proba = model.predict_proba(images)
    assert proba.shape == (len(images), len(expected))
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], pred)


def test_better_than_chance_on_the_sample(pretrained, sample):
    # A sanity check of the shipped weights (a broken conversion scores at chance), not an
    # accuracy claim: the sample is 656 PublicTest faces, balanced unlike PublicTest.
    _, model = pretrained
    keep = np.isin(sample.target, model.classes_)
    score = model.score(sample.data[keep], sample.target[keep])
    assert score > 2 / len(model.classes_)  # at least twice chance


def test_unknown_name():
    with pytest.raises(ValueError, match="ships"):
        ferkit.load_pretrained("imagenet")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_publictest_accuracy_matches_the_model_card(name, shared_archive):
    from ferkit.datasets import load_fer2013

    emotions = None if name == "fer2013-7" else ("angry", "happy", "sad")
    test = load_fer2013(shared_archive, usage="PublicTest", emotions=emotions)
    model = ferkit.load_pretrained(name)
    assert model.score(test.data, test.target) == pytest.approx(PUBLICTEST_ACCURACY[name], abs=5e-4)
