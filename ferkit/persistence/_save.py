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
    """Save a fitted ferkit classifier, ensemble or pipeline to a model folder.

    The folder holds JSON and HDF5 files only (see :mod:`ferkit.persistence` for the layout)
    and is written atomically: into a temporary folder beside ``path``, flushed to disk, then
    moved into place, so that ``path`` never holds a partial model, and a failed or killed
    save leaves the model previously saved there intact.

    Parameters
    ----------
    estimator : FacialExpressionClassifier, VotingClassifier or Pipeline
        A fitted classifier, a fitted :class:`~sklearn.ensemble.VotingClassifier` of
        classifiers (one network file pair each), or a fitted pipeline whose steps are
        ferkit transformers,
        :class:`~sklearn.preprocessing.StandardScaler`,
        :class:`~sklearn.preprocessing.MinMaxScaler`,
        :class:`~sklearn.preprocessing.MaxAbsScaler`,
        :class:`~sklearn.preprocessing.RobustScaler` or
        :class:`~sklearn.preprocessing.Normalizer`, usually ending in a
        :class:`~ferkit.FacialExpressionClassifier` or such an ensemble. Every parameter
        must be plain data.
    path : str or path-like
        Folder to create. Missing parent folders are created. A symbolic link to a folder is
        followed: the model it points to is replaced, and the link kept.
    overwrite : bool, default=False
        Replace a model already saved at ``path``. Only an empty folder or a valid ferkit
        model folder holding nothing but the files its ``ferkit.json`` lists is replaced;
        any other folder is never replaced, and the error names the files that would have
        been deleted.
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
        example a :class:`~sklearn.preprocessing.FunctionTransformer`, which holds code), an
        ensemble member is not a :class:`~ferkit.FacialExpressionClassifier`, or a
        parameter or fitted attribute is not plain data (a Keras callback, a random
        generator...). Nothing is written then.
    sklearn.exceptions.NotFittedError
        If the estimator or one of its steps is not fitted.
    ValueError
        If ``estimator`` is a pipeline with a ``memory`` (a joblib cache folder): set
        ``memory=None`` first; it holds more than 16 networks; or a network has a NaN or
        infinite weight (training diverged). Nothing is written then.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, it is not a model folder, it holds
        files the model does not list, or it is a symbolic link to nothing.

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
    networks: list = []  # the classifiers whose networks get files, in file order
    spec = _describe(estimator, arrays, networks)

    manifest = {
        "format": _format.FORMAT,
        "format_version": _format.FORMAT_VERSION,
        "written_by": _format.writer_versions(),
        "estimator": spec,
    }
    if networks:
        manifest["summary"] = _summary(estimator, networks)
        architecture_file, weights_file = _format.network_files(0)
        manifest["network"] = {
            "architecture": architecture_file,
            "weights": weights_file,
            "weights_dtype": weights_dtype,
            "optimizer_state": include_optimizer,
        }
        if len(networks) > 1:
            manifest["network"]["count"] = len(networks)
    # Built before any file is written: a refused architecture writes nothing.
    architectures = [
        _keras_io.architecture_json(clf.model_, file=path / _format.network_files(i)[0])
        for i, clf in enumerate(networks)
    ]

    with _atomic.atomic_folder(path, overwrite=overwrite, is_model_folder=_format.is_model_folder,
                               check_replaceable=_format.check_replaceable) as tmp:
        for index, (clf, architecture) in enumerate(zip(networks, architectures, strict=True)):
            architecture_file, weights_file = _format.network_files(index)
            _keras_io.write_architecture(tmp / architecture_file, architecture)
            _keras_io.write_weights(clf.model_, tmp / weights_file, weights_dtype=weights_dtype,
                                    include_optimizer=include_optimizer)
        if arrays:
            with open(tmp / _format.ARRAYS_FILE, "wb") as f:
                np.savez(f, allow_pickle=False, **arrays)
        manifest["files"] = _format.file_entries(tmp)
        # Last: a folder with a manifest is complete.
        _format.write_manifest(tmp, manifest)
    return path


def _describe(estimator, arrays: dict, networks: list) -> dict:
    """The manifest's ``estimator`` entry; classifiers whose networks need files go to
    ``networks``."""
    name = _registry.name_of(estimator)
    if name == _registry.PIPELINE:
        return _describe_pipeline(estimator, arrays, networks)
    if name in _FINAL_STEPS:
        return _FINAL_STEPS[name](estimator, type(estimator).__name__, arrays, networks)
    raise TypeError(
        "ferkit.save stores a fitted FacialExpressionClassifier, a fitted "
        "sklearn.ensemble.VotingClassifier of them, or a fitted sklearn.pipeline.Pipeline of "
        f"supported steps; got {type(estimator).__module__}.{type(estimator).__qualname__}."
    )


def _describe_pipeline(pipeline, arrays: dict, networks: list) -> dict:
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
    described = []
    for index, (step_name, step) in enumerate(steps):
        where = f"Pipeline step {step_name!r}"
        if step is None or (isinstance(step, str) and step == _registry.PASSTHROUGH):
            described.append({"name": step_name, "class": _registry.PASSTHROUGH,
                              "value": step})
            continue
        name = _registry.name_of(step)
        if name in _FINAL_STEPS:
            if index != len(steps) - 1:
                raise TypeError(f"{where}: the classifier must be the last step.")
            described.append({"name": step_name,
                              **_FINAL_STEPS[name](step, where, arrays, networks)})
        elif name in _registry.TRANSFORMERS:
            described.append({"name": step_name, **_describe_transformer(step, name, where,
                                                                         arrays)})
        else:
            raise _unsupported_step(step, where)
    return {
        "class": _registry.PIPELINE,
        "params": _encode_params(params, "Pipeline", arrays),
        "steps": described,
    }


def _describe_classifier(clf, where: str, arrays: dict, networks: list) -> dict:
    if not getattr(clf, "initialized_", False):
        raise NotFittedError(f"{where} is not fitted yet: call fit before ferkit.save.")
    _check_finite_weights(clf, where)
    params = clf.get_params(deep=False)
    if params.get("callbacks"):
        raise TypeError(
            f"{where} parameter 'callbacks' holds Keras callbacks, which are code and cannot "
            "be stored in a model file. They only matter for training: call "
            "set_params(callbacks=None) before saving."
        )
    entry = {
        "class": _registry.CLASSIFIER,
        "params": _encode_params(params, where, arrays),
        "state": _codec.encode(clf._get_fitted_state(), where=f"{where} fitted state",
                               arrays=arrays),
    }
    index = len(networks)
    if index >= _format.MAX_NETWORKS:
        raise ValueError(
            f"{where}: a model folder holds at most {_format.MAX_NETWORKS} networks."
        )
    networks.append(clf)
    if index:  # the first network keeps the single-network file names, unnamed
        architecture_file, weights_file = _format.network_files(index)
        entry["network"] = {"architecture": architecture_file, "weights": weights_file}
    return entry


def _check_finite_weights(clf, where: str) -> None:
    """Refuse a network with a NaN or infinite weight (training diverged): it would predict
    NaN for every face, and a model file is what gets shipped."""
    for weight in clf.model_.weights:
        values = np.asarray(weight)
        if not np.isfinite(values).all():
            raise ValueError(
                f"{where}: the network's weight {weight.path!r} holds "
                f"{np.count_nonzero(~np.isfinite(values))} NaN or infinite value(s), as after "
                "training that diverged; ferkit.save writes no such model. Train it again "
                "with a lower learning_rate."
            )


def _describe_voting(ensemble, where: str, arrays: dict, networks: list) -> dict:
    params = _fitted_params(ensemble, where)
    members, fitted = [], iter(ensemble.estimators_)
    # estimators_ holds the fitted members in order, without the dropped ones.
    for member_name, member in params.pop("estimators"):
        if isinstance(member, str) and member == _registry.DROP:
            members.append({"name": member_name, "class": _registry.DROP})
            continue
        member = next(fitted)
        member_where = f"{where} member {member_name!r}"
        if _registry.name_of(member) != _registry.CLASSIFIER:
            raise TypeError(
                f"{member_where} is a {type(member).__module__}.{type(member).__qualname__}; "
                "ferkit.save stores ensembles of FacialExpressionClassifier only. Put the "
                "preprocessing the members share before the VotingClassifier, in a Pipeline."
            )
        members.append({"name": member_name,
                        **_describe_classifier(member, member_where, arrays, networks)})
    return {
        "class": _registry.VOTING,
        "params": _encode_params(params, where, arrays),
        "estimators": members,
        "state": {"classes": _codec.encode(ensemble.classes_.tolist(), where=f"{where} classes_",
                                           arrays=arrays),
                  "classes_dtype": ensemble.classes_.dtype.str},
    }


#: How each estimator that may stand alone or end a pipeline is described.
_FINAL_STEPS = {_registry.CLASSIFIER: _describe_classifier, _registry.VOTING: _describe_voting}


def _describe_transformer(step, name: str, where: str, arrays: dict) -> dict:
    params = _fitted_params(step, where)
    encoded_params = _encode_params(params, where, arrays)
    state = _registry.fitted_state(step, params)
    return {
        "class": name,
        "params": encoded_params,
        "state": {key: _codec.encode(value, where=f"{where} fitted attribute {key!r}",
                                     arrays=arrays)
                  for key, value in state.items()},
    }


def _fitted_params(estimator, where: str) -> dict:
    """The parameters of a fitted scikit-learn estimator; NotFittedError names ``where``."""
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise NotFittedError(f"{where}: {exc}") from exc
    return estimator.get_params(deep=False)


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


def _summary(estimator, networks: list) -> dict:
    """Human-facing facts about the model: classes, input, training outcome of each network."""
    trained = []
    for clf in networks:
        history = clf.history_
        trained.append({
            "epochs_run": len(history.get("loss", [])),
            "final_metrics": _codec.encode(
                {key: values[-1] for key, values in history.items() if values},
                where="history_", arrays={},
            ),
        })
    summary = {
        "classes": _codec.encode(np.asarray(estimator.classes_).tolist(), where="classes_",
                                 arrays={}),
        "input_shape": list(networks[0].image_shape_),
        "n_features_in": _n_features_in(estimator),
    }
    if len(trained) == 1:
        summary.update(trained[0])
    else:
        summary["networks"] = trained
    return summary


def _n_features_in(estimator) -> int | None:
    try:
        return int(estimator.n_features_in_)
    except (AttributeError, TypeError):
        return None
