"""FaceEmbedder: a trained network's features as a scikit-learn transformer."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import ferkit
from ferkit import FaceEmbedder


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, sample3):
    """A tiny fitted pipeline saved to a folder (a path is clone-safe, as a name is)."""
    pipe = ferkit.make_fer_pipeline(filters=(4, 8), dense_units=(16,), epochs=1,
                                    random_state=0, test_time_flip=True)
    pipe.fit(sample3.data, sample3.target)
    return str(ferkit.save(pipe, tmp_path_factory.mktemp("embed") / "tiny"))


@pytest.fixture(scope="module")
def faces(sample3):
    return sample3.data, sample3.target


def test_features_are_the_last_hidden_layer_of_each_voting_network(faces):
    X, _ = faces
    embedder = FaceEmbedder("fer2013-7").fit(X[:5])
    Z = embedder.transform(X[:7])
    networks = embedder.model_.named_steps["clf"].estimators_
    widths = [net.model_.layers[-1].input.shape[-1] for net in networks]
    assert Z.shape == (7, sum(widths)) == (7, embedder.n_features_out_)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    names = embedder.get_feature_names_out()
    assert len(names) == Z.shape[1] and names[0].startswith("seed0_")
    # The features are the input of the network's softmax layer, averaged over the face and
    # its mirror image as the network's predictions are (test_time_flip).
    import keras

    first = networks[0]
    assert first.test_time_flip
    images = embedder.model_[:-1].transform(X[:7])
    hidden = keras.Model(first.model_.inputs[0], first.model_.layers[-1].input)
    expected = (np.asarray(hidden(images, training=False))
                + np.asarray(hidden(images[:, :, ::-1], training=False))) / 2
    np.testing.assert_allclose(Z[:, :widths[0]], expected, atol=1e-5)


def test_a_pipeline_with_logistic_regression_learns_from_few_faces(tiny_folder, faces):
    X, y = faces
    model = make_pipeline(FaceEmbedder(tiny_folder), LogisticRegression(max_iter=300))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    search = GridSearchCV(model, {"logisticregression__C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert search.best_params_["logisticregression__C"] in (0.1, 1.0)
    assert set(search.predict(X[:5])) <= set(y)


def test_nothing_is_trained(tiny_folder, faces):
    X, y = faces
    embedder = FaceEmbedder(tiny_folder).fit(X, y)
    before = [w.copy() for w in embedder.model_[-1].model_.get_weights()]
    Z1 = embedder.transform(X[:10])
    embedder.fit(X[10:], y[10:])
    after = embedder.model_[-1].model_.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    np.testing.assert_array_equal(embedder.transform(X[:10]), Z1)


def test_rows_are_independent_of_the_batch(tiny_folder, faces):
    X, _ = faces
    embedder = FaceEmbedder(tiny_folder, batch_size=7).fit(X[:3])
    Z = embedder.transform(X[:20])
    np.testing.assert_allclose(embedder.transform(X[:20][::-1]), Z[::-1], atol=1e-6)
    np.testing.assert_allclose(embedder.transform(X[5:9]), Z[5:9], atol=1e-6)


def test_set_output_pandas_and_named_layers(tiny_folder, faces):
    X, _ = faces
    embedder = FaceEmbedder(tiny_folder, layer="flatten").set_output(transform="pandas")
    table = embedder.fit(X[:4]).transform(X[:4])
    assert list(table.columns) == list(embedder.get_feature_names_out())
    assert table.shape == (4, 12 * 12 * 8)  # two pooled blocks of a 48x48 face, 8 filters
    with pytest.raises(ValueError, match="layer 'nope' is not a layer of the network"):
        FaceEmbedder(tiny_folder, layer="nope").fit(X[:4])
    with pytest.raises(ValueError, match="out of range"):
        FaceEmbedder(tiny_folder, layer=99).fit(X[:4])


def test_clone_pickle_and_frozen_fitted_models(tiny_folder, faces):
    from sklearn.frozen import FrozenEstimator

    X, _ = faces
    loaded = ferkit.load(tiny_folder)
    frozen = FaceEmbedder(FrozenEstimator(loaded))
    Z = clone(frozen).fit(X[:3]).transform(X[:6])
    np.testing.assert_allclose(Z, FaceEmbedder(tiny_folder).fit(X[:3]).transform(X[:6]),
                               atol=1e-6)
    again = pickle.loads(pickle.dumps(FaceEmbedder(tiny_folder).fit(X[:3])))
    np.testing.assert_allclose(again.transform(X[:6]), Z, atol=1e-6)


def test_bad_models_and_bad_faces_are_refused(tiny_folder, faces):
    X, _ = faces
    with pytest.raises(TypeError, match="FaceEmbedder needs a fitted ferkit model"):
        FaceEmbedder(LogisticRegression().fit(X[::5] / 255, faces[1][::5])).fit(X[:4])
    with pytest.raises(ValueError, match=r"X has 100 features, but .* expecting 2304"):
        FaceEmbedder(tiny_folder).fit(X[:4, :100])
    bad = X[:4].astype(float)
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        FaceEmbedder(tiny_folder).fit(X[:4]).transform(bad)


# scikit-learn's checks feed tabular rows of 1-10 features; FaceEmbedder takes faces of its
# network's size (2304 pixels for 48x48) and refuses anything else with scikit-learn's own
# "X has N features, but ... is expecting 2304" before the check reaches what it tests. The
# properties those checks test are tested above on faces: fit returns self and leaves the
# parameters alone, n_features_in_, pickling, row independence (order and subsets),
# float32 output, NaN refused, set_output.
_NOT_FACES = (
    "the check's data are 1-10 tabular features, not faces of the network's size; "
    "tested on faces in tests/test_embedding.py"
)
_EMBEDDER_EXPECTED_FAILURES = {check: _NOT_FACES for check in (
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in",
    "check_fit2d_predict1d",
)}


def _embedder():
    # The shipped model by name: nothing to fit or save for the checks that need no data.
    return FaceEmbedder("fer2013-3")


@parametrize_with_checks([_embedder()],
                         expected_failed_checks=lambda _: _EMBEDDER_EXPECTED_FAILURES)
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_fit_checks_the_faces_without_running_the_networks(tiny_folder, faces):
    from unittest import mock

    from ferkit import _inference

    X, _ = faces
    with mock.patch.object(_inference, "predict_proba", wraps=_inference.predict_proba) as run:
        embedder = FaceEmbedder(tiny_folder).fit(X[:20])
        assert run.call_count == 0
        embedder.fit_transform(X[:20])
        assert run.call_count == 1  # one network, once: fit_transform computes once
    with pytest.raises(ValueError, match=r"X has 100 features"):
        FaceEmbedder(tiny_folder).fit(X[:4, :100])
