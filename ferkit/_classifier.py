"""FacialExpressionClassifier: the ferkit CNN as a scikit-learn classifier, through scikeras.

All scikeras-specific code lives in this module (scikeras is no longer maintained; keeping it
here means the wrapper can be swapped without touching the rest of ferkit). The public class
keeps the parameters, ``fit`` and tags, its scikeras base ``predict*``; each other concern has
its own module: the network in ``_network``, target encoding in ``_target_encoder``,
training set-up (optimizer, callbacks, validation split) in ``_training``, batch mixing in
``_mixing``, prediction in ``_inference`` and input checks in ``_validation``. scikeras is
used through its documented extension points:
``_keras_build_fn`` builds and compiles the network, the ``target_encoder`` property supplies
ferkit's encoder, and ``fit``/``partial_fit`` keywords and the ``callbacks`` parameter go
through scikeras' routing.

Private scikeras methods that ferkit still overrides or calls, because scikeras offers no
public way:

- ``_validate_data`` (fit and score): scikeras counts ``n_features_in_`` as ``X.shape[1]``
  (48 for a batch of 48x48 images) and cannot read flat rows as images.
- ``_fit_keras_model``: the only point between target encoding and ``Model.fit``, where the
  stratified validation split and the callbacks that watch it can be added.
- ``_initialize_callbacks`` and ``_random_state``, in :func:`_restore`: rebuilding a fitted
  classifier from files mirrors scikeras' ``_initialize`` without building a new network.
- ``_routing_prefixes`` gains ``"callbacks"``: scikeras builds callbacks from
  ``callbacks__`` parameters but leaves that prefix out of ``set_params``.

Importing this module imports TensorFlow: ``ferkit/__init__.py`` loads it lazily.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from numbers import Integral, Real

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions

from ferkit import _inference, _training, _transfer
from ferkit._compat import as_classifier_tags, preserve_op_determinism
from ferkit._mixing import MixedBatches
from ferkit._network import build_cnn
from ferkit._target_encoder import OneHotTargetEncoder, check_one_kind
from ferkit._validation import as_images, check_soft_targets, validate_images

# Upper bounds keep absurd values (10**20 convolutions per block, a batch of 10**20) from
# reaching Keras, where they hang, exhaust memory or overflow a C long: each bound is far
# beyond any network that fits in memory.
_PARAMETER_CONSTRAINTS: dict = {
    "filters": ["array-like"],
    "kernel_size": [Interval(Integral, 1, 255, closed="both")],
    "convs_per_block": [Interval(Integral, 1, 64, closed="both")],
    "dense_units": ["array-like"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "augment": ["boolean", dict],
    "test_time_flip": ["boolean"],
    "test_time_crops": [Interval(Real, 0, 1, closed="neither"), None],
    "image_shape": [StrOptions({"auto"}), tuple, list],
    "optimizer": [str],
    "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "lr_schedule": [StrOptions({"plateau", "cosine"}), None],
    "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    "mixup": [Interval(Real, 0, 1, closed="both")],
    "cutmix": [Interval(Real, 0, 1, closed="both")],
    "epochs": [Interval(Integral, 1, 10**6, closed="both")],
    "batch_size": [Interval(Integral, 1, 2**24, closed="both")],
    "validation_split": [Interval(Real, 0, 1, closed="left")],
    "early_stopping_patience": [Interval(Integral, 1, 10**6, closed="both"), None],
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "callbacks": [list, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "weights": [str, os.PathLike, None],
    "frozen_blocks": [Interval(Integral, 0, None, closed="left"), StrOptions({"all"})],
}


class _ScikerasClassifier(KerasClassifier):
    """scikeras' ``KerasClassifier`` fitted to ferkit's networks.

    Image batches in (flat rows or images, checked once by ferkit), one-hot targets, the
    validation split and training callbacks around ``Model.fit``, and the fitted state that
    ``ferkit.save`` writes. Subclasses add the parameters and ``_keras_build_fn``.
    """

    # scikeras reads these; ferkit builds and compiles its own network, so they are fixed
    # class attributes rather than parameters.
    # scikeras routes "fit__", "predict__", "optimizer__"... parameters to Keras; "callbacks__"
    # ones build the ``callbacks`` given as classes. They are parameters like the others
    # (get_params, set_params, clone), so __init__ takes them too.
    _routing_prefixes = KerasClassifier._routing_prefixes | {"callbacks"}

    model = None
    build_fn = None
    loss = None
    metrics = None
    run_eagerly = False
    shuffle = True
    validation_batch_size = None

    @property
    def target_encoder(self):
        # scikeras resets classes_ to None in fit(); partial_fit may pass the full class list.
        return OneHotTargetEncoder(classes=getattr(self, "classes_", None))

    def fit(self, X, y, sample_weight=None, **kwargs):
        # scikeras' fit sets classes_ to None, and with warm_start keeps the network (and its
        # target encoder) without setting it again.
        _check_soft_targets(self, X, y, kwargs, warm=self.warm_start)
        with _keeping_classes(self, warm=self.warm_start):
            return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        _check_soft_targets(self, X, y, kwargs, warm=True, classes=classes)
        with _keeping_classes(self, warm=True, classes=classes):
            return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight,
                                       **kwargs)

    @property
    def n_epochs_(self) -> int:
        """Number of epochs run in training."""
        if not hasattr(self, "history_"):
            raise NotFittedError("This FacialExpressionClassifier is not fitted yet.")
        return len(self.history_["loss"])

    def predict_proba(self, X, **kwargs):
        """Probability of each class for each face.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, 1])
            Faces, prepared as in :meth:`fit`.
        **kwargs : dict
            Passed to ``keras.Model.predict`` (disables the compiled fast path).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Softmax probabilities in float64, rows summing to 1; columns follow ``classes_``.
        """
        images = as_images(validate_images(self, X, reset=False), self.image_shape_)
        proba = _inference.predict_proba(
            self.model_, images, test_time_flip=self.test_time_flip,
            test_time_crops=self.test_time_crops,
            batch_size=max(self.batch_size, 256), **kwargs,
        )
        return self.target_encoder_.inverse_transform(proba, return_proba=True)

    def predict(self, X, **kwargs):
        """Predict the emotion of each face: the most probable class of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like
            Faces, as for :meth:`predict_proba`.
        **kwargs : dict
            As for :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``: the most probable class of each face.
        """
        proba = self.predict_proba(X, **kwargs)
        return self.target_encoder_.inverse_transform(proba)

    def _keras_build_fn(self, meta):
        if self._random_state is not None:
            # Keras 3 keeps a global seed generator that tf.random.set_seed does not reset.
            keras.utils.set_random_seed(self._random_state)
        sources = [] if self.weights is None else _transfer.source_networks(self.weights)
        network = build_cnn(
            meta["X_shape_"][1:], meta["n_classes_"],
            **_transfer.architecture(self, sources[0] if sources else None),
            dropout=self.dropout, augment=self.augment, seed=self._random_state,
            branches=max(1, len(sources)),
        )
        if sources:
            _transfer.start_from(network, sources, frozen_blocks=self.frozen_blocks,
                                 weights=self.weights)
        # The new output layer is fitted on the training faces before training starts
        # (_fit_keras_model): the build sees no data.
        self._head_to_fit = bool(sources)
        return _training.compile_network(
            network, optimizer=self.optimizer, learning_rate=self._learning_rate(),
            label_smoothing=self.label_smoothing,
            optimizer_options=_training.optimizer_options(self.get_params(deep=False)),
        )

    def _learning_rate(self) -> float:
        return _training.resolve_learning_rate(self.learning_rate,
                                               fine_tuning=self.weights is not None)

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        # Private scikeras hook (see the module docstring): ferkit's pixel checks first, then
        # scikeras' own bookkeeping (dtypes, target type) on the image batch.
        if not reset and not self.initialized_:
            # score() on an unfitted (or diverged, so unfitted) classifier: scikeras would
            # fail on a missing attribute of its own.
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet.")
        y = _as_1d_labels(y)
        if X is not None:
            X = validate_images(self, X, reset=reset, image_shape=self.image_shape)
            X = as_images(X, self.image_shape_)
        X, y = super()._validate_data(X=X, y=y, reset=reset, y_numeric=y_numeric)
        if reset and X is not None:
            self.n_features_in_ = math.prod(X.shape[1:])  # scikeras counts X.shape[1] only
        return X, y

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # Private scikeras hook (see the module docstring).
        X, y, sample_weight, kwargs["validation_data"] = _validation_data(
            self, X, y, sample_weight, kwargs.pop("validation_data", None),
            kwargs.pop("soft_targets", None),
        )
        kwargs["validation_split"] = 0.0  # Keras' own split takes the *last* rows, unshuffled.
        if self.__dict__.pop("_head_to_fit", False):
            _transfer.fit_head(self.model_, X, y, sample_weight, batch_size=self.batch_size,
                               random_state=self._random_state)
        if self.mixup or self.cutmix:
            # The batches are made (shuffled, mixed) by MixedBatches: Keras must neither
            # batch nor shuffle again.
            X = MixedBatches(X, y, sample_weight, batch_size=self.batch_size, mixup=self.mixup,
                             cutmix=self.cutmix, seed=self._random_state)
            y = sample_weight = None
            kwargs.update(batch_size=None, shuffle=False)
        # scikeras passes only self._fit_callbacks to Model.fit (it drops a "callbacks"
        # keyword), so the training callbacks join the user's for this call alone.
        user_callbacks = self._fit_callbacks
        self._fit_callbacks = user_callbacks + _training.training_callbacks(
            monitor="val_loss" if kwargs["validation_data"] is not None else "loss",
            epochs=epochs, learning_rate=self._learning_rate(), lr_schedule=self.lr_schedule,
            early_stopping_patience=self.early_stopping_patience,
        )
        try:
            super()._fit_keras_model(
                X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
            )
        finally:
            self._fit_callbacks = user_callbacks
        self.history_ = {key: [float(v) for v in values] for key, values in self.history_.items()}
        _refuse_divergence(self)

    def _check_params(self) -> None:
        self._validate_params()
        params = self.get_params(deep=False)
        unknown = [k for k in params if k not in self._parameter_constraints
                   and k.split("__")[0] not in self._routing_prefixes]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown parameter(s) {sorted(unknown)}; besides "
                "its own it takes only scikeras' routed ones, such as fit__verbose or "
                "callbacks__0__patience."
            )
        _training.check_network_params(params)

    # -- persistence hooks (ferkit.persistence uses these; no pickle involved) ---------------

    def _get_fitted_state(self) -> dict:
        return _fitted_state(self)

    @classmethod
    def _from_fitted_state(cls, params: dict, state: dict, model) -> FacialExpressionClassifier:
        return _restore(cls(**params), state, model)


class FacialExpressionClassifier(_ScikerasClassifier):
    """Convolutional neural network classifier for facial expressions.

    A scikit-learn classifier wrapping a Keras 3 CNN through scikeras. The default network
    has three convolution blocks (convolution, pooling), two fully connected layers and a
    softmax output. It composes with :class:`~sklearn.pipeline.Pipeline`, ``clone``,
    ``cross_val_score`` and :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    filters : tuple of int, default=(32, 64, 128)
        Filters of each convolution block; the length is the number of blocks.
    kernel_size : int, default=3
        Side of the square convolution kernels.
    convs_per_block : int, default=1
        Convolutions per block before each pooling (2 gives a VGG-style network).
    dense_units : tuple of int, default=(256, 128)
        Units of the fully connected hidden layers.
    dropout : float, default=0.3
        Dropout rate after each dense layer (a quarter of it after each convolution block).
    batch_norm : bool, default=True
        Batch normalisation after every convolution and dense layer.
    augment : bool or dict, default=False
        Training-time augmentation with Keras preprocessing layers (flip, rotation, zoom,
        shift, contrast). True uses :data:`ferkit._network.DEFAULT_AUGMENTATION`; a dict
        such as ``{"flip": 1, "rotation": 0.05}`` sets strengths per transform.
    test_time_flip : bool, default=False
        At prediction, average the probabilities of each face and of its mirror image, at
        the cost of a second forward pass (about one point of PublicTest accuracy for the
        shipped models; see the model card).
    test_time_crops : float or None, default=None
        At prediction, average over five crops of each face instead of the face itself: its
        four corners and its centre, each of this fraction of the side, resized to full size
        (with ``test_time_flip``, and their mirror images: the published recipes'
        "ten-crop"). Five (or ten) forward passes. Not always a gain: on PublicTest five
        crops of 0.96 took the shipped ``fer2013-7`` vote from 68.0% (face and mirror) to
        69.3% for 2.1x the prediction time, but cost the single ``fer2013-3`` network 1.6
        points (``benchmarks/bench_test_time.py``); choose it on validation data.
    image_shape : "auto" or tuple of int, default="auto"
        Shape ``(height, width[, channels])`` that flat rows are reshaped to. ``"auto"`` keeps
        the dimensions of image input and reads flat rows of a square number of pixels as
        square images (2304 -> 48x48).
    optimizer : str, default="adam"
        Name of a Keras optimizer (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``...).
    learning_rate : float or "auto", default="auto"
        Initial learning rate; ``"auto"`` is 1e-3 from scratch, 1e-5 with ``weights``. If
        the loss becomes NaN or infinite, training stops and :meth:`fit` raises a
        ValueError, leaving the classifier unfitted: lower the rate.
    lr_schedule : {None, "plateau", "cosine"}, default=None
        ``"plateau"`` halves the rate when the monitored loss stops improving; ``"cosine"``
        decays it to zero over ``epochs`` along a half cosine.
    label_smoothing : float, default=0.0
        Label smoothing of the categorical cross-entropy loss.
    mixup : float, default=0.0
        MixUp's ``alpha`` (``keras.layers.MixUp``): each training face is blended with
        another of its batch, and so are their targets, in a proportion drawn from
        Beta(alpha, alpha). 0 turns it off; the published FER2013 recipes use 1.
    cutmix : float, default=0.0
        CutMix's ``factor`` (``keras.layers.CutMix``): a patch of another face of the batch,
        of up to this fraction of the area, is pasted in, and the targets mixed by area.
        0 turns it off. With ``mixup`` too, each batch gets one of the two, at even odds.
    epochs : int, default=30
        Maximum number of passes over the training data.
    batch_size : int, default=64
        Samples per gradient step.
    validation_split : float, default=0.1
        Fraction of the training data held out, stratified by class, to monitor validation
        loss and accuracy (``history_["val_loss"]``) and drive early stopping. 0 disables it.
        Ignored when ``validation_data`` is passed to :meth:`fit`.
    early_stopping_patience : int or None, default=5
        Stop after this many epochs without improvement of the monitored loss (validation
        loss when there is validation data) and restore the best weights. None disables it.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, applied as sample weights; ``"balanced"`` weights classes
        inversely to their frequency (FER2013's disgust is under 2% of the data).
    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks for training.
    random_state : int, RandomState or None, default=None
        Seed for weight initialisation, dropout, augmentation, shuffling and the validation
        split. With an int, training on the CPU is repeatable.
    verbose : int, default=0
        Keras verbosity during training (0 silent, 1 progress bar, 2 one line per epoch).
    warm_start : bool, default=False
        Continue training the current network on the next :meth:`fit` instead of building a
        new one. Its classes stay ``classes_`` (the network's outputs): labels must be among
        them.
    weights : None, str or path-like, default=None
        Fine-tune instead of training from scratch: a shipped model's name or a saved ferkit
        model folder (a vote becomes a branch per network). Its layers start the network; a
        new output layer, first fitted as a logistic regression on them, serves ``y``'s classes.
        The weights decide the shape (setting an architecture parameter otherwise is an error).
    frozen_blocks : int or "all", default="all"
        With ``weights``: how many leading convolution blocks keep their weights.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, as given in ``y`` (emotion names or integer codes), sorted.
    n_features_in_ : int
        Number of pixel values per sample seen in :meth:`fit`.
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images the network was built for.
    model_ : keras.Model
        The trained Keras network.
    history_ : dict of str to list of float
        Per-epoch ``loss``, ``accuracy`` and, with validation data, ``val_loss`` and
        ``val_accuracy`` (also ``learning_rate`` when a schedule is used).
    n_epochs_ : int
        Number of epochs run (early stopping may end training before ``epochs``).

    See Also
    --------
    ferkit.make_fer_pipeline : The classifier behind an image reshaper and pixel scaler.

    Notes
    -----
    The network expects scaled inputs (for example pixels divided by 255), as a
    :class:`~ferkit.preprocessing.PixelScaler` step gives. Pickling works (through scikeras)
    for trusted files only; use :func:`ferkit.save` for model files.

    Examples
    --------
    >>> from ferkit import FacialExpressionClassifier
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample()
    >>> clf = FacialExpressionClassifier(epochs=1, random_state=0)
    >>> clf.fit(faces.data / 255.0, faces.target).classes_[:3]
    array(['angry', 'disgust', 'fear'], dtype=object)
    """

    _parameter_constraints: dict = _PARAMETER_CONSTRAINTS

    def __init__(
        self, *, filters=(32, 64, 128), kernel_size=3, convs_per_block=1,
        dense_units=(256, 128), dropout=0.3, batch_norm=True, augment=False,
        test_time_flip=False, test_time_crops=None, image_shape="auto", optimizer="adam",
        learning_rate="auto", lr_schedule=None, label_smoothing=0.0, mixup=0.0, cutmix=0.0,
        epochs=30, batch_size=64, validation_split=0.1,
        early_stopping_patience=5, class_weight=None, callbacks=None, random_state=None,
        verbose=0, warm_start=False, weights=None, frozen_blocks="all", **routed,
    ):
        self.filters = filters
        self.kernel_size = kernel_size
        self.convs_per_block = convs_per_block
        self.dense_units = dense_units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.augment = augment
        self.test_time_flip = test_time_flip
        self.test_time_crops = test_time_crops
        self.image_shape = image_shape
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.label_smoothing = label_smoothing
        self.mixup = mixup
        self.cutmix = cutmix
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping_patience = early_stopping_patience
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.weights = weights
        self.frozen_blocks = frozen_blocks
        vars(self).update(routed)  # checked in fit: scikit-learn's __init__ never raises

    def __sklearn_tags__(self):
        tags = as_classifier_tags(super().__sklearn_tags__())
        tags.non_deterministic = self.random_state is None
        return tags

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build a new network (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels), (n_samples, height, width) or \
(n_samples, height, width, channels)
            Face images, flat or as image tensors, scaled (for example to 0-1).
        y : array-like of shape (n_samples,)
            Labels: emotion names or integer codes. At least two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights per sample, multiplied with the ``class_weight`` weights.
        **kwargs : dict
            ``validation_data=(X_val, y_val)`` replaces the validation split.
            ``soft_targets``, an array of shape (n_samples, n_classes) whose rows sum to 1
            (columns in the order of ``classes_``, the sorted labels of ``y``), is what the
            network learns from instead of ``y``'s one-hot rows: a teacher's
            ``predict_proba(X)`` for knowledge distillation. ``y`` still gives the classes
            and the held-out validation labels. The rest go to ``keras.Model.fit``.

        Returns
        -------
        self : FacialExpressionClassifier
        """
        self._check_params()
        with preserve_op_determinism():
            return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train for one epoch, keeping the network and history of earlier calls.

        Parameters
        ----------
        X : array-like
            Face images, as for :meth:`fit`.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All classes across calls; needed on the first call if ``y`` lacks some.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights per sample.
        **kwargs : dict
            Passed on as for :meth:`fit`.

        Returns
        -------
        self : FacialExpressionClassifier
        """
        self._check_params()
        with preserve_op_determinism():
            return super().partial_fit(
                X, y, classes=classes, sample_weight=sample_weight, **kwargs
            )


def _validation_data(clf, X, y, sample_weight, given, soft_targets=None):
    """The training data and the validation data: ``given`` (encoded) or split off.

    The training targets are ``soft_targets`` (their training rows) when given.
    """
    if given is None and clf.validation_split:
        return _training.split_validation(
            X, y, sample_weight, fraction=clf.validation_split, random_state=clf._random_state,
            soft_targets=soft_targets,
        )
    if soft_targets is not None:
        y = soft_targets
    if given is None:
        return X, y, sample_weight, None
    if not isinstance(given, tuple | list) or len(given) != 2:
        raise ValueError(
            f"validation_data must be a pair (X_val, y_val); got {type(given).__name__}."
        )
    X_val, y_val = clf._validate_data(*given)
    if X_val.shape[0] != y_val.shape[0]:
        raise ValueError(
            f"validation_data has {X_val.shape[0]} images but {y_val.shape[0]} labels."
        )
    return X, y, sample_weight, (X_val, clf.target_encoder_.transform(y_val))


def _check_soft_targets(clf, X, y, kwargs: dict, *, warm: bool, classes=None) -> None:
    """Check ``kwargs["soft_targets"]`` (in place) before anything is built or fitted.

    Its columns are the classes the network will have: the trained network's when training
    continues, else those given to ``partial_fit``, else ``y``'s, sorted as ``classes_``.
    """
    if kwargs.get("soft_targets") is None:
        return
    if warm and clf.initialized_:
        classes = clf.classes_
    elif classes is None:
        classes = np.unique(_as_1d_labels(y))
    kwargs["soft_targets"] = check_soft_targets(kwargs["soft_targets"], len(X),
                                                np.unique(classes))


@contextlib.contextmanager
def _keeping_classes(clf, *, warm: bool, classes=None):
    """Training that continues a network keeps its classes: they are the network's outputs.

    Labels outside them are refused by the target encoder, and so is a ``classes`` list
    (``partial_fit``) that differs from them; ``classes_`` is set again afterwards, also when
    training fails, unless the failure left the classifier unfitted.
    """
    if not (warm and clf.initialized_):
        yield
        return
    known = clf.target_encoder_.classes_
    if classes is not None and set(np.ravel(classes).tolist()) != set(known.tolist()):
        raise ValueError(
            f"classes={np.ravel(classes).tolist()} differs from the classes this "
            f"{type(clf).__name__} was trained on, {known.tolist()}: the network has one "
            "output per known class. Fit a new one (warm_start=False) to change them."
        )
    try:
        yield
    finally:
        if clf.initialized_:
            clf.classes_ = known


def _refuse_divergence(clf) -> None:
    """A ValueError, leaving ``clf`` unfitted, if training made the loss or weights non-finite.

    Its network would predict NaN for every face, so nothing fitted is kept: no prediction,
    score or ``ferkit.save`` can use it.
    """
    message = _training.divergence(clf.history_, clf.model_, optimizer=clf.optimizer,
                                   learning_rate=clf._learning_rate())
    if message is None:
        return
    for name in [n for n in vars(clf) if n.endswith("_") and not n.startswith("_")]:
        delattr(clf, name)
    raise ValueError(message)


def _as_1d_labels(y):
    """``y`` as given, or flattened (with scikit-learn's warning) if it is a column vector."""
    if y is None:
        return None
    check_one_kind(y)  # before scikit-learn sorts them, which fails inside NumPy
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is flattened.",
            DataConversionWarning, stacklevel=4,
        )
        y = y.ravel()
    return y


def _fitted_state(clf) -> dict:
    if not clf.initialized_:
        raise NotFittedError(f"This {type(clf).__name__} is not fitted yet.")
    return {
        "classes": clf.classes_.tolist(),
        "classes_dtype": clf.classes_.dtype.str,
        "image_shape": list(clf.image_shape_),
        "n_features_in": int(clf.n_features_in_),
        "X_shape": [None if s is None else int(s) for s in clf.X_shape_],
        "X_dtype": np.dtype(clf.X_dtype_).str,
        "y_dtype": np.dtype(clf.y_dtype_).str,
        "y_ndim": int(clf.y_ndim_),
        "target_type": clf.target_type_,
        "history": {k: [float(v) for v in vals] for k, vals in clf.history_.items()},
    }


def _restore(clf, state: dict, model):
    """``clf`` (unfitted) as it was after fit, from its recorded state and its network.

    What fit records is recomputed the way fit computes it, from a batch of one blank image
    per class, and the file's own records are checked against it: a file says what it likes.
    """
    classes = np.asarray(state["classes"], dtype=np.dtype(state["classes_dtype"]))
    image_shape = tuple(int(s) for s in state["image_shape"])
    random_state = clf.random_state
    clf._random_state = random_state if isinstance(random_state, Integral) else None
    clf.classes_ = None  # as KerasClassifier.initialize leaves it for the target-type check
    clf._validate_data(np.zeros((len(classes), *image_shape), np.float32), classes, reset=True)
    clf.target_encoder_ = OneHotTargetEncoder(classes=classes).fit(classes)
    vars(clf).update(clf.target_encoder_.get_metadata())
    clf.feature_encoder_ = clf.feature_encoder.fit(None)
    clf.model_ = model
    clf._initialize_callbacks()
    recorded = {"image_shape_": tuple(state["image_shape"]),
                "n_features_in_": state["n_features_in"],
                "X_shape_": tuple(state["X_shape"][1:]) if len(state["X_shape"]) == 4 else None}
    computed = {"image_shape_": clf.image_shape_, "n_features_in_": clf.n_features_in_,
                "X_shape_": clf.X_shape_[1:]}
    for name, value in recorded.items():
        if value != computed[name]:
            raise ValueError(
                f"{name} {value!r} does not agree with the recorded image shape "
                f"{list(image_shape)}"
            )
    clf.X_shape_ = (state["X_shape"][0], *clf.X_shape_[1:])
    clf.target_type_ = state["target_type"]
    clf.history_ = {k: list(v) for k, v in state["history"].items()}
    return clf
