"""Input validation shared by every ferkit estimator: one place, clear messages.

Each public call validates its input once. :func:`validate_pixels` and
:func:`validate_images` are ferkit's ``sklearn.utils.validation.validate_data`` for pixel
arrays: in ``fit`` they record ``n_features_in_`` (and ``image_shape_``), afterwards they check
the input against them. Inside :func:`already_validated`, pixel arrays that ferkit made
itself (the crops of a photo that was just checked) pass through every step of a pipeline
without being scanned again.

Nothing here imports TensorFlow, so the transformers and loaders stay light.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from numbers import Integral

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

# Set by already_validated(): a context variable, so threads and asyncio tasks that did not
# enter the context still validate.
_VALIDATED = contextvars.ContextVar("ferkit_pixels_validated", default=False)


@contextlib.contextmanager
def already_validated():
    """Skip the scans of pixel arrays that ferkit has just made from checked input.

    For ferkit's own callers only (``predict_image`` hands a photo's crops to the model in
    this context): the pixel values are not looked at again, only the shapes.
    """
    token = _VALIDATED.set(True)
    try:
        yield
    finally:
        _VALIDATED.reset(token)


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    """Position of the first True in ``mask`` as a tuple of ints."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _describe(position: tuple[int, ...]) -> str:
    """``(row, col, ...)`` as words a user can find in their data."""
    if len(position) == 1:
        return f"row {position[0]}"
    return f"row {position[0]}, position {position[1:] if len(position) > 2 else position[1]}"


def check_pixel_array(X, *, name: str = "X", raw: bool = False, max_value: float = 255.0):
    """Validate a batch of pixel rows or images and return it as a float array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples, height, width[, channels])
        Flat pixel rows or image tensors.
    name : str, default="X"
        Name of the argument, for error messages.
    raw : bool, default=False
        If True the values must be raw pixel intensities in ``[0, max_value]``.
    max_value : float, default=255.0
        Largest raw pixel value, used when ``raw`` is True.

    Returns
    -------
    ndarray
        ``X`` as a floating array of at least two dimensions, with at least one sample.

    Raises
    ------
    ValueError
        If ``X`` is empty, one-dimensional, more than four-dimensional, contains NaN or
        infinity, or (with ``raw``) holds values outside ``[0, max_value]``. The message names
        the shape or the first offending value and its position.
    """
    if _VALIDATED.get() and type(X) is np.ndarray and X.dtype in (np.float32, np.float64):
        return X
    X = _as_float_array(X, name)
    _check_values(X, name, raw=raw, max_value=max_value)
    return X


def _as_float_array(X, name: str) -> np.ndarray:
    """``X`` as a float32/float64 ndarray, refusing what is not numbers."""
    dtypes = getattr(X, "dtypes", None)  # a DataFrame's columns
    dtypes = [getattr(X, "dtype", None)] if dtypes is None else list(dtypes)
    dates = [d for d in dtypes if getattr(d, "kind", "") in ("M", "m")]
    if dates:
        # NumPy and pandas would cast dates and durations to numbers silently; not pixels.
        raise TypeError(
            f"{name} holds {dates[0]} values (dates or durations), not pixel intensities."
        )
    if not (type(X) is np.ndarray and X.dtype in (np.float32, np.float64)
            and 2 <= X.ndim <= 4 and X.size):
        # A non-empty float ndarray passes check_array unchanged; skipping it for those saves
        # a third of a single-face prediction's validation (benchmarks/bench_prediction.py).
        try:
            # ensure_all_finite=False: we look for NaN/inf ourselves to say *where* they are.
            X = check_array(
                X, allow_nd=True, dtype=[np.float32, np.float64], ensure_all_finite=False,
                input_name=name,
            )
        except ValueError as exc:
            if not str(exc).startswith("could not convert"):
                raise
            # NumPy's or pandas' own words ("could not convert string to float: 'a'"), from
            # deep inside them: say which argument and what was expected.
            raise ValueError(f"{name} must hold numbers (pixel intensities); {exc}.") from None
    return X


