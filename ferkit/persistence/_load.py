"""``ferkit.load``: check the folder, then rebuild only allow-listed classes from plain data."""

from __future__ import annotations

import inspect
import itertools
import os
from pathlib import Path

import numpy as np
from sklearn.exceptions import NotFittedError

from ferkit.persistence import _atomic, _codec, _format, _keras_io, _linear, _registry

#: Fitted attributes that hold the shape of one sample; each must account for every feature.
_SHAPE_STATE = ("image_shape_", "_sample_shape")


def load(path: str | os.PathLike):
    """Load a model saved by :func:`ferkit.save`.

    Loading runs no code from the folder: it reads JSON, an ``.npz`` of plain arrays
    (``allow_pickle=False``) and Keras HDF5 weights; no pickle is involved. Estimator classes
    and Keras layers must be on ferkit's allow-lists (so a ``Lambda`` layer, a custom Keras
    object or an unknown pipeline step is refused), and the network is rebuilt in Keras safe
    mode. Every file is checked against the checksum recorded at save time first. The weight
    shapes the architecture declares are computed without allocating them and compared with
    the arrays the weights file holds before the network is built, so a crafted file cannot
    make loading allocate much more than the files' own size; JSON nested deeper than 64
    levels or holding integers of more than 40 digits is refused.

    Parameters
    ----------
    path : str or path-like
        The model folder (or its ``ferkit.json``).

    Returns
    -------
    FacialExpressionClassifier, sklearn.ensemble.VotingClassifier or sklearn.pipeline.Pipeline
        The fitted estimator, predicting as it did when saved.

    Raises
    ------
    FileNotFoundError
        If the folder, its ``ferkit.json`` or a file it lists is missing. (If a save that was
        replacing the model died while the folder was moved aside, the folder is first put
        back.)
    ValueError
        If a file is malformed, truncated or corrupted, was written by a newer ferkit format,
        names a class or Keras object that is not allowed, or its weights do not match the
        architecture. The message names the file.

    See Also
    --------
    ferkit.save : Save a fitted classifier or pipeline.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample(emotions=("happy", "sad"))
    >>> pipe = ferkit.make_fer_pipeline(filters=(4,), dense_units=(8,), epochs=1,
    ...                                 random_state=0).fit(faces.data, faces.target)
    >>> folder = ferkit.save(pipe, pathlib.Path(tempfile.mkdtemp()) / "fer-model")
    >>> loaded = ferkit.load(folder)
    >>> (loaded.predict_proba(faces.data[:5]) == pipe.predict_proba(faces.data[:5])).all()
    np.True_
    """
    folder = Path(path)
    if folder.name == _format.MANIFEST_FILE and folder.is_file():
        folder = folder.parent
    # A save that replaced the model and was killed halfway may have left it aside: put back.
    if not folder.exists() and not _atomic.recover(folder, _format.is_model_folder):
        raise FileNotFoundError(f"No ferkit model at {folder}: the folder does not exist.")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file; a ferkit model is a folder (see ferkit.save).")
    manifest = _format.read_manifest(folder)
    manifest_file = folder / _format.MANIFEST_FILE
    spec = manifest["estimator"]
    _check_classes(spec, manifest_file)  # before reading (or importing) anything else
    arrays = _read_arrays(folder, manifest)
    reader = _Reader(folder, manifest, manifest_file, arrays)
    if isinstance(spec, dict) and spec.get("class") == _registry.PIPELINE:
        return reader.pipeline(spec)
    if isinstance(spec, dict) and spec.get("class") in (_registry.CLASSIFIER, _registry.VOTING):
        return reader.final_step(spec, "estimator")
    raise ValueError(
        f"{manifest_file}: the estimator must be a {_registry.PIPELINE}, a "
        f"{_registry.VOTING} or a {_registry.CLASSIFIER}; got {_codec.short_repr(spec, 120)}."
    )


