"""FacialExpressionClassifier: the ferkit CNN as a scikit-learn classifier, through scikeras.

All scikeras-specific code lives in this module (scikeras is no longer maintained; keeping it
here means the wrapper can be swapped without touching the rest of ferkit). Importing this
module imports TensorFlow: ``ferkit/__init__.py`` loads it lazily.
"""

from __future__ import annotations

import math
import warnings
import weakref
from numbers import Integral, Real

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target

from ferkit._compat import as_classifier_tags, preserve_op_determinism
from ferkit._network import build_cnn, resolve_augmentation
from ferkit._validation import as_images, check_pixel_array, resolve_image_shape

# Prediction skips ``Model.predict`` (which sets up a tf.data pipeline on every call, ~10x
# the cost of a small forward pass) and runs a compiled forward pass over chunks of this many
# images: small enough for the activations to stay in cache, which on CPUs is faster than
# ``Model.predict``'s batches of 256 (see benchmarks/bench_prediction.py).
_PREDICT_CHUNK = 64

# keras.Model -> (sample shape, compiled forward pass). Weak keys: the entry goes with the
# model, and nothing unpicklable is stored on the estimator.
_FORWARD_PASSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forward_pass(model, sample_shape: tuple[int, ...]):
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


def _check_layer_sizes(value, name: str) -> None:
    """``filters`` / ``dense_units``: a sequence of positive ints (Keras would otherwise
    truncate 4.5 to 4 silently, or fail deep inside a layer's constructor)."""
    sizes = [value] if isinstance(value, str) else list(value)
    bad = [v for v in sizes
           if isinstance(v, bool) or not isinstance(v, Integral | np.integer) or v < 1]
    if bad:
        raise ValueError(
            f"{name} must be a sequence of positive ints (one per layer); got {value!r}."
        )


def _check_optimizer(name: str, learning_rate: float) -> None:
    try:  # the same call as _keras_build_fn's, before any data is touched
        keras.optimizers.get({"class_name": name, "config": {"learning_rate": learning_rate}})
    except (ValueError, TypeError):
        raise ValueError(
            f"optimizer must name a Keras optimizer ('adam', 'adamw', 'sgd', 'rmsprop'...); "
            f"got {name!r}."
        ) from None


