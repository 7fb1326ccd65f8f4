"""Presets are plain parameter dicts: they build, clone and train like any configuration."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from ferkit import PRESETS, FacialExpressionClassifier, make_fer_pipeline
from ferkit._presets import preset_params


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid_constructor_input(name):
    clf = FacialExpressionClassifier(**PRESETS[name])
    assert clone(clf).get_params() == clf.get_params()


def test_make_fer_pipeline_preset_with_overrides():
    pipe = make_fer_pipeline(preset="large", epochs=3)
    clf = pipe.named_steps["clf"]
    assert clf.convs_per_block == 2 and clf.filters == (32, 64, 128, 256)
    assert clf.epochs == 3 and clf.augment is True


def _built(name, sample3):
    """The preset's classifier with its network built (untrained) for the sample's classes."""
    clf = FacialExpressionClassifier(**preset_params(name, epochs=1, validation_split=0.0))
    return clf.initialize(sample3.data[::50] / 255.0, sample3.target[::50])


def _layers(clf, kind: str) -> list:
    return [layer for layer in clf.model_.layers if layer.__class__.__name__ == kind]


def test_large_preset_builds_the_documented_network(sample3):
    clf = _built("large", sample3)
    assert [c.filters for c in _layers(clf, "Conv2D")] == [32, 32, 64, 64, 128, 128, 256, 256]


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        preset_params("huge")


def test_xl_preset_is_large_at_twice_the_width_trained_with_sgd(sample3):
    clf = _built("xl", sample3)
    assert [c.filters for c in _layers(clf, "Conv2D")] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert _layers(clf, "Dense")[0].units == 512
    optimizer = clf.model_.optimizer
    assert type(optimizer).__name__ == "SGD"
    assert optimizer.nesterov and optimizer.momentum == pytest.approx(0.9)
    assert optimizer.weight_decay == pytest.approx(1e-4)
    assert clf.early_stopping_patience is None
