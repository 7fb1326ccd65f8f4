"""FaceEmbedder: what a trained ferkit network sees in a face, as a scikit-learn transformer.

The shipped networks learnt faces from 28,000 examples; their last hidden layer describes a
face in a few hundred numbers that a linear model can read. A person with a few hundred
labelled faces of their own gets a classifier in seconds with
``make_pipeline(FaceEmbedder(), LogisticRegression())``, without training a network.
Importing this module is light; Keras is imported when a model is loaded or used.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ferkit._validation import as_images, validate_images


def _load_model(model):
    """The fitted model ``model`` names: a shipped model, a saved folder, or itself."""
    from ferkit._pretrained import PRETRAINED, shared_pretrained

    if isinstance(model, str) and model in PRETRAINED:
        return shared_pretrained(model)  # read-only: the embedder never trains it
    if isinstance(model, str | os.PathLike):
        from ferkit.persistence import load

        return load(model)
    return model


def _split_model(model):
    """``(preprocessing steps, [(name, FacialExpressionClassifier), ...])`` of a fitted
    ferkit classifier, soft vote of them, or pipeline ending in either."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline

    from ferkit._classifier import FacialExpressionClassifier

    steps = []
    # scikit-learn's FrozenEstimator: a fitted model that clone and fit leave as it is.
    model = getattr(model, "estimator", model) if type(model).__name__ == "FrozenEstimator" \
        else model
    while isinstance(model, Pipeline):
        steps += [step for _, step in model.steps[:-1] if step not in (None, "passthrough")]
        model = model.steps[-1][1]
    if isinstance(model, FacialExpressionClassifier):
        networks = [("network", model)]
    elif isinstance(model, VotingClassifier):
        names = [name for name, est in model.estimators if est != "drop"]
        networks = list(zip(names, model.estimators_, strict=True))
    else:
        networks = []
    if not networks or not all(isinstance(net, FacialExpressionClassifier)
                               for _, net in networks):
        raise TypeError(
            "FaceEmbedder needs a fitted ferkit model: a FacialExpressionClassifier, a "
            "VotingClassifier of them, or a Pipeline ending in one (for example "
            f"ferkit.load_pretrained('fer2013-7')); got {type(model).__name__}."
        )
    check_is_fitted(networks[0][1], "model_")
    return steps, networks


def _feature_layer(network, layer):
    """The Keras layer whose output ``layer`` names: by default the output layer's input."""
    layers = network.layers
    if layer is None:
        return layers[-2]
    if isinstance(layer, str):
        try:
            return network.get_layer(layer)
        except ValueError:
            raise ValueError(
                f"layer {layer!r} is not a layer of the network; it has "
                f"{[each.name for each in layers]}."
            ) from None
    if not -len(layers) <= layer < len(layers):
        raise ValueError(
            f"layer {layer} is out of range: the network has {len(layers)} layers."
        )
    return layers[layer]


