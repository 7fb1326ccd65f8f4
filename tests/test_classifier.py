"""FacialExpressionClassifier: scikit-learn composition, input forms, determinism, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from ferkit import FacialExpressionClassifier, make_fer_pipeline
from ferkit._emotions import EMOTION_TO_CODE


@pytest.fixture(scope="module")
def small(sample3):
    """90 faces, 30 per emotion, scaled to 0-1, as flat rows."""
    idx = np.concatenate(
        [np.flatnonzero(sample3.target == e)[:30] for e in ("angry", "happy", "sad")]
    )
    return sample3.data[idx] / 255.0, sample3.target[idx]


def test_import_ferkit_does_not_import_tensorflow():
    code = (
        "import sys, ferkit, ferkit.datasets, ferkit.preprocessing\n"
        "ferkit.datasets.load_sample()\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'scikeras', 'matplotlib', 'optuna')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fit_predict_attributes(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**tiny_params).fit(X, y)
    assert list(clf.classes_) == ["angry", "happy", "sad"]
    assert clf.n_features_in_ == 2304
    assert clf.image_shape_ == (48, 48, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # predict is the argmax of predict_proba, mapped through classes_
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) == pytest.approx(accuracy_score(y, clf.predict(X)))
    assert set(clf.history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == clf.n_epochs_ for v in clf.history_.values())
    assert 1 <= clf.n_epochs_ <= tiny_params["epochs"]


def test_input_forms_give_identical_predictions(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**tiny_params).fit(X, y)
    flat = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X.reshape(-1, 48, 48)), flat)
    np.testing.assert_array_equal(clf.predict_proba(X.reshape(-1, 48, 48, 1)), flat)
    # image input at fit time builds the same network
    clf_img = FacialExpressionClassifier(**tiny_params).fit(X.reshape(-1, 48, 48), y)
    np.testing.assert_array_equal(clf_img.predict_proba(X), flat)


def test_test_time_flip_averages_each_face_with_its_mirror_image(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**tiny_params).fit(X, y)
    images = X.reshape(-1, 48, 48)
    plain = clf.predict_proba(images)
    mirrored = clf.predict_proba(images[:, :, ::-1])
    assert not np.allclose(plain, mirrored)  # the network is not already mirror-invariant
    clf.set_params(test_time_flip=True)  # a prediction-time switch: no refit needed
    both = clf.predict_proba(images)
    np.testing.assert_allclose(both, (plain + mirrored) / 2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(both.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(images), clf.classes_[both.argmax(axis=1)])
    # Mirrored input gives the same averaged probabilities (up to float rounding).
    np.testing.assert_allclose(clf.predict_proba(images[:, :, ::-1]), both, rtol=1e-5, atol=1e-7)


def test_five_crops_are_the_corners_and_centre_resized_back():
    from ferkit._inference import five_crops

    # Each pixel's value is its own position, so every crop is recognisable by its corners.
    rows, cols = np.mgrid[0:48, 0:48]
    image = (rows * 48 + cols).astype("float32")[None, :, :, None]
    crops = five_crops(image, 0.75)  # 36 of 48 pixels
    assert len(crops) == 5 and all(c.shape == image.shape for c in crops)
    firsts = [float(c[0, 0, 0, 0]) for c in crops]
    lasts = [float(c[0, -1, -1, 0]) for c in crops]
    starts = [(0, 0), (0, 12), (12, 0), (12, 12), (6, 6)]
    assert firsts == pytest.approx([r * 48 + c for r, c in starts], abs=1)
    assert lasts == pytest.approx([(r + 35) * 48 + c + 35 for r, c in starts], abs=1)


def test_test_time_crops_average_the_five_crops_and_their_mirrors(small, tiny_params):
    from ferkit._inference import five_crops

    X, y = small
    clf = FacialExpressionClassifier(**tiny_params).fit(X, y)
    images = X.reshape(-1, 48, 48, 1).astype("float32")
    views = five_crops(images, 0.9)
    views += [v[:, :, ::-1] for v in views]
    clf.set_params(test_time_crops=0.9)  # a prediction-time switch, like test_time_flip
    only_crops = clf.predict_proba(images)
    expected = np.mean([clf.set_params(test_time_crops=None).predict_proba(v)
                        for v in views[:5]], axis=0)
    np.testing.assert_allclose(only_crops, expected, rtol=1e-5, atol=1e-7)
    clf.set_params(test_time_crops=0.9, test_time_flip=True)
    ten = np.mean([clf.set_params(test_time_crops=None, test_time_flip=False).predict_proba(v)
                   for v in views], axis=0)
    np.testing.assert_allclose(clf.set_params(test_time_crops=0.9, test_time_flip=True)
                               .predict_proba(images), ten, rtol=1e-5, atol=1e-7)
    assert not np.allclose(ten, clf.set_params(test_time_crops=None).predict_proba(images))
    with pytest.raises(ValueError, match="test_time_crops"):
        clf.set_params(test_time_crops=1.5).fit(X, y)


def test_integer_codes_are_kept_as_given(small, tiny_params):
    X, y = small
    codes = np.array([EMOTION_TO_CODE[e] for e in y])
    clf = FacialExpressionClassifier(**tiny_params).fit(X, codes)
    np.testing.assert_array_equal(clf.classes_, [0, 3, 4])
    assert clf.predict(X).dtype.kind == "i"
    assert set(np.unique(clf.predict(X))) <= {0, 3, 4}


def test_same_random_state_same_predictions(small, tiny_params):
    X, y = small
    params = dict(tiny_params, augment=True, dropout=0.5)
    a = FacialExpressionClassifier(**params).fit(X, y).predict_proba(X)
    b = FacialExpressionClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = FacialExpressionClassifier(**dict(params, random_state=1)).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_pipeline_takes_raw_pixels_and_clones(sample3, fitted_pipeline):
    pred = fitted_pipeline.predict(sample3.images[:5])  # (n, 48, 48) uint8 works too
    np.testing.assert_array_equal(pred, fitted_pipeline.predict(sample3.data[:5]))
    fresh = clone(fitted_pipeline)
    assert fresh.get_params()["clf__filters"] == fitted_pipeline.get_params()["clf__filters"]
    assert not hasattr(fresh.named_steps["clf"], "model_")


def test_cross_val_score_is_stratified(sample3, tiny_params):
    pipe = make_fer_pipeline(**dict(tiny_params, epochs=1))
    scores = cross_val_score(pipe, sample3.data, sample3.target, cv=3)
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))
    # is_classifier() is what makes cv=3 mean StratifiedKFold: each test fold is balanced.
    from sklearn.base import is_classifier
    from sklearn.model_selection import check_cv

    assert is_classifier(pipe)
    cv = check_cv(3, sample3.target, classifier=is_classifier(pipe))
    assert isinstance(cv, StratifiedKFold)


def test_grid_search_over_pipeline_dropout(sample3, tiny_params):
    pipe = make_fer_pipeline(**dict(tiny_params, epochs=1))
    search = GridSearchCV(pipe, {"clf__dropout": [0.0, 0.5]}, cv=2)
    search.fit(sample3.data, sample3.target)
    assert search.best_params_["clf__dropout"] in (0.0, 0.5)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.named_steps["clf"].dropout == search.best_params_["clf__dropout"]


@pytest.mark.parametrize(
    "params",
    [
        {"class_weight": "balanced"},
        {"lr_schedule": "plateau", "label_smoothing": 0.1},
        {"lr_schedule": "cosine", "augment": {"flip": 1, "rotation": 0.05}},
        {"convs_per_block": 2, "batch_norm": False, "optimizer": "sgd"},
        {"validation_split": 0.0, "early_stopping_patience": None},
    ],
    ids=["balanced", "plateau-smoothing", "cosine-augment", "vgg-sgd", "no-validation"],
)
def test_training_options_train(small, tiny_params, params):
    X, y = small
    clf = FacialExpressionClassifier(**dict(tiny_params, **params)).fit(X, y)
    assert np.isfinite(clf.history_["loss"]).all()
    if params.get("lr_schedule") == "cosine":
        # the schedule really changed the rate: epoch 2 starts lower than epoch 1
        rates = clf.history_["learning_rate"]
        assert rates[1] < rates[0]
    if params.get("validation_split") == 0.0:
        assert "val_loss" not in clf.history_


def test_validation_data_replaces_split(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**tiny_params)
    clf.fit(X[::2], y[::2], validation_data=(X[1::2], y[1::2]))
    assert len(clf.history_["val_loss"]) == clf.n_epochs_


def test_early_stopping_restores_best_weights(small, tiny_params):
    import keras

    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    X, y = small
    clf = FacialExpressionClassifier(
        **dict(tiny_params, epochs=8, early_stopping_patience=1, learning_rate=0.5),
        callbacks=[Snapshot()],
    ).fit(X[::2], y[::2], validation_data=(X[1::2], y[1::2]))
    assert clf.n_epochs_ < 8  # a huge learning rate stops improving quickly
    val_loss = clf.history_["val_loss"]
    best = int(np.argmin(val_loss))
    assert best < len(val_loss) - 1  # the last epoch was not the best...
    # ...yet the network holds the best epoch's weights.
    for restored, kept in zip(clf.model_.get_weights(), snapshots[best], strict=True):
        np.testing.assert_array_equal(restored, kept)


def test_default_network_is_the_original_architecture(small):
    """Three convolution blocks each followed by pooling, two dense layers, a softmax."""
    import keras

    X, y = small
    clf = FacialExpressionClassifier(epochs=1, batch_size=90, random_state=0).fit(X, y)
    layers = clf.model_.layers
    convs = [la for la in layers if isinstance(la, keras.layers.Conv2D)]
    pools = [la for la in layers if isinstance(la, keras.layers.MaxPooling2D)]
    dense = [la for la in layers if isinstance(la, keras.layers.Dense)]
    assert [c.filters for c in convs] == [32, 64, 128]
    assert len(pools) == 3
    assert [d.units for d in dense] == [256, 128, 3]  # two hidden layers, then one per class
    assert dense[-1].activation is keras.activations.softmax


def test_warm_start_continues_history(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**dict(tiny_params, warm_start=True, epochs=1,
                                            early_stopping_patience=None))
    clf.fit(X, y)
    weights = [w.copy() for w in clf.model_.get_weights()]
    clf.fit(X, y)
    after = clf.model_.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(weights, after, strict=True))


# -- bad input --------------------------------------------------------------------------


def test_wrong_pixel_count_at_predict(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**tiny_params).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 2300 features, but .* expecting 2304"):
        clf.predict(X[:, :2300])
    with pytest.raises(ValueError, match=r"images of shape \(24, 96\)"):
        clf.predict(X.reshape(-1, 24, 96))


def test_explicit_image_shape_mismatch_at_fit(small):
    X, y = small
    clf = FacialExpressionClassifier(image_shape=(48, 48))
    with pytest.raises(ValueError, match=r"2303 values per sample .* needs 2304"):
        clf.fit(X[:, :-1], y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_located(small, bad):
    X, y = small
    X = X.copy()
    X[7, 100] = bad
    with pytest.raises(ValueError, match=r"NaN or infinity \(first at row 7, position 100"):
        FacialExpressionClassifier().fit(X, y)


def test_raw_pixel_range_is_checked_in_pipeline(sample3):
    X = sample3.data.astype(float)
    X[3, 5] = 300
    with pytest.raises(ValueError, match=r"raw pixel values in \[0, 255\], but found 300 at row 3"):
        make_fer_pipeline().fit(X, sample3.target)
    X[3, 5] = -2
    with pytest.raises(ValueError, match=r"Negative values .* found -2 at row 3"):
        make_fer_pipeline().fit(X, sample3.target)


def test_one_class_only(small):
    X, _ = small
    with pytest.raises(ValueError, match=r"at least 2 classes .* only: 'happy'"):
        FacialExpressionClassifier().fit(X, np.full(len(X), "happy"))


def test_empty_X():
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 2304\)\)"):
        FacialExpressionClassifier().fit(np.empty((0, 2304)), [])


def test_label_type_mismatch_in_validation_data(small, tiny_params):
    X, y = small
    codes = np.array([EMOTION_TO_CODE[e] for e in y])
    with pytest.raises(TypeError, match="names or integer codes throughout"):
        FacialExpressionClassifier(**tiny_params).fit(X, y, validation_data=(X, codes))


def test_unseen_labels_in_validation_data(small, tiny_params):
    X, y = small
    y_val = np.array(["surprise"] * 10)
    with pytest.raises(ValueError, match=r"not seen in fit: \['surprise'\]"):
        FacialExpressionClassifier(**tiny_params).fit(X, y, validation_data=(X[:10], y_val))


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="'dropout' parameter"):
        FacialExpressionClassifier(dropout=1.5).fit(np.zeros((4, 4)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="augment has unknown key"):
        FacialExpressionClassifier(augment={"spin": 1}).fit(np.zeros((4, 4)), [0, 1, 0, 1])


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FacialExpressionClassifier().predict(np.zeros((1, 2304)))


def test_pickle_round_trip_of_fitted_classifier(small, tiny_params):
    """Pickle works (scikit-learn convention) — for trusted files only; see ferkit.save."""
    import pickle

    X, y = small
    clf = FacialExpressionClassifier(**tiny_params).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_unseeded_fit_after_seeded_fit(small, tiny_params):
    """A seeded fit must not leave TensorFlow's op determinism on for later unseeded fits."""
    X, y = small
    FacialExpressionClassifier(**tiny_params).fit(X, y).predict(X)
    unseeded = dict(tiny_params, random_state=None, augment=True)
    clf = FacialExpressionClassifier(**unseeded).fit(X, y)
    assert clf.n_epochs_ >= 1