def _check_values(X: np.ndarray, name: str, *, raw: bool, max_value: float) -> None:
    """The scan of every pixel value: shape, finiteness and (``raw``) range."""
    if X.size == 0:
        # check_array counts samples, and features of 2-D input only: (n, 48, 0) got here.
        raise ValueError(f"{name} holds no pixel values: its shape is {X.shape}.")
    if X.ndim > 4:
        raise ValueError(
            f"{name} must be flat rows (n, pixels), images (n, height, width) or "
            f"(n, height, width, channels); got an array of shape {X.shape}."
        )
    # The sum is finite when every value is (NaN and inf propagate): one pass and no
    # temporary array the size of X; the element-wise search runs only to say where.
    if not np.isfinite(X.sum(dtype=np.float64)) and not (finite := np.isfinite(X)).all():
        where = _first_index(~finite)
        raise ValueError(
            f"{name} contains NaN or infinity (first at {_describe(where)}: "
            f"{float(X[where])}); "
            f"pixel values must be finite. Shape seen: {X.shape}."
        )
    if raw:
        negative = X < 0
        if negative.any():
            # scikit-learn's checks look for this wording ("Negative values in data passed to").
            where = _first_index(negative)
            raise ValueError(
                f"Negative values in data passed to {name}: found {X[where]:g} at "
                f"{_describe(where)} (shape {X.shape}); raw pixel values must lie in "
                f"[0, {max_value:g}]."
            )
        too_big = X > max_value
        if too_big.any():
            where = _first_index(too_big)
            raise ValueError(
                f"{name} should hold raw pixel values in [0, {max_value:g}], but found "
                f"{X[where]:g} at {_describe(where)} (shape {X.shape}). Scale raw pixels "
                "with PixelScaler only once, and check the data's units."
            )


def validate_pixels(estimator, X, *, reset: bool, raw: bool = False, max_value: float = 255.0,
                    name: str = "X") -> np.ndarray:
    """Check a pixel batch for ``estimator``: record its size in fit, compare it after.

    Parameters
    ----------
    estimator : estimator
        Gets ``n_features_in_`` (values per sample) when ``reset``; else must have it.
    X : array-like
        Flat pixel rows or images, as :func:`check_pixel_array` takes them.
    reset : bool
        True in ``fit``.
    raw, max_value, name
        As for :func:`check_pixel_array`.

    Returns
    -------
    ndarray
        ``X`` as a float array.
    """
    if not reset:
        check_is_fitted(estimator, "n_features_in_")
    X = check_pixel_array(X, name=name, raw=raw, max_value=max_value)
    n_features = math.prod(X.shape[1:])
    if reset:
        estimator.n_features_in_ = n_features
    elif n_features != estimator.n_features_in_:
        shape = getattr(estimator, "image_shape_", None)
        images = "" if shape is None else f" (images of shape {tuple(shape)})"
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input{images}; X's shape is {X.shape}."
        )
    return X


def validate_images(estimator, X, *, reset: bool, image_shape="auto", raw: bool = False,
                    max_value: float = 255.0) -> np.ndarray:
    """:func:`validate_pixels`, and the image shape: resolved in fit, compared after.

    With ``reset``, ``estimator.image_shape_`` is set from ``image_shape`` (see
    :func:`resolve_image_shape`). Otherwise image input (3-D or 4-D) must have the fitted
    height and width, not only the same number of pixels.
    """
    X = validate_pixels(estimator, X, reset=reset, raw=raw, max_value=max_value)
    if reset:
        estimator.image_shape_ = resolve_image_shape(image_shape, X.shape)
    elif X.ndim >= 3 and X.shape[1:3] != tuple(estimator.image_shape_[:2]):
        raise ValueError(
            f"X holds images of shape {X.shape[1:3]}, but {type(estimator).__name__} was "
            f"fitted on images of shape {tuple(estimator.image_shape_[:2])}."
        )
    return X