#: A place, not a class: the pipeline a FaceEmbedder's model is.
_EMBEDDED = "FaceEmbedder's model"

#: What each container may hold. A FaceEmbedder's model (a pipeline ending in a network) holds
#: no FaceEmbedder or linear classifier of its own.
_MAY_HOLD: dict[str, frozenset[str]] = {
    _registry.PIPELINE: frozenset({
        _registry.PASSTHROUGH, _registry.CLASSIFIER, _registry.VOTING, _registry.EMBEDDER,
        *_registry.LINEAR, *_registry.TRANSFORMERS,
    }),
    _EMBEDDED: frozenset({
        _registry.PASSTHROUGH, _registry.CLASSIFIER, _registry.VOTING, *_registry.TRANSFORMERS,
    }),
    _registry.VOTING: frozenset({_registry.DROP, _registry.CLASSIFIER}),
    _registry.EMBEDDER: frozenset({_registry.PIPELINE, _registry.CLASSIFIER, _registry.VOTING}),
}


def _check_classes(spec, file) -> None:
    """Refuse unknown classes anywhere in the estimator description, and allowed ones where
    they may not be (:data:`_MAY_HOLD`), importing nothing."""
    entries = [(spec, None)]
    for entry, place in entries:
        if not isinstance(entry, dict):
            raise ValueError(
                f"{file}: expected an estimator entry, got {_codec.short_repr(entry, 120)}."
            )
        name = entry.get("class")
        if place is not None and name in _MAY_HOLD[place]:
            pass
        elif name not in _registry.ALLOWED:
            _registry.resolve(name, file=file)  # raises the allow-list error
        elif place is not None:
            raise _misplaced(name, place, file)
        if name == _registry.PIPELINE and place == _registry.EMBEDDER:
            name = _EMBEDDED
        entries += [(child, name) for child in _children(entry, name, file)]


def _children(entry: dict, name: str, file) -> list:
    if name == _registry.EMBEDDER:  # its model, unless it names a shipped one
        return [entry["model"]] if "model" in entry else []
    if name not in _MAY_HOLD:
        return []
    key = "estimators" if name == _registry.VOTING else "steps"
    children = entry.get(key)
    if not isinstance(children, list) or not children:
        raise ValueError(f"{file}: a {entry.get('class')} needs a non-empty list of \"{key}\".")
    return children


def _misplaced(name: str, place: str, file) -> ValueError:
    where = (f"a {_registry.PIPELINE} that is a FaceEmbedder's model" if place == _EMBEDDED
             else f"a {place}")
    if name in _MAY_HOLD:
        return ValueError(
            f"{file}: a {name} inside {where} is not supported (a pipeline may hold a "
            "FaceEmbedder, whose model may be a pipeline, and end in a VotingClassifier of "
            "FacialExpressionClassifiers; nothing else nests)."
        )
    return ValueError(
        f"{file} names the estimator class {name!r}, which ferkit does not load inside "
        f"{where}: it may hold only {sorted(_MAY_HOLD[place])}."
    )


def _read_arrays(folder: Path, manifest: dict) -> dict[str, np.ndarray]:
    if _format.ARRAYS_FILE not in manifest["files"]:
        return {}
    path = _format.verify_file(folder, manifest, _format.ARRAYS_FILE)
    _check_array_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:  # object arrays need pickle: refused
        raise ValueError(f"{path} holds arrays that need pickle; refusing them: {exc}") from exc
    except (OSError, EOFError) as exc:  # pragma: no cover - the checksum catches damage first
        raise ValueError(f"{path} is corrupted and cannot be read: {exc}") from exc


