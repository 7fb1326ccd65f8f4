"""Inference: a trained network's class probabilities for prepared images, by the fastest path.

Kept apart from the estimator so that the classifier (and anything else holding a ferkit
network, such as a feature extractor) predicts through one tested function. Importing this
module imports Keras.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np

# Prediction skips ``Model.predict`` (which sets up a tf.data pipeline on every call, ~10x
# the cost of a small forward pass) and runs a compiled forward pass over chunks of this many
# images: small enough for the activations to stay in cache, which on CPUs is faster than
# ``Model.predict``'s batches of 256 (see benchmarks/bench_prediction.py).
PREDICT_CHUNK = 64

# keras.Model -> (sample shape, compiled forward pass). Weak keys: the entry goes with the
# model, and nothing unpicklable is stored on the estimator.
_FORWARD_PASSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_forward_pass(model, sample_shape: tuple[int, ...]):
    """``model(x, training=False)`` compiled once for float32 batches of any size.

    An eager call runs the network layer by layer from Python (~10 ms for one 48x48 face on
    two cores); ``predict_on_batch`` is compiled but converts and checks its argument's
    structure on every call and retraces when the batch size changes. A concrete function
    with a fixed input signature costs one trace (about as long as the first eager call) and
    then the graph alone: ``benchmarks/bench_prediction.py`` measures it.
    """
    import tensorflow as tf

    cached = _FORWARD_PASSES.get(model)
    if cached is not None and cached[0] == sample_shape:
        return cached[1]
    # A weak reference: the traced graph must not keep the model (the dict's key) alive.
    model_ref = weakref.ref(model)
    spec = tf.TensorSpec((None, *sample_shape), tf.float32)
    forward = tf.function(
        lambda x: model_ref()(x, training=False), input_signature=[spec], autograph=False
    ).get_concrete_function()
    _FORWARD_PASSES[model] = (sample_shape, forward)
    return forward


# (network, layer) -> the network cut at that layer. Weak keys, as above: one cached
# sub-network per layer, so its compiled forward pass is traced once, not on every call.
_SUB_NETWORKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sub_network(model, layer):
    """``model`` from its inputs up to ``layer``'s output, sharing its weights (cached)."""
    cached = _SUB_NETWORKS.setdefault(model, {})
    if layer.name not in cached:
        cached[layer.name] = keras.Model(model.inputs[0], layer.output)
    return cached[layer.name]


def forward(model, images: np.ndarray, *, batch_size: int = 256, **predict_kwargs):
    """The network's float32 output for a batch of prepared ``(n, height, width, channels)``
    images.

    Keyword arguments for ``keras.Model.predict`` (callbacks, verbosity...) take Keras' own
    path; without them, small batches run eagerly and float32 batches on TensorFlow through
    a compiled forward pass, ``PREDICT_CHUNK`` images at a time.
    """
    out = _forward(model, images, batch_size=batch_size, **predict_kwargs)
    # A network computing in bfloat16 (Keras' mixed_bfloat16 policy) answers in bfloat16,
    # which scikit-learn's metrics and estimators refuse: callers get float32 either way.
    return out.astype(np.float32, copy=False)


def _forward(model, images: np.ndarray, *, batch_size: int, **predict_kwargs):
    if not predict_kwargs and keras.backend.backend() == "tensorflow" \
            and images.dtype == np.float32:
        import tensorflow as tf

        compiled = _compiled_forward_pass(model, tuple(images.shape[1:]))
        # Handing the concrete function a tensor skips its own NumPy conversion and casting
        # checks (~5% of a single-face call).
        if images.shape[0] <= PREDICT_CHUNK:
            return compiled(tf.convert_to_tensor(images)).numpy()
        return np.concatenate([
            compiled(tf.convert_to_tensor(images[start:start + PREDICT_CHUNK])).numpy()
            for start in range(0, images.shape[0], PREDICT_CHUNK)
        ])
    if images.shape[0] <= PREDICT_CHUNK and not predict_kwargs:
        return keras.ops.convert_to_numpy(model(images, training=False))
    predict_kwargs.setdefault("batch_size", batch_size)
    predict_kwargs.setdefault("verbose", 0)
    return model.predict(images, **predict_kwargs)


def predict_proba(model, images: np.ndarray, *, test_time_flip: bool = False,
                  test_time_crops: float | None = None, batch_size: int = 256,
                  **predict_kwargs) -> np.ndarray:
    """Class probabilities, averaged over the test-time views of each face.

    The views are the face itself or, with ``test_time_crops``, its five crops (see
    :func:`five_crops`); with ``test_time_flip``, each view and its mirror image.
    """
    views = [images] if test_time_crops is None else five_crops(images, test_time_crops)
    if test_time_flip:
        # Axis 2 is the width of (n, height, width, channels) images.
        views += [np.ascontiguousarray(view[:, :, ::-1]) for view in views]
    total = forward(model, views[0], batch_size=batch_size, **predict_kwargs)
    for view in views[1:]:
        total = total + forward(model, view, batch_size=batch_size, **predict_kwargs)
    return total / len(views)


def five_crops(images: np.ndarray, fraction: float) -> list[np.ndarray]:
    """The four corner crops and the centre crop of each image, each resized to full size.

    Each crop's sides are ``fraction`` of the image's (at least one pixel), so a network
    trained on randomly zoomed and shifted faces sees them as it saw training faces: the
    test-time half of the published FER2013 recipes' random crops (their "ten-crop" with
    the mirror images).
    """
    height, width = images.shape[1:3]
    h, w = max(1, round(height * fraction)), max(1, round(width * fraction))
    corners = [(0, 0), (0, width - w), (height - h, 0), (height - h, width - w),
               ((height - h) // 2, (width - w) // 2)]
    return [
        keras.ops.convert_to_numpy(keras.ops.image.resize(
            images[:, top:top + h, left:left + w], (height, width), interpolation="bilinear",
        )).astype(images.dtype, copy=False)
        for top, left in corners
    ]
