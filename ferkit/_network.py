"""Keras network builders: the CNN behind :class:`FacialExpressionClassifier`.

Plain functions from hyper-parameters to an uncompiled ``keras.Model``, so they can be read,
tested and reused without the scikit-learn wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Strength of each augmentation when ``augment=True``. Chosen small: FER2013 faces are
#: aligned crops, so large rotations or shifts move the face out of the frame.
DEFAULT_AUGMENTATION: dict[str, float] = {
    "flip": 1.0,  # horizontal flip on/off (a face's expression is left-right symmetric)
    "rotation": 0.03,  # fraction of a full turn: about +-11 degrees
    "zoom": 0.1,
    "shift": 0.1,
    "contrast": 0.2,
}


#: Augmentations that ``augment=True`` leaves out, each available by key in an ``augment``
#: dict: ``"erasing"`` is Keras' ``RandomErasing`` (its ``factor``: a face is erased with a
#: probability drawn up to it; the patch is filled with 0, black for pixels scaled to 0-1
#: and the mean for standardised ones). Not a default until measured on PublicTest (issue
#: #20's recipe runs, benchmarks/accuracy.py).
EXTRA_AUGMENTATION: tuple[str, ...] = ("erasing",)


#: Keras' default (0.99) lets the moving statistics lag ~100 steps behind the weights: on
#: small data sets (the embedded sample: ~10 steps an epoch) validation accuracy then sits at
#: chance for ~20 epochs while training accuracy climbs. 0.9 follows within ~10 steps.
_BN_MOMENTUM = 0.9


def resolve_augmentation(augment) -> dict[str, float]:
    """Turn the ``augment`` parameter into a dict of strengths (empty when off)."""
    if augment is None or augment is False:
        return {}
    if augment is True:
        return dict(DEFAULT_AUGMENTATION)
    if isinstance(augment, Mapping):
        known = {*DEFAULT_AUGMENTATION, *EXTRA_AUGMENTATION}
        unknown = set(augment) - known
        if unknown:
            raise ValueError(
                f"augment has unknown key(s) {sorted(unknown)}; known: {sorted(known)}."
            )
        out = {}
        for key, value in augment.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"augment[{key!r}] must be a number >= 0; got {value!r}.")
            if value:
                out[key] = float(value)
        if out.get("erasing", 0) > 1:
            raise ValueError(f"augment['erasing'] is a probability, at most 1; got "
                             f"{augment['erasing']!r}.")
        return out
    raise TypeError(f"augment must be a bool or a dict of strengths; got {augment!r}.")


def _augmentation_layers(strengths: Mapping[str, float], seed):
    import keras

    layers: list = []

    def layer_seed():
        return None if seed is None else seed + 101 * (len(layers) + 1)

    if strengths.get("flip"):
        layers.append(keras.layers.RandomFlip("horizontal", seed=layer_seed()))
    if strengths.get("rotation"):
        layers.append(keras.layers.RandomRotation(strengths["rotation"], seed=layer_seed()))
    if strengths.get("zoom"):
        layers.append(keras.layers.RandomZoom(strengths["zoom"], seed=layer_seed()))
    if strengths.get("shift"):
        s = strengths["shift"]
        layers.append(keras.layers.RandomTranslation(s, s, seed=layer_seed()))
    if strengths.get("contrast"):
        # Keras clips to value_range after the change; inputs may be standardised (negative),
        # so give a range wide enough to never clip real data.
        layers.append(
            keras.layers.RandomContrast(strengths["contrast"], value_range=(-1e4, 1e4),
                                        seed=layer_seed())
        )
    if strengths.get("erasing"):
        layers.append(
            keras.layers.RandomErasing(strengths["erasing"], fill_value=0.0,
                                       value_range=(-1e4, 1e4), seed=layer_seed())
        )
    return layers


def build_cnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    filters: Sequence[int] = (32, 64, 128),
    kernel_size: int = 3,
    convs_per_block: int = 1,
    dense_units: Sequence[int] = (256, 128),
    dropout: float = 0.3,
    batch_norm: bool = True,
    augment=False,
    seed: int | None = None,
    branches: int = 1,
):
    """Build the ferkit CNN: convolution blocks, fully connected layers, a softmax output.

    Each block is ``convs_per_block`` convolutions (3x3, same padding, each optionally
    batch-normalised, ReLU) followed by 2x2 max pooling. The default (three blocks of one
    convolution, two dense layers) is the original work's network.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)`` of one image.
    n_classes : int
        Number of output classes (softmax units).
    filters : sequence of int, default=(32, 64, 128)
        Filters of each convolution block; its length is the number of blocks.
    kernel_size : int, default=3
        Side of the square convolution kernels.
    convs_per_block : int, default=1
        Convolutions per block before pooling (2 gives a VGG-style network).
    dense_units : sequence of int, default=(256, 128)
        Units of each fully connected hidden layer.
    dropout : float, default=0.3
        Dropout rate after each dense layer; a quarter of it is applied after each block.
    batch_norm : bool, default=True
        Add batch normalisation after every convolution and dense layer.
    augment : bool or dict, default=False
        Random training-time augmentation with Keras preprocessing layers (inactive at
        inference). True uses :data:`DEFAULT_AUGMENTATION`; a dict sets strengths per key.
    seed : int or None, default=None
        Seed for weight initialisers, dropout and augmentation layers.
    branches : int, default=1
        Number of such networks side by side, each from the (augmented) image to its last
        hidden layer, joined by one softmax layer on their concatenated features (layer
        ``"features"``); their layers' names start with ``net1_``, ``net2_``... This is how a
        vote of several networks is fine-tuned as one (``FacialExpressionClassifier(
        weights="fer2013-7")``). With 1, a plain ``keras.Sequential``.

    Returns
    -------
    keras.Model
        The uncompiled model.
    """
    import keras

    def seeds(offset):
        # A distinct, reproducible seed per layer (offset + its position); None keeps Keras'
        # global RNG. Positions are those of the one-branch Sequential, so its weights are
        # the same as before branches existed.
        return lambda position: None if seed is None else seed + offset + position

    body = {"filters": filters, "kernel_size": kernel_size, "convs_per_block": convs_per_block,
            "dense_units": dense_units, "dropout": dropout, "batch_norm": batch_norm}
    pixels = keras.Input(shape=tuple(int(s) for s in input_shape), name="pixels")
    front = _augmentation_layers(resolve_augmentation(augment), seeds(0)(1))
    bodies = [_body_layers(f"net{b + 1}_" if branches > 1 else "",
                           seeds(1 + len(front) + 10_000 * b), **body)
              for b in range(branches)]
    head = keras.layers.Dense(
        int(n_classes), activation="softmax", name="emotion",
        kernel_initializer=keras.initializers.GlorotUniform(
            seed=seeds(1 + len(front) + len(bodies[0]))(0)))
    if branches == 1:
        return keras.Sequential([pixels, *front, *bodies[0], head], name="ferkit_cnn")
    x = pixels
    for layer in front:
        x = layer(x)
    outputs = []
    for layers in bodies:
        y = x
        for layer in layers:
            y = layer(y)
        outputs.append(y)
    features = keras.layers.Concatenate(name="features")(outputs)
    return keras.Model(pixels, head(features), name="ferkit_cnn")


def _body_layers(prefix, seed_at, *, filters, kernel_size, convs_per_block, dense_units,
                 dropout, batch_norm) -> list:
    """The layers of one network from the image to its last hidden layer, names prefixed;
    ``seed_at(position)`` seeds the layer at that position of the list."""
    from keras import initializers, layers

    stack: list = []

    def next_seed():
        return seed_at(len(stack))

    def init():
        return initializers.GlorotUniform(seed=next_seed())

    for block, n_filters in enumerate(filters):
        name = f"{prefix}block{block + 1}"
        for conv in range(convs_per_block):
            stack.append(
                layers.Conv2D(
                    int(n_filters), kernel_size, padding="same", use_bias=not batch_norm,
                    kernel_initializer=init(), name=f"{name}_conv{conv + 1}",
                )
            )
            if batch_norm:
                stack.append(
                    layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{name}_bn{conv + 1}")
                )
            stack.append(layers.Activation("relu", name=f"{name}_relu{conv + 1}"))
        # padding="same" keeps odd or tiny inputs (e.g. 1 x d strips) from shrinking to zero.
        stack.append(layers.MaxPooling2D(2, padding="same", name=f"{name}_pool"))
        if dropout:
            stack.append(layers.Dropout(dropout / 4, seed=next_seed(), name=f"{name}_drop"))
    stack.append(layers.Flatten(name=f"{prefix}flatten"))
    for i, units in enumerate(dense_units):
        name = f"{prefix}dense{i + 1}"
        stack.append(
            layers.Dense(int(units), use_bias=not batch_norm, kernel_initializer=init(),
                         name=name)
        )
        if batch_norm:
            stack.append(layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{name}_bn"))
        stack.append(layers.Activation("relu", name=f"{name}_relu"))
        if dropout:
            stack.append(layers.Dropout(dropout, seed=next_seed(), name=f"{name}_drop"))
    return stack
