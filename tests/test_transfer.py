"""Fine-tuning: FacialExpressionClassifier(weights=...) starts from a trained network."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

import ferkit
from ferkit import FacialExpressionClassifier
from ferkit.preprocessing import ImageReshaper, PixelScaler

VALENCE = {"happy": "positive", "surprise": "positive", "neutral": "neutral"}


@pytest.fixture(scope="module")
def source_folder(tmp_path_factory, sample3):
    """A small trained network saved as a ferkit model folder (3 blocks, so freezing shows)."""
    pipe = ferkit.make_fer_pipeline(filters=(4, 6, 8), dense_units=(12,), epochs=2,
                                    random_state=0)
    pipe.fit(sample3.data, sample3.target)
    return ferkit.save(pipe, tmp_path_factory.mktemp("source") / "model")


@pytest.fixture(scope="module")
def valence(sample):
    y = np.asarray([VALENCE.get(e, "negative") for e in sample.target], dtype=object)
    return sample.data[::3], y[::3]


def _fine_tuner(weights, **params):
    params = {"epochs": 1, "random_state": 0, "validation_split": 0.0,
              "early_stopping_patience": None, **params}
    return make_pipeline(ImageReshaper(), PixelScaler(),
                         FacialExpressionClassifier(weights=weights, **params))


def _source(folder):
    return ferkit.load(folder)[-1]


def test_frozen_layers_keep_the_source_weights_and_the_output_is_new(source_folder, valence):
    X, y = valence
    model = _fine_tuner(source_folder, frozen_blocks="all").fit(X, y)
    clf, source = model[-1], _source(source_folder)
    assert clf.classes_.tolist() == ["negative", "neutral", "positive"]
    assert clf.model_.get_layer("emotion").units == 3
    frozen = [layer for layer in clf.model_.layers if layer.name.startswith("block")]
    assert frozen and not any(layer.trainable for layer in frozen)
    for layer in frozen:
        for mine, theirs in zip(layer.get_weights(),
                                source.model_.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    # The dense layer started from the source and was trained further.
    dense = clf.model_.get_layer("dense1").get_weights()[0]
    assert not np.array_equal(dense, source.model_.get_layer("dense1").get_weights()[0])
    assert set(model.predict(X[:10])) <= set(y)


def test_frozen_blocks_counts_leading_blocks(source_folder, valence):
    X, y = valence
    clf = _fine_tuner(source_folder, frozen_blocks=1).fit(X, y)[-1]
    trainable = {layer.name.partition("_")[0]: layer.trainable for layer in clf.model_.layers
                 if layer.name.startswith("block") and layer.weights}
    assert trainable == {"block1": False, "block2": True, "block3": True}


def test_the_weights_decide_the_shape(source_folder, valence):
    X, y = valence
    clf = _fine_tuner(source_folder).fit(X, y)[-1]
    convs = [layer.filters for layer in clf.model_.layers if layer.name.endswith("_conv1")]
    assert convs == [4, 6, 8]
    assert clf.get_params()["filters"] == (32, 64, 128)  # parameters as given, untouched
    with pytest.raises(ValueError, match=r"filters=\(8,\) disagrees with the network of "
                                         r"weights=.*which has filters=\(4, 6, 8\)"):
        _fine_tuner(source_folder, filters=(8,)).fit(X, y)
    # A value equal to the weights' is no disagreement.
    _fine_tuner(source_folder, filters=(4, 6, 8)).fit(X, y)


def test_learning_rate_auto_suits_fine_tuning(source_folder, valence):
    X, y = valence
    tuned = _fine_tuner(source_folder).fit(X, y)[-1]
    scratch = FacialExpressionClassifier(filters=(4,), dense_units=(4,), epochs=1,
                                         random_state=0).fit(X / 255.0, y)
    assert float(tuned.model_.optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(scratch.model_.optimizer.learning_rate) == pytest.approx(1e-3)


def test_shipped_weights_on_raw_pixels_as_the_shipped_models(sample):
    X, y = sample.data[::2], sample.target[::2]
    model = clone(_fine_tuner("fer2013-3", epochs=3, learning_rate=1e-3)).fit(X, y)
    assert model.score(X, y) > 0.3  # seven emotions: well above chance (1/7) already
    clf = model[-1]
    shipped = ferkit.load_pretrained("fer2013-3")[-1]
    assert [layer.name for layer in clf.model_.layers if layer.weights][:-1] == \
        [layer.name for layer in shipped.model_.layers if layer.weights][:-1]


def test_fine_tuned_models_save_and_load(source_folder, valence, tmp_path):
    X, y = valence
    model = _fine_tuner(str(source_folder)).fit(X, y)
    loaded = ferkit.load(ferkit.save(model, tmp_path / "tuned"))
    np.testing.assert_array_equal(loaded.predict_proba(X[:8]), model.predict_proba(X[:8]))
    assert loaded.predict(X[:8]).tolist() == model.predict(X[:8]).tolist()


@pytest.mark.parametrize("weights, message", [
    ("nope", "weights must be None, the name of a shipped model"),
    ("/no/such/folder", "weights must be None, the name of a shipped model"),
])
def test_bad_weights_are_refused(weights, message, valence):
    X, y = valence
    with pytest.raises(ValueError, match=message):
        _fine_tuner(weights).fit(X, y)


def test_faces_of_another_size_are_refused(source_folder, valence):
    X, y = valence
    small = X.reshape(-1, 48, 48)[:, ::2, ::2].reshape(len(X), -1)
    model = make_pipeline(ImageReshaper(image_shape=(24, 24)), PixelScaler(),
                          FacialExpressionClassifier(weights=str(source_folder), epochs=1))
    with pytest.raises(ValueError, match=r"takes images of shape \(48, 48, 1\), but X holds "
                                         r"images of shape \(24, 24, 1\)"):
        model.fit(small, y)