def resolve_image_shape(image_shape, X_shape: tuple[int, ...], *, name: str = "X"):
    """Decide the (height, width, channels) of the images held in an array of ``X_shape``.

    Parameters
    ----------
    image_shape : "auto" or tuple of int
        ``(height, width)`` or ``(height, width, channels)``; one entry may be -1 and is then
        inferred from the pixel count, as with :func:`numpy.reshape`. ``"auto"`` keeps the
        image dimensions of 3-D/4-D input and reads a flat row of ``d`` pixels as a square
        ``sqrt(d) x sqrt(d)`` image when ``d`` is a perfect square (2304 -> 48x48), else as a
        ``1 x d`` strip.
    X_shape : tuple of int
        Shape of the (validated) input array.
    name : str, default="X"
        Name of the argument, for error messages.

    Returns
    -------
    tuple of int
        ``(height, width, channels)``.
    """
    per_sample = tuple(int(s) for s in X_shape[1:])
    n_values = math.prod(per_sample)
    if isinstance(image_shape, str):
        if image_shape != "auto":
            raise ValueError(f"image_shape must be 'auto' or a tuple of ints; got {image_shape!r}.")
        if len(per_sample) == 3:
            return per_sample
        if len(per_sample) == 2:
            return (*per_sample, 1)
        side = math.isqrt(n_values)
        return (side, side, 1) if side * side == n_values else (1, n_values, 1)

    try:
        shape = tuple(int(s) for s in image_shape)
        valid = all(isinstance(s, Integral | np.integer) for s in image_shape)
    except TypeError:
        valid = False
    if not valid or len(shape) not in (2, 3) or any(s == 0 or s < -1 for s in shape):
        raise ValueError(
            "image_shape must be 'auto', (height, width) or (height, width, channels) with "
            f"positive ints (one may be -1); got {image_shape!r}."
        )
    if len(shape) == 2:
        shape = (*shape, 1)
    if shape.count(-1) > 1:
        raise ValueError(f"image_shape may contain -1 at most once; got {image_shape!r}.")
    if -1 in shape:
        known = -math.prod(shape)
        if n_values % known:
            raise ValueError(
                f"{name} has {n_values} values per sample (shape {X_shape}), which cannot be "
                f"arranged as image_shape {image_shape!r}."
            )
        shape = tuple(n_values // known if s == -1 else s for s in shape)
    if math.prod(shape) != n_values:
        raise ValueError(
            f"{name} has {n_values} values per sample (shape {X_shape}), but image_shape "
            f"{tuple(image_shape)} needs {math.prod(shape)}. FER2013 rows have 2304 pixels "
            "(48x48)."
        )
    return shape


def as_images(X: np.ndarray, image_shape: tuple[int, int, int], *, dtype=np.float32,
              name: str = "X"):
    """Reshape a validated batch to ``(n_samples, height, width, channels)``."""
    if X.dtype == dtype and X.shape[1:] == tuple(image_shape):
        return X  # already a batch of these images: nothing to convert or check
    with np.errstate(over="ignore"):
        images = np.asarray(X, dtype=dtype)
    if images.dtype.itemsize < X.dtype.itemsize and not np.isfinite(images).all():
        # X was checked finite: what is infinite now was too large for the narrower type.
        where = _first_index(~np.isfinite(images))
        raise ValueError(
            f"{name} contains {float(X[where]):g} at {_describe(where)}, beyond the range of "
            f"{np.dtype(dtype).name} (about +-{float(np.finfo(dtype).max):.1e}) that the "
            "network computes in; pixel values should be scaled (e.g. to 0-1)."
        )
    return images.reshape((X.shape[0], *image_shape))


def check_soft_targets(soft_targets, n_samples: int, classes) -> np.ndarray:
    """``soft_targets`` as a float32 array of shape (n_samples, n_classes), rows summing to 1.

    The targets a network learns from instead of one-hot labels (distillation: a teacher's
    ``predict_proba``); columns follow ``classes``. A row that is not a probability
    distribution is named, as a wrong column count or row count is.
    """
    soft = check_array(soft_targets, dtype=np.float64, ensure_all_finite=True,
                       input_name="soft_targets")
    n_classes = len(classes)
    if soft.shape != (n_samples, n_classes):
        raise ValueError(
            f"soft_targets must have one row per face and one column per class of y "
            f"({n_samples} x {n_classes}, columns in the order {list(classes)}); got shape "
            f"{soft.shape}."
        )
    negative = soft < 0
    if negative.any():
        raise ValueError(f"soft_targets has a negative value at {_describe(_first_index(negative))}"
                         "; rows must be probabilities.")
    off = ~np.isclose(soft.sum(axis=1), 1.0, atol=1e-3)
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"soft_targets row {row} sums to {soft[row].sum():.4g}; each row must "
                         "sum to 1 (probabilities, as predict_proba gives).")
    return soft.astype(np.float32)
