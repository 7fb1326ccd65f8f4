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
    assert float(tuned.model_.optimizer.learning_rate) == pytest.approx(1e-5)
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


# -- a vote fine-tuned as one network, and the head's start -----------------------------------

@pytest.fixture(scope="module")
def vote_folder(tmp_path_factory, sample3):
    """A soft vote of two small trained networks saved as one ferkit model folder."""
    from sklearn.ensemble import VotingClassifier

    def network(seed):
        return FacialExpressionClassifier(filters=(4, 6), dense_units=(8,), epochs=2,
                                          random_state=seed)

    vote = make_pipeline(ImageReshaper(), PixelScaler(), VotingClassifier(
        [("seed0", network(0)), ("seed1", network(1))], voting="soft"))
    vote.fit(sample3.data, sample3.target)
    return ferkit.save(vote, tmp_path_factory.mktemp("vote") / "model")


def test_a_vote_is_fine_tuned_as_one_network_with_a_branch_per_voter(vote_folder, valence,
                                                                      tmp_path):
    X, y = valence
    model = _fine_tuner(str(vote_folder)).fit(X, y)
    clf, voters = model[-1], ferkit.load(vote_folder)[-1].estimators_
    for k, voter in enumerate(voters, start=1):
        for name in ("block1_conv1", "block2_conv1", "block2_bn1"):
            for mine, theirs in zip(clf.model_.get_layer(f"net{k}_{name}").get_weights(),
                                    voter.model_.get_layer(name).get_weights(), strict=True):
                np.testing.assert_array_equal(mine, theirs)
    # One softmax layer reads both branches' last hidden layers (8 features each).
    assert clf.model_.get_layer("features").output.shape[-1] == 16
    assert clf.model_.get_layer("emotion").units == 3
    loaded = ferkit.load(ferkit.save(model, tmp_path / "tuned"))
    np.testing.assert_array_equal(loaded.predict_proba(X[:8]), model.predict_proba(X[:8]))
    # FaceEmbedder reads the fine-tuned vote's joined features.
    assert ferkit.FaceEmbedder(loaded).fit(X[:1]).transform(X[:4]).shape == (4, 16)


def _head_probe(network, X, labels):
    """What fit_head promises: the softmax layer is scikit-learn's logistic regression, its C
    cross-validated by log-loss, on the features the layer reads."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ferkit._transfer import HEAD_CS

    features = keras.Model(network.inputs, network.get_layer("emotion").input).predict(
        X, verbose=0).astype(np.float32)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(HEAD_CS)},
                          scoring="neg_log_loss", cv=folds)
    return search.fit(features, labels).predict_proba(features)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_new_output_layer_starts_as_a_logistic_regression_on_the_features(
        source_folder, valence, n_classes):
    from ferkit._network import build_cnn
    from ferkit._transfer import fit_head, start_from

    X, y = valence
    X = ImageReshaper().fit_transform(X)[:, :, :, None] / 255.0
    labels = np.unique(y, return_inverse=True)[1]
    keep = labels < n_classes
    X, labels = X[keep], labels[keep]
    source = _source(source_folder)
    network = build_cnn((48, 48, 1), n_classes, filters=(4, 6, 8), dense_units=(12,), seed=0)
    start_from(network, [source], frozen_blocks="all", weights="source")
    before = network.predict(X, verbose=0)
    fit_head(network, X, np.eye(n_classes)[labels], batch_size=64, random_state=0)
    after = network.predict(X, verbose=0)
    expected = _head_probe(network, X, labels)
    np.testing.assert_allclose(after, expected, atol=1e-5)
    assert not np.allclose(before, expected, atol=1e-3)


def test_the_head_is_cross_validated_when_the_network_computes_in_bfloat16(
        source_folder, valence):
    """Under Keras' mixed_bfloat16 policy the features come out in bfloat16, which scikit-learn
    scores as an error: the probe must still compare its Cs (it once picked the first, every
    score NaN), and the network's answers reach scikit-learn as float32."""
    import warnings

    import keras

    from ferkit import _inference
    from ferkit._network import build_cnn
    from ferkit._transfer import fit_head, start_from

    X, y = valence
    X = ImageReshaper().fit_transform(X)[:, :, :, None] / 255.0
    labels = np.unique(y, return_inverse=True)[1]
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        network = build_cnn((48, 48, 1), 3, filters=(4, 6, 8), dense_units=(12,), seed=0)
        start_from(network, [_source(source_folder)], frozen_blocks="all", weights="source")
        assert network.get_layer("emotion").compute_dtype == "bfloat16"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit_head(network, X, np.eye(3)[labels], batch_size=64, random_state=0)
        proba = _inference.predict_proba(network, X.astype(np.float32))
        expected = _head_probe(network, X, labels)
    finally:
        keras.config.set_dtype_policy(before)
    assert not [w for w in caught if "Scoring failed" in str(w.message)
                or "non-finite" in str(w.message)]
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, expected, atol=0.03)  # bfloat16 keeps ~3 digits


def test_the_head_keeps_its_random_start_without_every_class_to_probe(source_folder, valence):
    from ferkit._network import build_cnn
    from ferkit._transfer import fit_head, start_from

    X, _ = valence
    X = ImageReshaper().fit_transform(X[:20])[:, :, :, None] / 255.0
    network = build_cnn((48, 48, 1), 3, filters=(4, 6, 8), dense_units=(12,), seed=0)
    start_from(network, [_source(source_folder)], frozen_blocks="all", weights="source")
    before = network.get_layer("emotion").get_weights()
    fit_head(network, X, np.eye(3)[[0, 1] * 10], batch_size=64)  # no face of class 2
    for mine, theirs in zip(network.get_layer("emotion").get_weights(), before, strict=True):
        np.testing.assert_array_equal(mine, theirs)
