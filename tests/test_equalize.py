"""HistogramEqualizer: per-image equalisation through scikit-image, as a pipeline step."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import exposure
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from ferkit.preprocessing import HistogramEqualizer, ImageReshaper, PixelScaler


@pytest.fixture(scope="module")
def faces(sample):
    """A few real FER faces, squeezed into a dim, low-contrast band (60-120)."""
    images = sample.images[::70].astype(np.float64)
    return np.rint(60 + images * (60 / 255))


@parametrize_with_checks(
    [HistogramEqualizer(image_shape=(1, -1)), HistogramEqualizer("clahe", image_shape=(1, -1))]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_global_matches_skimage_per_image(faces):
    out = HistogramEqualizer().fit_transform(faces)
    assert out.shape == faces.shape and out.dtype == np.float32
    for image, result in zip(faces, out, strict=True):
        expected = exposure.equalize_hist(image.astype(np.uint8)) * 255
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-3)


def test_clahe_matches_skimage_per_image(faces):
    out = HistogramEqualizer("clahe", clip_limit=0.03, kernel_size=12).fit_transform(faces)
    for image, result in zip(faces, out, strict=True):
        expected = exposure.equalize_adapthist(
            image.astype(np.uint8), kernel_size=12, clip_limit=0.03
        ) * 255
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-3)
    assert not np.allclose(out, HistogramEqualizer().fit_transform(faces))


@pytest.mark.parametrize("method", ["global", "clahe"])
def test_spreads_contrast_and_keeps_order(faces, method):
    out = HistogramEqualizer(method).fit_transform(faces)
    assert out.min() >= 0 and out.max() <= 255
    spread_in = faces.max(axis=(1, 2)) - faces.min(axis=(1, 2))
    spread_out = out.max(axis=(1, 2)) - out.min(axis=(1, 2))
    assert (spread_out > 2 * spread_in).all()
    if method == "global":
        # A global mapping never swaps two intensities.
        for image, result in zip(faces, out, strict=True):
            order = np.argsort(image, axis=None, kind="stable")
            assert (np.diff(result.ravel()[order]) >= -1e-4).all()


@pytest.mark.parametrize("method", ["global", "clahe"])
def test_keeps_the_input_shape(faces, method):
    eq = HistogramEqualizer(method)
    as_images = eq.fit_transform(faces)
    flat = eq.fit_transform(faces.reshape(len(faces), -1))
    channel = eq.fit_transform(faces[..., None])
    assert flat.shape == (len(faces), 2304) and channel.shape == (*faces.shape, 1)
    np.testing.assert_allclose(flat.reshape(faces.shape), as_images)
    np.testing.assert_allclose(channel[..., 0], as_images)


def test_units_follow_max_value(faces):
    eq8 = HistogramEqualizer().fit_transform(faces)
    unit = HistogramEqualizer(max_value=1.0).fit_transform(faces / 255)
    assert unit.max() <= 1.0
    # Non-integer input is binned over its own range: close to, not equal to, 8-bit bins.
    assert np.abs(unit * 255 - eq8).mean() < 4


def test_constant_images_unchanged():
    X = np.stack([np.full((48, 48), 0.0), np.full((48, 48), 77.0)])
    for method in ("global", "clahe"):
        np.testing.assert_array_equal(HistogramEqualizer(method).fit_transform(X), X)


def test_bad_input_is_named(faces):
    eq = HistogramEqualizer().fit(faces)
    with pytest.raises(ValueError, match=r"\[0, 255\].*300"):
        eq.transform(np.full((1, 48, 48), 300.0))
    with pytest.raises(ValueError, match=r"2304 features.*100"):
        eq.transform(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="method"):
        HistogramEqualizer("local").fit(faces)


def test_in_a_pipeline_before_the_classifier(sample3, tiny_params):
    from ferkit import FacialExpressionClassifier

    pipe = Pipeline([
        ("reshape", ImageReshaper()),
        ("equalize", HistogramEqualizer()),
        ("scale", PixelScaler()),
        ("clf", FacialExpressionClassifier(**tiny_params)),
    ])
    pipe.fit(sample3.data, sample3.target)
    proba = pipe.predict_proba(sample3.data[:10])
    assert proba.shape == (10, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert set(pipe.predict(sample3.data[:10])) <= set(sample3.target_names)
    # What the classifier sees is the equalised face, scaled to 0-1.
    seen = pipe[:-1].transform(sample3.data[:3])
    direct = exposure.equalize_hist(sample3.images[0].astype(np.uint8))
    np.testing.assert_allclose(seen[0, ..., 0], direct, atol=1e-5)
    # A search reaches the step's parameters.
    tuned = clone(pipe).set_params(equalize__method="clahe")
    assert tuned.get_params()["equalize__method"] == "clahe"