def test_routed_parameters_build_callbacks_and_survive_clone(small, tiny_params):
    """scikeras' routing: callbacks given as classes are built with their callbacks__
    parameters, which are parameters like any other (get_params, clone, grid search)."""
    import keras
    from sklearn.base import clone

    built = []

    class Recorder(keras.callbacks.Callback):
        def __init__(self, label="unset"):
            super().__init__()
            built.append(label)

    X, y = small
    clf = FacialExpressionClassifier(**tiny_params, callbacks=[Recorder],
                                     callbacks__0__label="routed", fit__verbose=0)
    twin = clone(clf)
    assert twin.get_params()["callbacks__0__label"] == "routed"
    twin.set_params(callbacks__0__label="changed").fit(X, y)
    assert built == ["changed"]
    typo = FacialExpressionClassifier(**tiny_params, epoch=3)  # __init__ never raises
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['epoch'\]"):
        typo.fit(X, y)


# -- recipe pieces of the published FER2013 networks (issue #20) -----------------------------

def _tiny_xy(n=24):
    rng = np.random.default_rng(0)
    return rng.random((n, 48 * 48)).astype("float32"), np.array(["happy", "sad"] * (n // 2))


def test_optimizer_options_reach_the_keras_optimizer_and_survive_clone():
    X, y = _tiny_xy()
    clf = FacialExpressionClassifier(
        filters=(4,), dense_units=(4,), epochs=1, optimizer="sgd", learning_rate=0.01,
        optimizer__momentum=0.9, optimizer__nesterov=True, optimizer__weight_decay=1e-4,
        random_state=0)
    optimizer = clone(clf).fit(X, y).model_.optimizer
    assert type(optimizer).__name__ == "SGD"
    assert float(optimizer.momentum) == pytest.approx(0.9)
    assert optimizer.nesterov is True
    assert optimizer.weight_decay == pytest.approx(1e-4)


def test_an_option_the_optimizer_does_not_take_is_refused_before_training():
    X, y = _tiny_xy()
    clf = FacialExpressionClassifier(optimizer="adam", optimizer__nesterov=True)
    with pytest.raises(ValueError, match=r"optimizer__nesterov=True: not options Keras' "
                                         r"'adam' optimizer takes"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


def test_random_erasing_blanks_patches_in_training_only():
    import keras

    from ferkit._network import build_cnn

    network = build_cnn((48, 48, 1), 2, filters=(2,), dense_units=(2,),
                        augment={"erasing": 1.0}, seed=0)
    (erasing,) = [layer for layer in network.layers
                  if isinstance(layer, keras.layers.RandomErasing)]
    faces = np.ones((16, 48, 48, 1), "float32")
    trained = keras.ops.convert_to_numpy(erasing(faces, training=True))
    assert (trained == 0).any() and (trained == 1).any()  # patches of 0 in ones
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(erasing(faces, training=False)),
                                  faces)
    with pytest.raises(ValueError, match=r"augment\['erasing'\] is a probability, at most 1"):
        FacialExpressionClassifier(augment={"erasing": 1.5}).fit(*_tiny_xy())


def _mixed_batches(**params):
    from ferkit._mixing import MixedBatches

    X = np.stack([np.full((48, 48, 1), v, "float32") for v in (0.0, 1.0)] * 8)  # black, white
    y = np.tile(np.eye(2, dtype="float32"), (8, 1))  # black -> class 0, white -> class 1
    weights = np.arange(16, dtype="float32")
    return MixedBatches(X, y, weights, batch_size=6, **params)


def test_mixup_blends_faces_and_their_targets_in_the_same_proportion():
    batches = _mixed_batches(mixup=1.0, cutmix=0.0, seed=0)
    assert len(batches) == 3  # 16 rows in batches of 6: 6, 6, 4
    seen = []
    for index in range(len(batches)):
        images, targets, weights = batches[index]
        assert images.shape[1:] == (48, 48, 1) and targets.shape[1] == 2
        # A black (0) and white (1) pair blended with weight w is the constant image 1 - w
        # ... or w: the share of white in the pixels is the share of class 1 in the target.
        np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), targets[:, 1], atol=1e-5)
        np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
        seen.append(weights)
    assert sorted(np.concatenate(seen).tolist()) == list(range(16))  # each row once an epoch
    assert ((targets[:, 1] > 0.01) & (targets[:, 1] < 0.99)).any()  # something was mixed


