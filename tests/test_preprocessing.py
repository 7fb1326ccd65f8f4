"""ImageReshaper and PixelScaler: behaviour beyond scikit-learn's common checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from ferkit.preprocessing import ImageReshaper, PixelScaler


def test_reshaper_round_trip(rng):
    X = rng.integers(0, 256, size=(6, 2304)).astype(np.uint8)
    reshaper = ImageReshaper().fit(X)
    images = reshaper.transform(X)
    assert images.shape == (6, 48, 48, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(images[2, :, :, 0], X[2].reshape(48, 48))
    np.testing.assert_array_equal(reshaper.inverse_transform(images), X)


def test_reshaper_flatten_and_feature_names(rng):
    images = rng.random((3, 48, 48))
    reshaper = ImageReshaper(flatten=True).fit(images)
    flat = reshaper.transform(images)
    assert flat.shape == (3, 2304)
    names = reshaper.get_feature_names_out()
    assert names[0] == "pixel0" and names[-1] == "pixel2303"
    with pytest.raises(AttributeError, match="only defined with flatten=True"):
        ImageReshaper().fit(images).get_feature_names_out()


def test_reshaper_infers_minus_one_and_channels(rng):
    X = rng.random((2, 96))
    assert ImageReshaper(image_shape=(8, -1)).fit_transform(X).shape == (2, 8, 12, 1)
    assert ImageReshaper(image_shape=(4, 8, 3)).fit_transform(X).shape == (2, 4, 8, 3)


def test_reshaper_errors_name_the_shapes(rng):
    with pytest.raises(ValueError, match=r"2300 values per sample .* needs 2304"):
        ImageReshaper().fit(rng.random((2, 2300)))
    reshaper = ImageReshaper().fit(rng.random((2, 2304)))
    with pytest.raises(ValueError, match="X has 100 features, but ImageReshaper is expecting 2304"):
        reshaper.transform(rng.random((2, 100)))
    with pytest.raises(ValueError, match="image_shape must be"):
        ImageReshaper(image_shape=(0, 5)).fit(rng.random((2, 10)))


def test_scaler_unit():
    X = np.array([[0, 51, 255]], dtype=np.uint8)
    np.testing.assert_allclose(PixelScaler().fit_transform(X), [[0.0, 0.2, 1.0]])


def test_scaler_image_standardises_each_image(rng):
    X = rng.integers(0, 256, size=(4, 48, 48, 1))
    out = PixelScaler(method="image").fit_transform(X)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-3)
    # constant images do not divide by zero
    assert np.isfinite(PixelScaler(method="image").fit_transform(np.full((1, 4), 7))).all()


def test_scaler_dataset_learns_in_fit(rng):
    X = rng.integers(0, 256, size=(50, 2304))
    scaler = PixelScaler(method="dataset").fit(X)
    assert scaler.mean_ == pytest.approx((X / 255).mean())
    out = scaler.transform(X)
    assert abs(out.mean()) < 1e-4 and out.std() == pytest.approx(1, abs=1e-3)
    # the statistics come from fit, not from the data transformed later
    np.testing.assert_allclose(scaler.transform(X[:1]), out[:1], rtol=1e-6)


def test_scaler_rejects_out_of_range_with_position():
    X = np.zeros((3, 4))
    X[2, 1] = 256
    with pytest.raises(ValueError, match=r"found 256 at row 2, position 1"):
        PixelScaler().fit(X)


def test_steps_compose_in_a_pipeline(rng):
    X = rng.integers(0, 256, size=(5, 2304)).astype(np.uint8)
    out = make_pipeline(ImageReshaper(), PixelScaler()).fit_transform(X)
    assert out.shape == (5, 48, 48, 1)
    assert out.max() <= 1.0