class _OneHotTargetEncoder(TransformerMixin, BaseEstimator):
    """Labels <-> one-hot rows, for a softmax network trained with categorical cross-entropy.

    Unlike scikeras' default encoder, binary problems are one-hot too, so every network has one
    softmax unit per class and ``label_smoothing`` works for any number of classes.
    """

    def __init__(self, classes=None):
        self.classes = classes

    def fit(self, y):
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. FacialExpressionClassifier needs one "
                "class label per sample: emotion names ('happy') or integer codes (0-6)."
            )
        self.classes_ = np.unique(y if self.classes is None else self.classes)
        if self.classes_.size < 2:
            raise ValueError(
                "FacialExpressionClassifier needs at least 2 classes to train, but y holds one "
                f"class only: {self.classes_.tolist()[0]!r}."
            )
        self.n_classes_ = int(self.classes_.size)
        return self

    def transform(self, y):
        y = np.asarray(y)
        try:
            index = np.searchsorted(self.classes_, y)
        except TypeError:
            # NumPy cannot order strings against numbers: names in fit, codes here or back.
            raise TypeError(
                f"y holds labels of type {y.dtype} ({y.ravel()[:3].tolist()}...), but the "
                f"classifier was fitted on labels like {self.classes_[:3].tolist()}: use "
                "emotion names or integer codes throughout, not both."
            ) from None
        index = np.clip(index, 0, self.n_classes_ - 1)
        unseen = self.classes_[index] != y
        if unseen.any():
            raise ValueError(
                f"y contains label(s) not seen in fit: {sorted(set(y[unseen].tolist()))[:10]}; "
                f"the classifier knows {self.classes_.tolist()}."
            )
        return np.eye(self.n_classes_, dtype=np.float32)[index]

    def inverse_transform(self, y, return_proba=False):
        # float64 and renormalised: softmax in float32 sums to 1 only within ~1e-7.
        proba = np.asarray(y, dtype=np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        if return_proba:
            return proba
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata(self):
        return {
            "classes_": self.classes_,
            "n_classes_": self.n_classes_,
            "n_outputs_": 1,
            "n_outputs_expected_": 1,
        }


class FacialExpressionClassifier(KerasClassifier):
    """Convolutional neural network classifier for facial expressions.

    A scikit-learn classifier wrapping a Keras 3 CNN through scikeras. The default network is
    the original work's: three convolution blocks (convolution, pooling), two fully connected
    layers and a softmax output. It composes with :class:`~sklearn.pipeline.Pipeline`,
    :func:`~sklearn.base.clone`, :func:`~sklearn.model_selection.cross_val_score` and
    :class:`~sklearn.model_selection.GridSearchCV`.

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
        shift, contrast), inactive at prediction. True uses
        :data:`ferkit._network.DEFAULT_AUGMENTATION`; a dict such as
        ``{"flip": 1, "rotation": 0.05}`` sets strengths per transform.
    test_time_flip : bool, default=False
        At prediction, average the probabilities of each face and of its mirror image
        (test-time augmentation). An expression reads the same mirrored, so the average
        evens out the network's left-right quirks; it costs a second forward pass. It
        raises the shipped models' PublicTest accuracy by about one point (see the model
        card). Training is unaffected.
    image_shape : "auto" or tuple of int, default="auto"
        Shape ``(height, width[, channels])`` that flat rows are reshaped to. ``"auto"`` keeps
        the dimensions of image input and reads flat rows of a square number of pixels as
        square images (2304 -> 48x48).
    optimizer : str, default="adam"
        Name of a Keras optimizer (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``...).
    learning_rate : float, default=1e-3
        Initial learning rate.
    lr_schedule : {None, "plateau", "cosine"}, default=None
        ``"plateau"`` halves the rate when the monitored loss stops improving; ``"cosine"``
        decays it to zero over ``epochs`` along a half cosine.
    label_smoothing : float, default=0.0
        Label smoothing of the categorical cross-entropy loss.
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
        new one.

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
    The network expects scaled inputs (for example pixels divided by 255); put a
    :class:`~ferkit.preprocessing.PixelScaler` before it, as :func:`ferkit.make_fer_pipeline`
    does. Pickling works (through scikeras) for trusted files only; use :func:`ferkit.save`
    for model files.

    Examples
    --------
    >>> from ferkit import FacialExpressionClassifier
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample()
    >>> clf = FacialExpressionClassifier(epochs=1, random_state=0)
    >>> clf.fit(faces.data / 255.0, faces.target).classes_[:3]
    array(['angry', 'disgust', 'fear'], dtype=object)
    """

    _parameter_constraints: dict = {
        "filters": ["array-like"],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "convs_per_block": [Interval(Integral, 1, None, closed="left")],
        "dense_units": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "augment": ["boolean", dict],
        "test_time_flip": ["boolean"],
        "image_shape": [StrOptions({"auto"}), tuple, list],
        "optimizer": [str],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"plateau", "cosine"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "early_stopping_patience": [Interval(Integral, 1, None, closed="left"), None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    # scikeras reads these; ferkit builds and compiles its own network, so they are fixed
    # class attributes rather than parameters.
    model = None
    build_fn = None
    loss = None
    metrics = None
    run_eagerly = False
    shuffle = True
    validation_batch_size = None

    def __init__(
        self,
        *,
        filters=(32, 64, 128),
        kernel_size=3,
        convs_per_block=1,
        dense_units=(256, 128),
        dropout=0.3,
        batch_norm=True,
        augment=False,
        test_time_flip=False,
        image_shape="auto",
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule=None,
        label_smoothing=0.0,
        epochs=30,
        batch_size=64,
        validation_split=0.1,
        early_stopping_patience=5,
        class_weight=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.filters = filters
        self.kernel_size = kernel_size
        self.convs_per_block = convs_per_block
        self.dense_units = dense_units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.augment = augment
        self.test_time_flip = test_time_flip
        self.image_shape = image_shape
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.label_smoothing = label_smoothing
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping_patience = early_stopping_patience
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # -- scikit-learn protocol ---------------------------------------------------------------

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
            ``validation_data=(X_val, y_val)`` replaces the internal validation split; other
            keywords go to ``keras.Model.fit``.

        Returns
        -------
        self : FacialExpressionClassifier
            The fitted classifier.
        """
        self._validate_params()
        self._check_network_params()
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
            The partially fitted classifier.
        """
        self._validate_params()
        self._check_network_params()
        with preserve_op_determinism():
            return super().partial_fit(
                X, y, classes=classes, sample_weight=sample_weight, **kwargs
            )

    def predict(self, X, **kwargs):
        """Predict the emotion of each face.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, 1])
            Faces, prepared as in :meth:`fit`.
        **kwargs : dict
            Passed to ``keras.Model.predict`` (disables the compiled fast path).

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``: the most probable class of each face.
        """
        return super().predict(X, **kwargs)

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
        return super().predict_proba(X, **kwargs)

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict` on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels) or (n_samples, height, width[, 1])
            Faces.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights per sample.

        Returns
        -------
        float
            The (weighted) fraction of faces whose label is predicted correctly.
        """
        return super().score(X, y, sample_weight=sample_weight)

    @property
    def n_epochs_(self) -> int:
        """Number of epochs run in training."""
        if not hasattr(self, "history_"):
            raise NotFittedError("This FacialExpressionClassifier is not fitted yet.")
        return len(self.history_["loss"])

    # -- scikeras hooks ----------------------------------------------------------------------

    @property
    def target_encoder(self):
        # scikeras resets classes_ to None in fit(); partial_fit may pass the full class list.
        return _OneHotTargetEncoder(classes=getattr(self, "classes_", None))

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        # One validation path for fit and predict: pixel checks, then reshaping to images,
        # then scikeras' own bookkeeping on the 4-D array.
        name = type(self).__name__
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] == 1:
                warnings.warn(
                    "A column-vector y was passed when a 1d array was expected; it is "
                    "flattened.", DataConversionWarning, stacklevel=3,
                )
                y = y.ravel()
        n_features = None
        if X is not None:
            X = check_pixel_array(X, name="X")
            n_features = math.prod(X.shape[1:])
            if reset:
                self.image_shape_ = resolve_image_shape(self.image_shape, X.shape)
            else:
                if not hasattr(self, "image_shape_"):
                    raise NotFittedError(f"This {name} is not fitted yet: call fit first.")
                if n_features != self.n_features_in_:
                    raise ValueError(
                        f"X has {n_features} features, but {name} is expecting "
                        f"{self.n_features_in_} features as input (images of shape "
                        f"{self.image_shape_[:2]}); X's shape is {X.shape}."
                    )
                if X.ndim >= 3 and X.shape[1:3] != self.image_shape_[:2]:
                    raise ValueError(
                        f"X holds images of shape {X.shape[1:3]}, but {name} was fitted on "
                        f"images of shape {self.image_shape_[:2]}."
                    )
            X = as_images(X, self.image_shape_)
            if not reset and y is None:
                # Predicting: the checks above cover scikeras' (dtype, dimensions, shape), and
                # repeating them costs ~10% of a single-face prediction.
                return X, None
        X, y = super()._validate_data(X=X, y=y, reset=reset, y_numeric=y_numeric)
        if reset and n_features is not None:
            self.n_features_in_ = n_features
        return X, y

    def _keras_build_fn(self, meta):
        seed = self._random_state
        if seed is not None:
            # Keras 3 keeps a global seed generator that tf.random.set_seed does not reset.
            keras.utils.set_random_seed(seed)
        model = build_cnn(
            meta["X_shape_"][1:],
            meta["n_classes_"],
            filters=self.filters,
            kernel_size=self.kernel_size,
            convs_per_block=self.convs_per_block,
            dense_units=self.dense_units,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            augment=self.augment,
            seed=seed,
        )
        optimizer = keras.optimizers.get(
            {"class_name": self.optimizer, "config": {"learning_rate": self.learning_rate}}
        )
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing),
            metrics=["accuracy"],
        )
        return model

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        validation_data = kwargs.pop("validation_data", None)
        if validation_data is not None:
            validation_data = self._encode_validation_data(validation_data)
        elif self.validation_split:
            X, y, sample_weight, validation_data = self._split_validation(X, y, sample_weight)
        kwargs["validation_data"] = validation_data
        kwargs["validation_split"] = 0.0  # Keras' own split takes the *last* rows, unshuffled.

        user_callbacks = self._fit_callbacks
        self._fit_callbacks = user_callbacks + self._training_callbacks(
            monitor="val_loss" if validation_data is not None else "loss", epochs=epochs
        )
        try:
            super()._fit_keras_model(
                X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
            )
        finally:
            self._fit_callbacks = user_callbacks
        self.history_ = {key: [float(v) for v in values] for key, values in self.history_.items()}

    def _predict_raw(self, X, **kwargs):
        if not self.initialized_:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit before predicting."
            )
        X, _ = self._validate_data(X=X, y=None)
        X = self.feature_encoder_.transform(X)
        proba = self._forward(X, **kwargs)
        if self.test_time_flip:
            # Axis 2 is the width of (n, height, width, channels) images.
            proba = (proba + self._forward(np.ascontiguousarray(X[:, :, ::-1]), **kwargs)) / 2
        return proba

    def _forward(self, X, **kwargs):
        """The network's softmax output for prepared images, by the fastest path."""
        if not kwargs and keras.backend.backend() == "tensorflow" and X.dtype == np.float32:
            import tensorflow as tf

            forward = _forward_pass(self.model_, tuple(X.shape[1:]))
            # Handing the concrete function a tensor skips its own NumPy conversion and
            # casting checks (~5% of a single-face call).
            if X.shape[0] <= _PREDICT_CHUNK:
                return forward(tf.convert_to_tensor(X)).numpy()
            return np.concatenate([
                forward(tf.convert_to_tensor(X[start:start + _PREDICT_CHUNK])).numpy()
                for start in range(0, X.shape[0], _PREDICT_CHUNK)
            ])
        if X.shape[0] <= _PREDICT_CHUNK and not kwargs:
            return keras.ops.convert_to_numpy(self.model_(X, training=False))
        kwargs.setdefault("batch_size", max(self.batch_size, 256))
        kwargs.setdefault("verbose", 0)
        return self.model_.predict(X, **kwargs)

    # -- private helpers ---------------------------------------------------------------------

    def _check_network_params(self) -> None:
        """What ``_parameter_constraints`` cannot say: layer sizes, augmentation, optimizer."""
        _check_layer_sizes(self.filters, "filters")
        _check_layer_sizes(self.dense_units, "dense_units")
        resolve_augmentation(self.augment)
        _check_optimizer(self.optimizer, self.learning_rate)

    def _training_callbacks(self, *, monitor: str, epochs: int):
        callbacks = []
        if self.early_stopping_patience is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor=monitor, patience=self.early_stopping_patience,
                    restore_best_weights=True,
                )
            )
        if self.lr_schedule == "plateau":
            patience = max(1, (self.early_stopping_patience or 6) // 2)
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor=monitor, factor=0.5, patience=patience, min_lr=1e-6
                )
            )
        elif self.lr_schedule == "cosine":
            start = float(self.learning_rate)
            callbacks.append(
                keras.callbacks.LearningRateScheduler(
                    lambda epoch: 0.5 * start * (1 + math.cos(math.pi * epoch / epochs))
                )
            )
        return callbacks

    def _split_validation(self, X, y, sample_weight):
        """Hold out ``validation_split`` of the data, stratified by class when possible."""
        n = X.shape[0]
        n_val = math.ceil(n * self.validation_split)
        if n_val < 1 or n - n_val < 1:
            return X, y, sample_weight, None
        labels = np.argmax(y, axis=1)
        arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
        seed = self._random_state if self._random_state is not None else None
        try:
            parts = train_test_split(*arrays, test_size=n_val, random_state=seed, stratify=labels)
        except ValueError:
            # Too few samples of some class to stratify (tiny data sets): a plain shuffle.
            parts = train_test_split(*arrays, test_size=n_val, random_state=seed)
        X_train, X_val, y_train, y_val = parts[:4]
        if sample_weight is None:
            return X_train, y_train, None, (X_val, y_val)
        sw_train, sw_val = parts[4:]
        return X_train, y_train, sw_train, (X_val, y_val, sw_val)

    def _encode_validation_data(self, validation_data):
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError(
                "validation_data must be a pair (X_val, y_val); got "
                f"{type(validation_data).__name__}."
            )
        X_val, y_val = validation_data
        X_val, y_val = self._validate_data(X_val, y_val)
        if X_val.shape[0] != y_val.shape[0]:
            raise ValueError(
                f"validation_data has {X_val.shape[0]} images but {y_val.shape[0]} labels."
            )
        X_val = self.feature_encoder_.transform(X_val)
        return X_val, self.target_encoder_.transform(y_val)

    # -- persistence hooks (ferkit.persistence uses these; no pickle involved) ---------------

    def _get_fitted_state(self) -> dict:
        """The fitted state other than the Keras network, as JSON-serialisable values."""
        if not self.initialized_:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet.")
        return {
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str,
            "image_shape": list(self.image_shape_),
            "n_features_in": int(self.n_features_in_),
            "X_shape": [None if s is None else int(s) for s in self.X_shape_],
            "X_dtype": np.dtype(self.X_dtype_).str,
            "y_dtype": np.dtype(self.y_dtype_).str,
            "y_ndim": int(self.y_ndim_),
            "target_type": self.target_type_,
            "history": {k: [float(v) for v in vals] for k, vals in self.history_.items()},
        }

    @classmethod
    def _from_fitted_state(cls, params: dict, state: dict, model) -> FacialExpressionClassifier:
        """Rebuild a fitted classifier from :meth:`_get_fitted_state` and a Keras network."""
        from sklearn.preprocessing import FunctionTransformer

        est = cls(**params)
        classes = np.asarray(state["classes"], dtype=np.dtype(state["classes_dtype"]))
        est.model_ = model
        est.target_encoder_ = _OneHotTargetEncoder(classes=classes).fit(classes)
        est.feature_encoder_ = FunctionTransformer().fit(np.zeros((1, 1)))
        vars(est).update(est.target_encoder_.get_metadata())
        est.image_shape_ = tuple(int(s) for s in state["image_shape"])
        est.n_features_in_ = int(state["n_features_in"])
        est.X_shape_ = tuple(state["X_shape"])
        est.X_dtype_ = np.dtype(state["X_dtype"])
        est.y_dtype_ = np.dtype(state["y_dtype"])
        est.y_ndim_ = int(state["y_ndim"])
        est.target_type_ = state["target_type"]
        # The state comes from a file: scikeras' record of the batch shape must match the
        # images (ferkit.load checks image_shape_ against n_features_in_ for every step).
        if len(est.X_shape_) != 4 or est.X_shape_[1:] != est.image_shape_:
            raise ValueError(
                f"X_shape {list(est.X_shape_)} and image_shape {list(est.image_shape_)} do not "
                "describe one batch of (height, width, channels) images"
            )
        est.history_ = {k: list(v) for k, v in state["history"].items()}
        est._random_state = params.get("random_state") if isinstance(
            params.get("random_state"), int) else None
        est._fit_callbacks, est._predict_callbacks = [], []
        return est