def _check_array_sizes(path: Path) -> None:
    """Refuse arrays larger than the bytes the file holds for them, before any is allocated.

    NumPy allocates the shape an ``.npy`` header declares before it reads the data, and a
    compressed member can expand far beyond the file's size. ferkit writes ``arrays.npz``
    uncompressed (``np.savez``), so every member must be stored as is and hold at least the
    bytes its header declares.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(
                        f"{path}: {info.filename} is compressed; ferkit writes its arrays "
                        "uncompressed, so that none can expand beyond the file's size."
                    )
                with archive.open(info) as member:
                    declared = _declared_bytes(member)
                if declared > info.file_size:
                    raise ValueError(
                        f"{path}: {info.filename} declares {declared} bytes of array data "
                        f"but holds {info.file_size}; the file is damaged or crafted."
                    )
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{path} is not a readable array archive: {exc}") from exc


def _declared_bytes(member) -> int:
    """The size of the array an ``.npy`` stream's header declares (the header alone is read)."""
    fmt = np.lib.format
    version = fmt.read_magic(member)
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = read_header(member)
    return int(np.prod(shape, dtype=object)) * dtype.itemsize



#: Parameters a class gained after files were first written, with the value that reproduces
#: how a file without them behaved: every parameter is saved, so a missing one means the file
#: predates it. FaceCropper found faces with the LBP cascade, unaligned, before MTCNN became
#: the default (issue #17).
_PARAMS_ADDED: dict[str, dict] = {"FaceCropper": {"detector": "lbp", "align": False}}


