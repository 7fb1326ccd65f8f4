"""``ferkit.save``: describe a fitted estimator as plain data, then write the folder atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ferkit.persistence import _atomic, _codec, _format, _keras_io, _registry


def save(estimator, path: str | os.PathLike, *, overwrite: bool = False,
         weights_dtype: str = "float32", include_optimizer: bool = True) -> Path:
    """Save a fitted ferkit classifier or pipeline to a model folder.

    The folder holds JSON and HDF5 files only (see :mod:`ferkit.persistence` for the layout)
    and is written atomically: into a temporary folder beside ``path``, flushed to disk, then
    moved into place, so that ``path`` never holds a partial model, and a failed or killed
    save leaves the model previously saved there intact.

    Parameters
    ----------
    estimator : FacialExpressionClassifier or sklearn.pipeline.Pipeline
        A fitted classifier, or a fitted pipeline whose steps are ferkit transformers,
        :class:`~sklearn.preprocessing.StandardScaler`,
        :class:`~sklearn.preprocessing.MinMaxScaler`,
        :class:`~sklearn.preprocessing.MaxAbsScaler`,
        :class:`~sklearn.preprocessing.RobustScaler` or
        :class:`~sklearn.preprocessing.Normalizer`, usually ending in a
        :class:`~ferkit.FacialExpressionClassifier`. Every parameter must be plain data.
    path : str or path-like
        Folder to create. Missing parent folders are created.
    overwrite : bool, default=False
        Replace a model already saved at ``path``. A folder that is not a ferkit model
        (no ``ferkit.json``) and not empty is never replaced.
    weights_dtype : {"float32", "float16"}, default="float32"
        Storage type of the network weights. ``"float32"`` reproduces predictions exactly;
        ``"float16"`` halves the file, and the weights are rounded to about 3 significant
        digits: check the loaded model's predictions on held-out data before relying on it.
    include_optimizer : bool, default=True
        Also store the optimizer's state (Adam's moment estimates...), so that training a
        loaded classifier further (``warm_start``, ``partial_fit``) continues exactly where it
        stopped. Without it the weights file is about a third of the size, and further
        training starts with a fresh optimizer.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``estimator`` is not a supported estimator, a step is not a supported class (for
        example a :class:`~sklearn.preprocessing.FunctionTransformer`, which holds code), or a
        parameter or fitted attribute is not plain data (a Keras callback, a random
        generator...). Nothing is written then.
    sklearn.exceptions.NotFittedError
        If the estimator or one of its steps is not fitted.
    ValueError
        If ``estimator`` is a pipeline with a ``memory`` (a joblib cache folder): set
        ``memory=None`` first.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or it is not a model folder.

    See Also
    --------
    ferkit.load : Load a model saved by this function.

    Notes
    -----
    :mod:`pickle` and :mod:`joblib` also work on fitted ferkit estimators (the scikit-learn
    convention), but loading a pickle runs code from the file: use them for your own
    short-lived files only, and this format for anything shared or kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample(emotions=("happy", "sad"))
    >>> pipe = ferkit.make_fer_pipeline(filters=(4,), dense_units=(8,), epochs=1,
    ...                                 random_state=0).fit(faces.data, faces.target)
    >>> folder = ferkit.save(pipe, pathlib.Path(tempfile.mkdtemp()) / "fer-model")
    >>> sorted(p.name for p in folder.iterdir())
    ['ferkit.json', 'model.json', 'model.weights.h5']
    """
    _keras_io.check_weights_dtype(weights_dtype)
    if not isinstance(overwrite, bool) or not isinstance(include_optimizer, bool):
        raise TypeError("overwrite and include_optimizer must be bools.")
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ValueError(f"path must name the model folder to create; got {str(path)!r}.")
    arrays: dict[str, np.ndarray] = {}
    spec, classifier = _describe(estimator, arrays)

    manifest = {
        "format": _format.FORMAT,
        "format_version": _format.FORMAT_VERSION,
        "written_by": _format.writer_versions(),
        "estimator": spec,
    }
    if classifier is not None:
        manifest["summary"] = _summary(estimator, classifier)
        manifest["network"] = {
            "architecture": _keras_io.ARCHITECTURE_FILE,
            "weights": _keras_io.WEIGHTS_FILE,
            "weights_dtype": weights_dtype,
            "optimizer_state": include_optimizer,
        }
        # Built before any file is written: a refused architecture writes nothing.
        architecture = _keras_io.architecture_json(
            classifier.model_, file=path / _keras_io.ARCHITECTURE_FILE
        )

    with _atomic.atomic_folder(path, overwrite=overwrite, is_model_folder=_format.is_model_folder) \
            as tmp:
        if classifier is not None:
            _keras_io.write_architecture(tmp / _keras_io.ARCHITECTURE_FILE, architecture)
            _keras_io.write_weights(classifier.model_, tmp / _keras_io.WEIGHTS_FILE,
                                    weights_dtype=weights_dtype,
                                    include_optimizer=include_optimizer)
        if arrays:
            with open(tmp / _format.ARRAYS_FILE, "wb") as f:
                np.savez(f, allow_pickle=False, **arrays)
        manifest["files"] = _format.file_entries(tmp)
        # Last: a folder with a manifest is complete.
        _format.write_manifest(tmp, manifest)
    return path


def _describe(estimator, arrays: dict) -> tuple[dict, object]:
    """The manifest's ``estimator`` entry, and the classifier whose network must be written."""
    name = _registry.name_of(estimator)
    if name == _registry.PIPELINE:
        return _describe_pipeline(estimator, arrays)
    if name == _registry.CLASSIFIER:
        return _describe_classifier(estimator, "FacialExpressionClassifier", arrays), estimator
    raise TypeError(
        "ferkit.save stores a fitted FacialExpressionClassifier or a fitted "
        "sklearn.pipeline.Pipeline of supported steps; got "
        f"{type(estimator).__module__}.{type(estimator).__qualname__}."
    )


