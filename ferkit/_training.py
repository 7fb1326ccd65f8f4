"""Training set-up for a ferkit network: checks of the network parameters, the compiled
optimizer and loss, the validation split, and the callbacks that depend on it.

Plain functions of the estimator's parameters, kept apart from the estimator so each piece
of the recipe can be read and tested on its own. Importing this module imports Keras.
"""

from __future__ import annotations

import math
from numbers import Integral

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from ferkit._network import resolve_augmentation

#: The most units or filters a layer may have, and the most layers of a kind: far beyond a
#: network that fits in memory, so that 10**20 fails here and not deep inside Keras.
MAX_LAYER_SIZE, MAX_LAYERS = 2**16, 64


def _check_layer_sizes(value, name: str) -> None:
    """``filters`` / ``dense_units``: a sequence of positive ints (Keras would otherwise
    truncate 4.5 to 4 silently, or fail deep inside a layer's constructor)."""
    sizes = [value] if isinstance(value, str) else list(value)
    bad = [v for v in sizes if isinstance(v, bool) or not isinstance(v, Integral | np.integer)
           or not 1 <= v <= MAX_LAYER_SIZE]
    if bad or len(sizes) > MAX_LAYERS:
        raise ValueError(
            f"{name} must be a sequence of at most {MAX_LAYERS} ints from 1 to "
            f"{MAX_LAYER_SIZE} (one per layer); got {value!r}."
        )


def _optimizer(name: str, learning_rate: float, options: dict | None = None):
    config = {**(options or {}), "learning_rate": learning_rate}
    return keras.optimizers.get({"class_name": name, "config": config})


def optimizer_options(params: dict) -> dict:
    """The optimizer's own options among the estimator's parameters: scikeras' routed
    ``optimizer__momentum=0.9``, ``optimizer__nesterov=True``, ``optimizer__weight_decay=1e-4``
    (the published FER2013 recipes' SGD), passed to the Keras optimizer's constructor."""
    return {key.removeprefix("optimizer__"): value for key, value in params.items()
            if key.startswith("optimizer__")}


#: The ``learning_rate="auto"`` rates: Adam's usual rate from scratch, a hundredth of it to
#: fine-tune trained weights whose new output layer starts from a linear probe
#: (``_transfer.fit_head``). Measured on the sample (benchmarks/bench_small_data.py, seven
#: emotions, fer2013-7's three networks): the probe alone 67.6%; 30 epochs on from it at
#: 1e-4 (with early stopping) 66.7%, at 3e-5 67.0%, at 1e-5 67.5%: on a few hundred faces a
#: larger step forgets more than it learns.
AUTO_LEARNING_RATE = {"scratch": 1e-3, "fine-tuning": 1e-5}


def resolve_learning_rate(learning_rate, *, fine_tuning: bool) -> float:
    """``learning_rate`` as a number (``"auto"`` depends on whether weights are given)."""
    if learning_rate == "auto":
        return AUTO_LEARNING_RATE["fine-tuning" if fine_tuning else "scratch"]
    return float(learning_rate)


def check_network_params(params: dict) -> None:
    """What ``_parameter_constraints`` cannot say: layer sizes, augmentation, optimizer.

    Run before any data is touched, so a typo fails at once rather than after validation.
    """
    _check_layer_sizes(params["filters"], "filters")
    _check_layer_sizes(params["dense_units"], "dense_units")
    resolve_augmentation(params["augment"])
    learning_rate = resolve_learning_rate(params["learning_rate"],
                                          fine_tuning=params.get("weights") is not None)
    try:
        _optimizer(params["optimizer"], learning_rate)
    except (ValueError, TypeError):
        raise ValueError(
            f"optimizer must name a Keras optimizer ('adam', 'adamw', 'sgd', 'rmsprop'...); "
            f"got {params['optimizer']!r}."
        ) from None
    options = optimizer_options(params)
    try:
        _optimizer(params["optimizer"], learning_rate, options)
    except (ValueError, TypeError) as exc:
        given = ", ".join(f"optimizer__{k}={v!r}" for k, v in options.items())
        raise ValueError(
            f"{given}: not options Keras' {params['optimizer']!r} optimizer takes ({exc})."
        ) from None