class _Reader:
    """Builds estimators from manifest entries; every error names the manifest."""

    def __init__(self, folder: Path, manifest: dict, file: Path, arrays: dict):
        self.folder, self.manifest, self.file, self.arrays = folder, manifest, file, arrays
        self.networks_read: set[str] = set()

    def decode(self, data, where: str):
        return _codec.decode(data, where=where, arrays=self.arrays, file=self.file)

    def mapping(self, entry: dict, key: str, where: str) -> dict:
        value = entry.get(key, {})
        if not isinstance(value, dict):
            raise ValueError(
                f"{self.file}: {where}.{key} must be an object; got "
                f"{_codec.short_repr(value, 120)}."
            )
        return {k: self.decode(v, f"{where}.{key}.{k}") for k, v in value.items()}

    def params(self, cls: type, entry: dict, where: str) -> dict:
        params = {**_PARAMS_ADDED.get(cls.__name__, {}), **self.mapping(entry, "params", where)}
        # scikit-learn's rule: parameters are the named arguments of __init__.
        known = {p.name for p in inspect.signature(cls.__init__).parameters.values()
                 if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        # scikeras' routed parameters ("fit__verbose"): plain values that scikeras hands to
        # Keras, accepted where the class routes that prefix.
        prefixes = getattr(cls, "_routing_prefixes", set())
        unknown = sorted(k for k in set(params) - known
                         if not ("__" in k and k.split("__")[0] in prefixes))
        if unknown:
            writer = self.manifest.get("written_by")
            writer = ", ".join(f"{k} {v}" for k, v in writer.items() if k in (
                "ferkit", "scikit-learn")) if isinstance(writer, dict) else "unknown versions"
            raise ValueError(
                f"{self.file}: {where} gives {cls.__name__} unknown parameter(s) {unknown}. "
                f"The model was written with {writer}; was that newer than this installation?"
            )
        return params

    def validated(self, estimator, where: str):
        if getattr(estimator, "_parameter_constraints", None):
            try:
                estimator._validate_params()
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{self.file}: {where} has invalid parameters: {exc}") from exc
        return estimator

    def pipeline(self, spec: dict, where: str = "estimator"):
        from sklearn.pipeline import Pipeline

        params = self.params(Pipeline, spec, where)
        params.pop("steps", None)
        memory = params.get("memory")
        if memory is not None:
            # Pipeline.fit would unpickle (run code from) whatever joblib cache files sit in
            # that folder; ferkit.save never writes one.
            raise ValueError(
                f"{self.file}: {where}.params.memory is {_codec.short_repr(memory, 120)}, "
                "a joblib cache location, which loads pickles when the pipeline is fitted; "
                "model files never set it. Refusing to load it."
            )
        steps = []
        for index, entry in enumerate(spec["steps"]):
            step_where = f"{where}.steps[{index}]"
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{self.file}: {step_where} needs a \"name\".")
            steps.append((name, self.step(entry, step_where,
                                          last=index == len(spec["steps"]) - 1)))
        self.check_widths(steps, where)
        try:
            return Pipeline(steps, **params)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self.file}: the pipeline cannot be rebuilt: {exc}") from exc

    def step(self, entry: dict, where: str, *, last: bool):
        """One pipeline step; what may be where was checked by :func:`_check_classes`."""
        cls_name = entry.get("class")
        if cls_name == _registry.PASSTHROUGH:
            value = entry.get("value")
            if value not in (None, _registry.PASSTHROUGH):
                raise ValueError(f"{self.file}: {where} has a bad passthrough {value!r}.")
            return value
        if cls_name in (_registry.CLASSIFIER, _registry.VOTING, *_registry.LINEAR):
            if not last:
                raise ValueError(f"{self.file}: {where}: the classifier must be last.")
            return self.final_step(entry, where)
        if cls_name == _registry.EMBEDDER:
            return self.embedder(entry, where)
        return self.transformer(entry, where)

    def check_widths(self, steps: list, where: str) -> None:
        """A step after a FaceEmbedder must take as many features as it gives: a file that
        says otherwise would only fail at the first prediction."""
        fitted = [(index, step) for index, (_, step) in enumerate(steps)
                  if step not in (None, _registry.PASSTHROUGH)]
        for (_, before), (index, after) in itertools.pairwise(fitted):
            given = getattr(before, "n_features_out_", None)
            taken = getattr(after, "n_features_in_", None)
            if given is not None and taken is not None and given != taken:
                raise ValueError(
                    f"{self.file}: {where}.steps[{index}] takes {taken} features "
                    f"(n_features_in_) but the step before it gives {given} "
                    "(n_features_out_); the entries do not belong together."
                )

    def final_step(self, entry: dict, where: str):
        """A classifier or an ensemble (what may stand alone or end a pipeline), or a linear
        classifier (which only ends a pipeline)."""
        if entry["class"] == _registry.VOTING:
            return self.voting(entry, where)
        if entry["class"] in _registry.LINEAR:
            return self.linear(entry, where)
        return self.classifier(entry, where)

    def linear(self, entry: dict, where: str):
        cls = _registry.resolve(entry["class"], file=self.file)
        params = self.params(cls, entry, where)
        state = self.mapping(entry, "state", where)
        estimator = self.validated(cls(**params), where)
        try:
            _linear.check_state(state, fit_intercept=estimator.fit_intercept)
        except ValueError as exc:
            raise ValueError(
                f"{self.file}: {where}.state is incomplete or malformed: {exc}."
            ) from exc
        for key, value in state.items():
            setattr(estimator, key, value)
        return estimator

    def embedder(self, entry: dict, where: str):
        """A FaceEmbedder over a shipped model (by name) or over the model stored with it,
        which is restored frozen: a clone of the loaded pipeline fits again without a path
        or object from the machine that saved it."""
        from sklearn.frozen import FrozenEstimator

        cls = _registry.resolve(_registry.EMBEDDER, file=self.file)
        params = self.params(cls, entry, where)
        state = self.mapping(entry, "state", where)
        if "model" in entry:
            if "model" in params:
                raise ValueError(
                    f"{self.file}: {where} gives both a stored model and params.model."
                )
            spec = entry["model"]
            model_where = f"{where}.model"
            params["model"] = FrozenEstimator(
                self.pipeline(spec, model_where) if spec["class"] == _registry.PIPELINE
                else self.final_step(spec, model_where)
            )
        else:
            self.check_shipped(entry, params.get("model"), where)
        embedder = self.validated(cls(**params), where)
        try:
            # As fit does: a shipped name is loaded from this installation, a frozen model
            # is used as it is.
            embedder._attach_model()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self.file}: {where} cannot be rebuilt: {exc}") from exc
        restored = {key: getattr(embedder, key) for key in ("n_features_in_", "n_features_out_")}
        if state != restored:
            raise ValueError(
                f"{self.file}: {where}.state is {_codec.short_repr(state, 120)}, but its model "
                f"gives {restored}; the entries do not belong together."
            )
        return embedder

    def check_shipped(self, entry: dict, name, where: str) -> None:
        """The shipped model a FaceEmbedder names must be the one it was saved with."""
        shipped = _format.shipped_models()
        if not isinstance(name, str) or name not in shipped:
            raise ValueError(
                f"{self.file}: {where}.params.model is {_codec.short_repr(name)}, which is not "
                f"a model ferkit ships ({shipped}); a FaceEmbedder over any other model is "
                "saved with that model's files."
            )
        recorded = entry.get("pretrained")
        if not (isinstance(recorded, dict)
                and recorded.get("checksum") == _format.shipped_checksum(name)):
            raise ValueError(
                f"{self.file}: {where} was saved over a shipped {name!r} whose files differ "
                "from this installation's (pretrained.checksum), so the steps after it would "
                "read other features. Load it with the ferkit version that saved it, or fit "
                "the pipeline again."
            )

    def transformer(self, entry: dict, where: str):
        cls = _registry.resolve(entry.get("class"), file=self.file)
        params = self.params(cls, entry, where)
        state = self.mapping(entry, "state", where)
        estimator = self.validated(cls(**params), where)
        legacy = {}
        for key, value in state.items():
            _registry.check_state_name(cls, key, file=self.file)
            if key.startswith("_"):
                # Private attributes that ferkit 0.1.0 saved (ImageReshaper._input_ndim,
                # PixelScaler._sample_shape): nothing reads them now, so they are checked
                # and left out, and the shipped models' files still load.
                legacy[key] = value
            else:
                setattr(estimator, key, value)
        try:
            _check_restored_shapes(estimator, legacy)
        except (NotFittedError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{self.file}: {where}.state is incomplete or malformed: {exc}"
            ) from exc
        return estimator

    def classifier(self, entry: dict, where: str):
        cls = _registry.resolve(_registry.CLASSIFIER, file=self.file)
        params = self.params(cls, entry, where)
        state = self.mapping(entry, "state", where)
        architecture_file, weights_file = self.network_files(entry, where)
        architecture = _format.verify_file(self.folder, self.manifest, architecture_file)
        weights = _format.verify_file(self.folder, self.manifest, weights_file)
        model = _keras_io.read_model(architecture, weights)
        try:
            classifier = cls._from_fitted_state(params, state, model)
            _check_restored_shapes(classifier)
        except (KeyError, TypeError, ValueError, NotFittedError) as exc:
            raise ValueError(
                f"{self.file}: {where}.state is incomplete or malformed: {exc!r}"
            ) from exc
        self.validated(classifier, where)
        n_classes = len(classifier.classes_)
        outputs = model.output_shape[-1]
        if outputs != n_classes:
            raise ValueError(
                f"{architecture} has {outputs} outputs but {self.file} lists {n_classes} "
                "classes; the files do not belong together."
            )
        if tuple(model.input_shape[1:]) != tuple(classifier.image_shape_):
            raise ValueError(
                f"{architecture} takes inputs of shape {tuple(model.input_shape[1:])} but "
                f"{self.file} records images of shape {tuple(classifier.image_shape_)}."
            )
        return classifier

    def network_files(self, entry: dict, where: str) -> tuple[str, str]:
        """The classifier's network files: named in its entry, or the single-network ones."""
        network = entry.get("network")
        if network is None:
            files = _format.network_files(0)
        else:
            files = (network.get("architecture"), network.get("weights")) \
                if isinstance(network, dict) else None
            if files not in [_format.network_files(i) for i in range(_format.MAX_NETWORKS)]:
                raise ValueError(
                    f"{self.file}: {where}.network must name the architecture and weights "
                    "files of one network (model-N.json and model-N.weights.h5); got "
                    f"{_codec.short_repr(network, 120)}."
                )
        if files[0] in self.networks_read:
            raise ValueError(
                f"{self.file}: {where} names the network files {list(files)}, which another "
                "classifier of the model already uses."
            )
        self.networks_read.add(files[0])
        return files

    def voting(self, entry: dict, where: str):
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils import Bunch

        cls = _registry.resolve(_registry.VOTING, file=self.file)
        params = self.params(cls, entry, where)
        params.pop("estimators", None)
        members, fitted = [], []
        for index, member in enumerate(entry["estimators"]):
            member_where = f"{where}.estimators[{index}]"
            name = member.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{self.file}: {member_where} needs a \"name\".")
            if member.get("class") == _registry.DROP:
                members.append((name, _registry.DROP))
                continue
            if member.get("class") != _registry.CLASSIFIER:
                raise ValueError(
                    f"{self.file}: {member_where} must be a {_registry.CLASSIFIER} or "
                    f"\"{_registry.DROP}\"; got {member.get('class')!r}."
                )
            fitted.append(self.classifier(member, member_where))
            members.append((name, fitted[-1]))
        state = self.mapping(entry, "state", where)
        try:
            dtype = np.dtype(state["classes_dtype"])
            if dtype.kind not in "biuUO":
                raise TypeError(f"classes_dtype {dtype} is not an integer or string type")
            classes = np.asarray(state["classes"], dtype=dtype)
            if classes.ndim != 1 or len(classes) < 2:
                raise ValueError(f"classes must be a list of at least 2; got {classes!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{self.file}: {where}.state is incomplete or malformed: {exc!r}"
            ) from exc
        if not fitted:
            raise ValueError(f"{self.file}: {where} has no member that is not dropped.")
        for (name, member) in members:
            if not isinstance(member, str) and len(member.classes_) != len(classes):
                raise ValueError(
                    f"{self.file}: {where} member {name!r} has {len(member.classes_)} classes "
                    f"but the ensemble has {len(classes)}; the entries do not belong together."
                )
        ensemble = self.validated(cls(estimators=members, **params), where)
        # The fitted attributes VotingClassifier.fit sets.
        ensemble.le_ = LabelEncoder()
        ensemble.le_.classes_ = classes
        ensemble.classes_ = classes
        ensemble.estimators_ = fitted
        ensemble.named_estimators_ = Bunch(**dict(members))
        return ensemble


def _check_restored_shapes(estimator, legacy: dict | None = None) -> None:
    """Refuse a restored state that would only fail later, deep inside ``transform``.

    The state comes from a file, so it may say anything: a shape of ``[]`` or ``None`` would
    reach NumPy's reshape at the first prediction. Checked here: the estimator counts as
    fitted, and every per-sample shape it holds is 1 to 3 positive integers whose product is
    its ``n_features_in_``.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and (
        not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1
    ):
        raise ValueError(f"n_features_in_ must be a positive integer; got {n_features!r}")
    shapes = {name: getattr(estimator, name) for name in _SHAPE_STATE if hasattr(estimator, name)}
    shapes.update({name: value for name, value in (legacy or {}).items() if name in _SHAPE_STATE})
    for name, shape in shapes.items():
        if not (
            isinstance(shape, list | tuple) and 1 <= len(shape) <= 3
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
        ):
            raise ValueError(f"{name} must be 1 to 3 positive integers; got {shape!r}")
        if n_features is not None and int(np.prod(shape)) != n_features:
            raise ValueError(
                f"{name} {list(shape)} does not hold the n_features_in_ = {n_features} values "
                "of one sample"
            )