def _describe_pipeline(pipeline, arrays: dict) -> tuple[dict, object]:
    params = pipeline.get_params(deep=False)
    steps = params.pop("steps")
    if params.get("memory") is not None:
        # A cache folder is a place on one machine, and joblib unpickles what it finds there
        # when the pipeline is fitted: ferkit.load refuses it, so it is not written either.
        raise ValueError(
            f"Pipeline parameter 'memory' is {_codec.short_repr(params['memory'], 120)}: "
            "ferkit.save does not store a joblib cache location. It only matters for "
            "fitting: call set_params(memory=None) before saving."
        )
    described, classifier = [], None
    for index, (step_name, step) in enumerate(steps):
        where = f"Pipeline step {step_name!r}"
        if step is None or (isinstance(step, str) and step == _registry.PASSTHROUGH):
            described.append({"name": step_name, "class": _registry.PASSTHROUGH,
                              "value": step})
            continue
        name = _registry.name_of(step)
        if name == _registry.CLASSIFIER:
            if index != len(steps) - 1:
                raise TypeError(f"{where}: the FacialExpressionClassifier must be the last step.")
            classifier = step
            described.append({"name": step_name,
                              **_describe_classifier(step, where, arrays)})
        elif name in _registry.TRANSFORMERS:
            described.append({"name": step_name, **_describe_transformer(step, name, where,
                                                                         arrays)})
        else:
            raise _unsupported_step(step, where)
    return {
        "class": _registry.PIPELINE,
        "params": _encode_params(params, "Pipeline", arrays),
        "steps": described,
    }, classifier


def _describe_classifier(clf, where: str, arrays: dict) -> dict:
    if not getattr(clf, "initialized_", False):
        raise NotFittedError(f"{where} is not fitted yet: call fit before ferkit.save.")
    params = clf.get_params(deep=False)
    if params.get("callbacks"):
        raise TypeError(
            f"{where} parameter 'callbacks' holds Keras callbacks, which are code and cannot "
            "be stored in a model file. They only matter for training: call "
            "set_params(callbacks=None) before saving."
        )
    return {
        "class": _registry.CLASSIFIER,
        "params": _encode_params(params, where, arrays),
        "state": _codec.encode(clf._get_fitted_state(), where=f"{where} fitted state",
                               arrays=arrays),
    }


def _describe_transformer(step, name: str, where: str, arrays: dict) -> dict:
    try:
        check_is_fitted(step)
    except NotFittedError as exc:
        raise NotFittedError(f"{where}: {exc}") from exc
    params = step.get_params(deep=False)
    encoded_params = _encode_params(params, where, arrays)
    state = _registry.fitted_state(step, params)
    return {
        "class": name,
        "params": encoded_params,
        "state": {key: _codec.encode(value, where=f"{where} fitted attribute {key!r}",
                                     arrays=arrays)
                  for key, value in state.items()},
    }


def _encode_params(params: dict, where: str, arrays: dict) -> dict:
    return {key: _codec.encode(value, where=f"{where} parameter {key!r}", arrays=arrays)
            for key, value in params.items()}


def _unsupported_step(step, where: str) -> TypeError:
    cls = type(step)
    full = f"{cls.__module__}.{cls.__qualname__}"
    holds_code = [k for k, v in _safe_params(step).items() if callable(v)]
    reason = (f"it holds Python code (parameter(s) {holds_code}), and a ferkit model file "
              "holds data only" if holds_code else "it is not a class ferkit can store safely")
    return TypeError(
        f"{where} is a {full}, which ferkit.save cannot store: {reason}. Supported step "
        f"classes: {sorted(_registry.TRANSFORMERS | {_registry.CLASSIFIER})}."
    )


def _safe_params(step) -> dict:
    try:
        return step.get_params(deep=False)
    except Exception:  # not an estimator at all
        return {}


def _summary(estimator, classifier) -> dict:
    """Human-facing facts about the model: classes, input, training outcome."""
    history = classifier.history_
    summary = {
        "classes": _codec.encode(classifier.classes_.tolist(), where="classes_", arrays={}),
        "input_shape": list(classifier.image_shape_),
        "n_features_in": _n_features_in(estimator),
        "epochs_run": len(history.get("loss", [])),
        "final_metrics": _codec.encode(
            {key: values[-1] for key, values in history.items() if values},
            where="history_", arrays={},
        ),
    }
    return summary


def _n_features_in(estimator) -> int | None:
    try:
        return int(estimator.n_features_in_)
    except (AttributeError, TypeError):
        return None
