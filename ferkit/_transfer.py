"""Fine-tuning: a new network for the user's classes that starts from a trained one.

``FacialExpressionClassifier(weights="fer2013-7")`` (the ``keras.applications`` convention:
``weights=None`` trains from scratch) builds the shipped network's architecture, copies its
convolution and dense layers' weights, adds a new softmax layer for the user's classes and
keeps the first convolution blocks frozen. A soft vote of several networks (the shipped
``"fer2013-7"`` is three) becomes one network with a branch per voter, joined by the new
softmax layer on their concatenated features: fine-tuning starts from all that the vote
knows, as ``FaceEmbedder`` reads all of it, and predicting costs what the vote costs. The
weights decide the network's shape: the architecture parameters are taken from them, and one
set to something else is an error rather than silently ignored.

The new output layer does not start at random: :func:`fit_head` first fits it, as a
multinomial logistic regression on the trained layers' features of the training faces
("linear probing, then fine-tuning", Kumar et al., ICLR 2022). A random head sends large,
meaningless gradients into the trained layers in the first epochs and undoes part of what
they knew; starting from the probe, fine-tuning begins where ``FaceEmbedder`` +
``LogisticRegression`` ends.
"""

from __future__ import annotations

import inspect
import os

#: The parameters that fix a network's shape, and so must agree with the weights.
ARCHITECTURE = ("filters", "kernel_size", "convs_per_block", "dense_units", "batch_norm")


def source_networks(weights) -> list:
    """The trained :class:`FacialExpressionClassifier` (s) that ``weights`` names.

    A shipped model's name or a folder saved with :func:`ferkit.save`; for a soft vote of
    several networks (the shipped ``"fer2013-7"``), each of them.
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
    networks = list(model.estimators_) if isinstance(model, VotingClassifier) else [model]
    for network in networks:
        # What a fitted ferkit network has (checked by attributes: this module is imported by
        # the classifier's, not the other way round).
        if not all(hasattr(network, name) for name in ("model_", "image_shape_", *ARCHITECTURE)):
            raise ValueError(
                f"weights {weights!r} holds a {type(network).__name__}, not a ferkit network "
                "to start from."
            )
        if _shape(network) != _shape(networks[0]):
            raise ValueError(
                f"weights {weights!r} is a vote of networks of different shapes "
                f"({_shape(networks[0])} and {_shape(network)}); ferkit fine-tunes a vote "
                "whose networks share one architecture."
            )
    return networks


def _shape(network) -> dict:
    return {name: _plain(getattr(network, name)) for name in (*ARCHITECTURE, "image_shape_")}


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


def start_from(network, sources, *, frozen_blocks, weights) -> None:
    """Copy the ``sources``' trained layers into ``network`` and freeze its first blocks.

    Every convolution, batch-normalisation and dense layer but the output one takes its
    source's weights (the layers have the same names, prefixed ``netK_`` for the K-th of
    several sources: all come from ``build_cnn``). With ``frozen_blocks`` (an int, or
    ``"all"``) the layers of the first convolution blocks are not trained; frozen batch
    normalisation keeps the source's statistics.
    """
    import keras

    source = sources[0]
    expected = tuple(source.image_shape_)
    if tuple(network.input_shape[1:]) != expected:
        raise ValueError(
            f"the network of weights={weights!r} takes images of shape {expected}, but X "
            f"holds images of shape {tuple(network.input_shape[1:])}: crop and resize the "
            "faces to its size (FaceCropper), and reshape with ImageReshaper."
        )
    trained = (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Dense)
    n_blocks = len(source.filters)
    frozen = n_blocks if frozen_blocks == "all" else min(int(frozen_blocks), n_blocks)
    for layer in network.layers:
        branch, name = _branch(layer.name, len(sources))
        if isinstance(layer, trained) and name != "emotion":
            layer.set_weights(sources[branch].model_.get_layer(name).get_weights())
        block = name.partition("_")[0]
        if block.startswith("block") and int(block[5:]) <= frozen:
            layer.trainable = False


def _branch(layer_name: str, n_branches: int) -> tuple[int, str]:
    """``(index of the source, name in that source)`` of a layer built by ``build_cnn``."""
    prefix, _, rest = layer_name.partition("_")
    if n_branches > 1 and prefix.startswith("net") and prefix[3:].isdigit():
        return int(prefix[3:]) - 1, rest
    return 0, layer_name


#: Inverse regularisation strengths the head's logistic regression chooses from, by
#: cross-validation on the training faces (the features are unscaled ReLU activations).
HEAD_CS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)


def fit_head(network, X, y, sample_weight=None, *, batch_size: int, random_state=None) -> None:
    """Set ``network``'s output layer to a logistic regression on its features of ``X``.

    Parameters
    ----------
    network : keras.Model
        A ferkit network whose last layer, ``"emotion"``, is a softmax ``Dense`` layer.
    X : ndarray
        Training images, as the network takes them.
    y : ndarray of shape (n_samples, n_classes)
        One-hot targets.
    sample_weight : ndarray or None
        Weights per face.
    batch_size : int
        Faces per forward pass.
    random_state : int or None
        Seeds the cross-validation folds.
    """
    import keras
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ferkit import _inference

    head = network.get_layer("emotion")
    labels = np.argmax(y, axis=1)
    present, counts = np.unique(labels, return_counts=True)
    # The probe needs every output class, and a few faces of each to cross-validate on;
    # otherwise the head keeps its random start.
    if len(present) != y.shape[1] or counts.min() < 2:
        return
    # forward() answers in float32 whatever the network computes in: bfloat16 features (Keras'
    # mixed_bfloat16 policy) pass LogisticRegression.fit but fail its scoring (every C NaN).
    features = _inference.forward(keras.Model(network.inputs, head.input), X,
                                  batch_size=batch_size)
    folds = StratifiedKFold(n_splits=int(min(5, counts.min())), shuffle=True,
                            random_state=random_state)
    # Chosen by log-loss, which is what the network goes on to minimise.
    search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(HEAD_CS)},
                          scoring="neg_log_loss", cv=folds)
    probe = search.fit(features, labels, sample_weight=sample_weight).best_estimator_
    coef, intercept = probe.coef_, probe.intercept_
    if y.shape[1] == 2:
        # scikit-learn fits one logit for two classes; softmax over (0, z) is the same model.
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    head.set_weights([coef.T.astype("float32"), intercept.astype("float32")])