def test_cutmix_pastes_a_patch_and_weighs_the_targets_by_its_area():
    batches = _mixed_batches(mixup=0.0, cutmix=1.0, seed=1)
    images, targets, _ = batches[0]
    assert set(np.unique(images).tolist()) <= {0.0, 1.0}  # pasted, not blended
    # Keras weighs the targets by the box's real-valued area; the pasted pixels are whole
    # ones, within one row and one column of it (2 x 48 of 2,304 pixels).
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), targets[:, 1], atol=0.05)
    assert ((images.min(axis=(1, 2, 3)) == 0) & (images.max(axis=(1, 2, 3)) == 1)).any()


def test_mixed_batches_repeat_with_a_seed_and_reshuffle_every_epoch():
    first = _mixed_batches(mixup=1.0, cutmix=1.0, seed=3)
    again = _mixed_batches(mixup=1.0, cutmix=1.0, seed=3)
    for index in range(len(first)):
        for a, b in zip(first[index], again[index], strict=True):
            np.testing.assert_array_equal(a, b)
    order = [first[i][2] for i in range(len(first))]
    first.on_epoch_end()
    assert not all(np.array_equal(a, first[i][2]) for i, a in enumerate(order))


def test_mixup_and_cutmix_train_repeatably_and_survive_clone(small, tiny_params):
    X, y = small
    clf = FacialExpressionClassifier(**dict(tiny_params, mixup=1.0, cutmix=0.5, epochs=2))
    a = clone(clf).fit(X, y)
    b = clone(clf).fit(X, y)
    assert a.n_epochs_ == 2 and clone(clf).get_params()["cutmix"] == 0.5
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    plain = FacialExpressionClassifier(**dict(tiny_params, epochs=2)).fit(X, y)
    assert not np.allclose(plain.predict_proba(X), a.predict_proba(X))


