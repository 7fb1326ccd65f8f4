"""Fine-tuning: a new network for the user's classes that starts from a trained one.

``FacialExpressionClassifier(weights="fer2013-7")`` (the ``keras.applications`` convention:
``weights=None`` trains from scratch) builds the shipped network's architecture, copies its
convolution and dense layers' weights, adds a new softmax layer for the user's classes and
keeps the first convolution blocks frozen. The weights decide the network's shape: the
architecture parameters are taken from them, and one set to something else is an error
rather than silently ignored.
"""

from __future__ import annotations

import inspect
import os

#: The parameters that fix a network's shape, and so must agree with the weights.
ARCHITECTURE = ("filters", "kernel_size", "convs_per_block", "dense_units", "batch_norm")


def source_network(weights):
    """The trained :class:`FacialExpressionClassifier` that ``weights`` names.

    A shipped model's name or a folder saved with :func:`ferkit.save`; for a vote of several
    networks (the shipped ``"fer2013-7"``), its first network.
    """
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline

    from ferkit._pretrained import PRETRAINED, shared_pretrained

    if isinstance(weights, str) and weights in PRETRAINED:
        model = shared_pretrained(weights)
    elif isinstance(weights, str | os.PathLike) and os.path.isdir(weights):
        from ferkit.persistence import load

        model = load(weights)
    else:
        raise ValueError(
            f"weights must be None, the name of a shipped model ({sorted(PRETRAINED)}) or a "
            f"ferkit model folder; got {weights!r}."
        )
    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    if isinstance(model, VotingClassifier):
        model = model.estimators_[0]
    # What a fitted ferkit network has (checked by attributes: this module is imported by
    # the classifier's, not the other way round).
    if not all(hasattr(model, name) for name in ("model_", "image_shape_", *ARCHITECTURE)):
        raise ValueError(
            f"weights {weights!r} holds a {type(model).__name__}, not a ferkit network to "
            "start from."
        )
    return model


def architecture(clf, source) -> dict:
    """The shape parameters of ``clf``'s network: its own, or those of ``source``'s weights.

    Raises
    ------
    ValueError
        If ``clf`` sets a shape parameter away from its default to something the weights do
        not have.
    """
    own = {name: getattr(clf, name) for name in ARCHITECTURE}
    if source is None:
        return own
    defaults = inspect.signature(type(clf).__init__).parameters
    theirs = {name: getattr(source, name) for name in ARCHITECTURE}
    for name in ARCHITECTURE:
        mine, given = _plain(own[name]), _plain(theirs[name])
        if mine != _plain(defaults[name].default) and mine != given:
            raise ValueError(
                f"{name}={own[name]!r} disagrees with the network of weights={clf.weights!r}, "
                f"which has {name}={theirs[name]!r}: the weights decide the network's shape. "
                f"Leave {name} at its default."
            )
    return theirs


def _plain(value):
    return tuple(int(v) for v in value) if isinstance(value, list | tuple) else value


def start_from(network, source, *, frozen_blocks, weights) -> None:
    """Copy ``source``'s trained layers into ``network`` and freeze its first blocks.

    Every convolution, batch-normalisation and dense layer but the output one takes the
    source's weights (the layers have the same names: both come from ``build_cnn``). With
    ``frozen_blocks`` (an int, or ``"all"``) the layers of the first convolution blocks are
    not trained; frozen batch normalisation keeps the source's statistics.
    """
    import keras

    expected = tuple(source.image_shape_)
    if tuple(network.input_shape[1:]) != expected:
        raise ValueError(
            f"the network of weights={weights!r} takes images of shape {expected}, but X "
            f"holds images of shape {tuple(network.input_shape[1:])}: crop and resize the "
            "faces to its size (FaceCropper), and reshape with ImageReshaper."
        )
    trained = (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Dense)
    for layer in network.layers:
        if isinstance(layer, trained) and layer.name != "emotion":
            layer.set_weights(source.model_.get_layer(layer.name).get_weights())
    n_blocks = len(source.filters)
    frozen = n_blocks if frozen_blocks == "all" else min(int(frozen_blocks), n_blocks)
    for layer in network.layers:
        block = layer.name.partition("_")[0]
        if block.startswith("block") and int(block[5:]) <= frozen:
            layer.trainable = False