class FaceEmbedder(TransformerMixin, BaseEstimator):
    """Face features from a trained ferkit network: a transformer that learns nothing.

    Each face goes through the model's own preprocessing (for the shipped models: reshape to
    48x48, scale to 0-1) and its network(s) up to ``layer``; the activations there are the
    features. A vote of several networks (the shipped ``"fer2013-7"``) gives the
    concatenation of its networks' features. With a network's ``test_time_flip`` the features
    of a face and of its mirror image are averaged, as its predictions are.

    Parameters
    ----------
    model : str, path-like or estimator, default="fer2013-7"
        The name of a shipped model (:func:`ferkit.load_pretrained`), a folder saved with
        :func:`ferkit.save`, or a fitted :class:`FacialExpressionClassifier`, soft vote of
        them or pipeline ending in one. It is never trained further.
    layer : int, str or None, default=None
        The layer whose output is the feature vector: None for the last hidden layer (the
        input of the softmax), a layer name (``"flatten"``, ``"dense1_relu"``...) or an
        index into the network's layers.
    batch_size : int, default=256
        Faces per forward pass.

    Attributes
    ----------
    model_ : estimator
        The fitted model the features come from.
    n_features_in_ : int
        Pixel values per face the model takes (2304 for 48x48 faces).
    n_features_out_ : int
        Features per face.

    See Also
    --------
    ferkit.FacialExpressionClassifier : Train (or fine-tune) a network instead.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from ferkit import FaceEmbedder
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample(emotions=("happy", "sad", "surprise"))
    >>> model = make_pipeline(FaceEmbedder("fer2013-7"), LogisticRegression(max_iter=500))
    >>> model.fit(faces.data[::2], faces.target[::2]).score(faces.data[1::2],
    ...                                                     faces.target[1::2]) > 0.6
    True
    """

    _parameter_constraints: dict = {
        "model": [str, os.PathLike, HasMethods(["predict_proba"])],
        "layer": [Integral, str, None],
        "batch_size": [Interval(Integral, 1, 2**24, closed="both")],
    }

    def __init__(self, model="fer2013-7", *, layer=None, batch_size=256):
        self.model = model
        self.layer = layer
        self.batch_size = batch_size

    def fit(self, X, y=None):
        """Load the model and check that ``X`` holds faces it takes; nothing is learnt.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, 1])
            Faces, as the model takes them (raw 0-255 pixels for the shipped models).
        y : None
            Ignored.

        Returns
        -------
        self : FaceEmbedder
        """
        self._validate_params()
        self._attach_model()
        # The data must be faces this model takes: checked, but not run through the networks
        # (fit_transform would otherwise compute every feature twice).
        for _ in self._network_inputs(X):
            pass
        return self

    def _attach_model(self):
        """Load ``model`` into ``model_`` and set the feature counts it gives; ``ferkit.load``
        restores a saved embedder through this too, so both agree on what a model implies."""
        self.model_ = _load_model(self.model)
        _, networks = _split_model(self.model_)
        self.n_features_in_ = getattr(self.model_, "n_features_in_",
                                      networks[0][1].n_features_in_)
        self.n_features_out_ = len(self.get_feature_names_out())

    def _layers(self):
        """``(network name, network, feature layer)`` of each network of the model."""
        steps, networks = _split_model(self.model_)
        return steps, [(name, net, _feature_layer(net.model_, self.layer))
                       for name, net in networks]

    def _network_inputs(self, X):
        """``(network, feature layer, images)`` for each network: ``X`` through the model's
        preprocessing steps, checked against what each network was fitted on."""
        steps, layers = self._layers()
        for step in steps:
            X = step.transform(X)
        for _, network, layer in layers:
            yield network, layer, as_images(validate_images(network, X, reset=False),
                                            network.image_shape_)

    def transform(self, X):
        """The features of each face.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, 1])
            Faces, as for :meth:`fit`.

        Returns
        -------
        ndarray of float32, shape (n_samples, ``n_features_out_``)
            One row of features per face.
        """
        from ferkit import _inference

        check_is_fitted(self, "model_")
        features = [
            _inference.predict_proba(
                _inference.sub_network(network.model_, layer), images,
                test_time_flip=network.test_time_flip, batch_size=self.batch_size,
            ).reshape(len(images), -1)
            for network, layer, images in self._network_inputs(X)
        ]
        return np.concatenate(features, axis=1)

    def get_feature_names_out(self, input_features=None):
        """``<network>_<layer>_<i>`` for each feature, e.g. ``seed0_dense1_drop_0``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored: the features are the network's, not the pixels'.

        Returns
        -------
        ndarray of str
            One name per output column.
        """
        check_is_fitted(self, "model_")
        names = []
        for name, _, layer in self._layers()[1]:
            width = int(np.prod(layer.output.shape[1:]))
            names += [f"{name}_{layer.name}_{i}" for i in range(width)]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = False
        return tags