def test_soft_targets_are_what_the_network_learns(small, tiny_params):
    X, y = small
    params = dict(tiny_params, epochs=8, validation_split=0.2, learning_rate=3e-3)
    classes = np.unique(y)
    # A teacher that calls every face "sad": the student follows it, not the labels...
    teacher = np.tile((classes == "sad").astype(float), (len(y), 1))
    student = FacialExpressionClassifier(**params).fit(X, y, soft_targets=teacher)
    assert (student.predict(X) == "sad").mean() > 0.9
    # ... and is validated against the labels, on the same split as without a teacher.
    assert student.history_["val_accuracy"][-1] == pytest.approx(1 / 3, abs=0.06)
    # One-hot rows of y as soft targets are the labels: the same network as without.
    onehot = (y[:, None] == classes).astype(float)
    a = FacialExpressionClassifier(**params).fit(X, y, soft_targets=onehot)
    b = FacialExpressionClassifier(**params).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p[:, :2], r"one row per face and one column per class of y \(90 x 3"),
    (lambda p: p[:-1], r"\(90 x 3, columns in the order \['angry', 'happy', 'sad'\]\)"),
    (lambda p: p * np.where(np.arange(len(p)) == 7, 0.5, 1)[:, None], r"row 7 sums to 0.5"),
    (lambda p: np.where(p == p.max(), -1.0, p), r"negative value at row 0"),
])
def test_bad_soft_targets_are_refused_with_where(small, tiny_params, change, message):
    X, y = small
    teacher = np.full((len(y), 3), 1 / 3)
    clf = FacialExpressionClassifier(**tiny_params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, soft_targets=change(teacher))
    assert not hasattr(clf, "model_")