def compile_network(model, *, optimizer: str, learning_rate: float, label_smoothing: float,
                    optimizer_options: dict | None = None):
    """Compile ``model`` for one-hot targets; returns it."""
    model.compile(
        optimizer=_optimizer(optimizer, learning_rate, optimizer_options),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
    )
    return model


def training_callbacks(*, monitor: str, epochs: int, learning_rate: float, lr_schedule,
                       early_stopping_patience) -> list:
    """Early stopping and the learning-rate schedule, watching ``monitor``; training stops
    at the first batch whose loss is NaN or infinite (see :func:`divergence`)."""
    # First, so that no later callback acts on (or restores weights from) a diverged batch.
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if early_stopping_patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=early_stopping_patience, restore_best_weights=True,
            )
        )
    if lr_schedule == "plateau":
        patience = max(1, (early_stopping_patience or 6) // 2)
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=0.5, patience=patience, min_lr=1e-6
            )
        )
    elif lr_schedule == "cosine":
        # Stepped once per epoch (not per batch) so that the rate depends on the epoch alone:
        # a run resumed from a checkpoint, or continued with warm_start, picks it up exactly.
        cosine = keras.optimizers.schedules.CosineDecay(float(learning_rate), decay_steps=epochs)
        callbacks.append(
            keras.callbacks.LearningRateScheduler(lambda epoch: float(cosine(epoch)))
        )
    return callbacks


def divergence(history: dict, model, *, optimizer: str, learning_rate: float) -> str | None:
    """What went wrong if training diverged (a non-finite loss or weight), else None.

    The message says where it happened and what to change. A network in that state predicts
    NaN for every face, so it must never be used or saved.
    """
    losses = history.get("loss", [])
    epoch = next((i for i, value in enumerate(losses) if not math.isfinite(value)), None)
    if epoch is not None:
        what = f"the training loss became {losses[epoch]} in epoch {epoch + 1}"
    elif not all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights):
        what = "the network's weights became NaN or infinite"
    else:
        return None
    return (
        f"Training diverged: {what}, so training was stopped and the classifier is left "
        f"unfitted. Lower learning_rate (it is {learning_rate:g}, with optimizer "
        f"{optimizer!r}; try {learning_rate / 10:g}) and check that the inputs are scaled "
        "(pixels divided by 255, as PixelScaler does)."
    )


def split_validation(X, y, sample_weight, *, fraction: float, random_state, soft_targets=None):
    """Hold out ``fraction`` of one-hot encoded data, stratified by class when possible.

    With ``soft_targets`` (rows aligned with ``y``), the training part's targets are their
    rows while the held-out part keeps the labels' one-hot rows: validation measures
    agreement with the labels, not with a teacher.

    Returns
    -------
    X_train, y_train, sample_weight_train, validation_data
        ``validation_data`` is ``(X_val, y_val[, sample_weight_val])``, or None when the
        data is too small to hold anything out.
    """
    n = X.shape[0]
    n_val = math.ceil(n * fraction)
    if n_val < 1 or n - n_val < 1:
        return X, y if soft_targets is None else soft_targets, sample_weight, None
    labels = np.argmax(y, axis=1)
    optional = [a for a in (sample_weight, soft_targets) if a is not None]
    try:
        parts = train_test_split(X, y, *optional, test_size=n_val, random_state=random_state,
                                 stratify=labels)
    except ValueError:
        # Too few samples of some class to stratify (tiny data sets): a plain shuffle.
        parts = train_test_split(X, y, *optional, test_size=n_val, random_state=random_state)
    X_train, X_val, y_train, y_val = parts[:4]
    if soft_targets is not None:
        y_train = parts[-2]
    if sample_weight is None:
        return X_train, y_train, None, (X_val, y_val)
    sw_train, sw_val = parts[4:6]
    return X_train, y_train, sw_train, (X_val, y_val, sw_val)
