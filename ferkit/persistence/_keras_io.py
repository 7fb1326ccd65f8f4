"""The Keras network on disk: architecture JSON checked against an allow-list, HDF5 weights.

Keras' own safe mode refuses marshalled Python lambdas, but otherwise builds whatever class a
config names: any built-in layer, including ones that reach outside the file (``TFSMLayer``
loads a TensorFlow SavedModel from a path the config gives), and any class registered as a
custom object in the loading process. So before Keras sees an architecture, every object in
it is checked against an explicit list of (module, class) pairs: the layers
:func:`ferkit._network.build_cnn` uses, common core layers, and the initializers,
regularizers, constraints, optimizers and losses of a compiled network. Keras then
deserialises it with safe mode forced on, even if the process enabled unsafe deserialisation.

Importing this module does not import Keras; the functions do.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ferkit.persistence._codec import read_json

ARCHITECTURE_FILE = "model.json"
WEIGHTS_FILE = "model.weights.h5"

#: Keras layers a ferkit network may contain: those ``build_cnn`` creates (augmentation
#: included) and common core layers a hand-built variant might use. Never ``Lambda``.
ALLOWED_LAYERS: frozenset[str] = frozenset({
    # built by ferkit._network.build_cnn
    "InputLayer", "Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Dropout",
    "Flatten", "Dense", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomContrast", "RandomErasing",
    # common core layers
    "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "SeparableConv2D",
    "DepthwiseConv2D", "LayerNormalization", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax",
    "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Reshape", "Rescaling",
    "ZeroPadding2D", "Cropping2D", "RandomBrightness",
    # joins the branches of a fine-tuned vote (build_cnn(branches=...))
    "Concatenate",
})

#: Top-level network classes: a one-branch ferkit network is Sequential, a fine-tuned vote
#: Functional (its config lists layers and which layer's output feeds which: data only).
_NETWORKS = {"Sequential": "keras", "Functional": "keras.src.models.functional"}

_ALLOWED: dict[str, frozenset[str]] = {
    "keras": frozenset({"Sequential", "DTypePolicy", "FloatDTypePolicy"}),
    "keras.src.models.functional": frozenset({"Functional"}),
    "keras.layers": ALLOWED_LAYERS,
    "keras.initializers": frozenset({
        "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
        "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform",
        "TruncatedNormal", "VarianceScaling", "Zeros",
    }),
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    "keras.optimizers": frozenset({
        "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lamb", "Lion",
        "Nadam", "RMSprop", "SGD",
    }),
    "keras.optimizers.schedules": frozenset({
        "CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
        "PiecewiseConstantDecay", "PolynomialDecay",
    }),
    "keras.losses": frozenset({
        "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy",
        "CategoricalFocalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence",
    }),
}

_WEIGHTS_DTYPES = ("float32", "float16")


# -- architecture ------------------------------------------------------------------------------

def check_architecture(config, *, file) -> None:
    """Refuse an architecture that names anything outside the allow-list.

    Parameters
    ----------
    config : object
        The parsed architecture JSON.
    file : path-like
        The file it came from, named in error messages.

    Raises
    ------
    ValueError
        If the top level is not a Keras ``Sequential`` or ``Functional`` model, or any object
        in it is a Python
        function or lambda, comes from a module other than Keras, carries a custom registered
        name, or is a class not on the allow-list (``Lambda``, unknown layers...).
    """
    found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
    if found not in _NETWORKS or config.get("module") != _NETWORKS[found]:
        raise ValueError(
            f"{file} does not describe a Keras Sequential or Functional network (found "
            f"{found!r}); ferkit networks are one of those."
        )
    _check_node(config, "$", file)


def _check_node(node, where: str, file) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_node(item, f"{where}[{i}]", file)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node:
        _check_object(node, where, file)
    for key, value in node.items():
        _check_node(value, f"{where}.{key}", file)


def _check_object(node: dict, where: str, file) -> None:
    class_name = node.get("class_name")
    if class_name == "__keras_tensor__" and set(node) <= {"class_name", "config"}:
        # A Functional network's reference to another layer's output (shape, dtype, which
        # layer): data, which Keras resolves against the network's own checked layers.
        return
    module = node.get("module")
    registered = node.get("registered_name")
    label = f"{class_name!r} (module {module!r}) at {where}"
    if class_name in ("__lambda__", "function") or class_name == "Lambda":
        raise ValueError(
            f"{file} contains Python code: {label}. Lambda layers and functions run arbitrary "
            "code when loaded; ferkit model files hold data only. Refusing to load it."
        )
    allowed = _ALLOWED.get(module) if isinstance(module, str) else None
    if allowed is None:
        raise ValueError(
            f"{file} refers to {label}; ferkit loads only objects from Keras' own modules "
            f"{sorted(_ALLOWED)}. Refusing to load it."
        )
    if class_name not in allowed or registered not in (None, class_name):
        raise ValueError(
            f"{file} contains {label}, which is not on ferkit's list of allowed Keras "
            f"objects; allowed from {module}: {sorted(allowed)}. Refusing to load it."
        )


def architecture_json(model, *, file) -> str:
    """The architecture of ``model`` as JSON text, checked as :func:`read_model` will check it.

    It includes the compile configuration (optimizer, loss), so a loaded network can train on.
    """
    config = json.loads(model.to_json())
    # Fail at save time rather than writing a model that load() would refuse.
    check_architecture(config, file=file)
    return json.dumps(config, indent=1)


def write_architecture(path: Path, architecture: str) -> None:
    """Write the text made by :func:`architecture_json` to ``path``."""
    Path(path).write_text(architecture, encoding="utf-8")


@contextlib.contextmanager
def _forced_safe_mode():
    # deserialize_keras_object's safe_mode argument is overridden by a process-wide
    # keras.config.enable_unsafe_deserialization(); Keras' scope restores the caller's setting.
    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # pragma: no cover - other Keras layouts: the allow-list still holds
        yield
        return
    with SafeModeScope(True):
        yield


def deserialize_architecture(config, *, file):
    """Build the (unweighted) network from a checked config, in Keras safe mode."""
    import keras

    with _forced_safe_mode():
        try:
            # A copy: Keras empties a Functional config as it rebuilds from it.
            return keras.saving.deserialize_keras_object(copy.deepcopy(config),
                                                         safe_mode=True)
        except Exception as exc:
            raise ValueError(f"{file}: the network could not be rebuilt: {exc}") from exc


# -- weights -----------------------------------------------------------------------------------

def check_weights_dtype(weights_dtype) -> str:
    """Validate the ``weights_dtype`` argument of :func:`ferkit.save`."""
    if weights_dtype not in _WEIGHTS_DTYPES:
        raise ValueError(
            f"weights_dtype must be one of {list(_WEIGHTS_DTYPES)}; got {weights_dtype!r}."
        )
    return weights_dtype


def write_weights(model, path: Path, *, weights_dtype: str = "float32",
                  include_optimizer: bool = True) -> None:
    """Write ``model``'s weights to ``path`` (a ``.weights.h5`` file).

    float32 with the optimizer state is Keras' own file, an exact copy. Otherwise Keras' file is
    rewritten with h5py: float32 arrays cast to float16 and/or the optimizer group dropped.
    """
    path = Path(path)
    if weights_dtype == "float32" and include_optimizer:
        model.save_weights(path)
        return
    raw = path.with_name("keras-raw.weights.h5")
    model.save_weights(raw)
    try:
        _rewrite_weights(raw, path, dtype=np.dtype(weights_dtype),
                         include_optimizer=include_optimizer)
    finally:
        raw.unlink(missing_ok=True)


def _rewrite_weights(src: Path, dst: Path, *, dtype: np.dtype, include_optimizer: bool):
    import h5py

    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        fout.attrs.update(dict(fin.attrs))

        def copy(name, obj):
            if not include_optimizer and name.split("/")[0] == "optimizer":
                return
            if isinstance(obj, h5py.Group):
                fout.require_group(name).attrs.update(dict(obj.attrs))
                return
            data = obj[()]
            if isinstance(data, np.ndarray | np.generic) and data.dtype == np.float32:
                cast = np.asarray(data).astype(dtype)
                if not np.isfinite(cast).all() and np.isfinite(data).all():
                    raise ValueError(
                        f"weight {name!r} has values up to {np.abs(data).max():g}, beyond the "
                        f"range of {dtype}; save with weights_dtype='float32'."
                    )
                data = cast
            fout.create_dataset(name, data=data).attrs.update(dict(obj.attrs))

        fin.visititems(copy)


def _inspect_weights(path: Path) -> tuple[list[tuple[int, ...]], bool]:
    """Shapes of the layer weights in a Keras ``.weights.h5`` file, and whether it holds
    optimizer state; shapes are read from the datasets' headers, no data is read.

    Raises
    ------
    ValueError
        If the file cannot be read, or its arrays declare more bytes than the file holds:
        HDF5 lets a small file declare huge arrays (storage is allocated when written),
        which loading would allocate in full.
    """
    import h5py

    shapes, datasets = [], []
    try:
        with h5py.File(path, "r") as f:
            if "layers" not in f:
                raise ValueError(f"{path} is not a Keras weights file (no 'layers' group).")
            f.visititems(lambda name, obj: datasets.append((name, obj.shape, obj.dtype))
                         if isinstance(obj, h5py.Dataset) else None)
            has_optimizer = "optimizer" in f
    except OSError as exc:
        raise ValueError(f"{path} is corrupted or truncated and cannot be read: {exc}") from exc
    declared = 0
    for name, shape, dtype in datasets:
        if name.startswith("layers/"):
            shapes.append(tuple(shape or ()))
        declared += math.prod(shape or ()) * dtype.itemsize
    size = path.stat().st_size
    if declared > size:
        raise ValueError(
            f"{path} declares weight arrays of {declared} bytes in all but is only {size} "
            "bytes long; a Keras weights file holds its arrays in full. Refusing to load it."
        )
    return shapes, has_optimizer


@contextlib.contextmanager
def _shapes_only():
    """A scope in which Keras creates variables without allocating their values.

    Keras defers initialising variables created inside a ``StatelessScope`` and lists them
    for later; they are taken off that list again, so that nothing initialises them later.
    """
    import keras

    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover - other Keras layouts: variables stay listed
        global_state = None
    key = "uninitialized_variables"
    pending = global_state.get_global_attribute(key) if global_state else None
    if global_state:
        global_state.set_global_attribute(key, [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        if global_state:
            global_state.set_global_attribute(key, pending)


def declared_weight_shapes(config, *, file) -> list[tuple[int, ...]]:
    """Shapes of the weights the network of a checked ``config`` has, allocating none.

    Keras builds the network symbolically, as it does when loading, but inside
    :func:`_shapes_only`: a layer declared with billions of weights costs nothing here, and
    its shapes can be compared with the weights file before the network is really built.
    Computed by Keras itself rather than re-derived per layer type, so that every allowed
    layer's own rules (padding, groups, depth multipliers...) apply.
    """
    # The compile configuration creates the optimizer's variables, whose shapes follow the
    # network's; its variables are created with values, which the scope refuses.
    config = {key: value for key, value in config.items() if key != "compile_config"}
    with _shapes_only():
        model = deserialize_architecture(config, file=file)
        return [tuple(int(s) for s in v.shape) for v in model.weights]


def read_model(architecture: Path, weights: Path):
    """Rebuild the network from ``architecture`` (checked, safe mode) and load ``weights``.

    Raises
    ------
    ValueError
        If the architecture is malformed or refused, or the weights file is unreadable or does
        not match the architecture (number or shapes of weight arrays).
    """
    config = read_json(architecture)
    check_architecture(config, file=architecture)
    # Everything is compared before the network is built: building allocates every weight
    # the architecture declares, which a crafted file can make any size. The weights file
    # holds its arrays in full, so matching it bounds what the network allocates.
    # Keras ignores weight arrays the network has no layer for; we do not.
    in_file, has_optimizer = _inspect_weights(Path(weights))
    expected = declared_weight_shapes(config, file=architecture)
    if Counter(in_file) != Counter(expected):
        raise ValueError(
            f"{weights} does not match the network in {architecture}: the file holds "
            f"{len(in_file)} weight arrays of shapes {sorted(in_file)}, the network has "
            f"{len(expected)} of shapes {sorted(expected)}."
        )
    model = deserialize_architecture(config, file=architecture)
    try:
        with warnings.catch_warnings():
            if not has_optimizer:  # saved without optimizer state: it starts afresh
                warnings.filterwarnings("ignore", message="Skipping variable loading for optim")
            model.load_weights(weights)
    except (ValueError, OSError) as exc:
        raise ValueError(
            f"{weights} could not be loaded into the network of {architecture}: {exc}"
        ) from exc
    return model
