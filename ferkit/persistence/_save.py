"""``ferkit.save``: describe a fitted estimator as plain data, then write the folder atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ferkit.persistence import _atomic, _codec, _format, _keras_io, _linear, _registry


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
        :class:`~sklearn.preprocessing.RobustScaler`,
        :class:`~sklearn.preprocessing.Normalizer` or :class:`~ferkit.FaceEmbedder`,
        usually ending in a :class:`~ferkit.FacialExpressionClassifier`, such an ensemble,
        or a :class:`~sklearn.linear_model.LogisticRegression` or
        :class:`~sklearn.svm.LinearSVC`. Every parameter must be plain data. A
        FaceEmbedder's ``model``, unless it names a shipped model, is stored in the folder
        with its networks.
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
        infinite weight, or a linear classifier a NaN or infinite coefficient (training
        diverged). Nothing is written then.
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
    summary = _summary(estimator, networks)
    if summary:
        manifest["summary"] = summary
    if networks:
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
    hint = ""
    if name in _registry.LINEAR or name == _registry.EMBEDDER:
        # A linear model alone classifies features, not faces: the faces' model is the
        # pipeline that makes the features.
        hint = (f" A {type(estimator).__name__} is saved as a step of the pipeline it belongs "
                "to, e.g. make_pipeline(FaceEmbedder(), LogisticRegression()).")
    raise TypeError(
        "ferkit.save stores a fitted FacialExpressionClassifier, a fitted "
        "sklearn.ensemble.VotingClassifier of them, or a fitted sklearn.pipeline.Pipeline of "
        f"supported steps; got {type(estimator).__module__}.{type(estimator).__qualname__}."
        + hint
    )


def _describe_pipeline(pipeline, arrays: dict, networks: list, *, where: str = "Pipeline",
                       embedded: bool = False) -> dict:
    """A pipeline's entry. ``embedded``: the model of a FaceEmbedder, which ends in a network
    and holds no FaceEmbedder or linear classifier of its own."""
    params = pipeline.get_params(deep=False)
    steps = params.pop("steps")
    if params.get("memory") is not None:
        # A cache folder is a place on one machine, and joblib unpickles what it finds there
        # when the pipeline is fitted: ferkit.load refuses it, so it is not written either.
        raise ValueError(
            f"{where} parameter 'memory' is {_codec.short_repr(params['memory'], 120)}: "
            "ferkit.save does not store a joblib cache location. It only matters for "
            "fitting: call set_params(memory=None) before saving."
        )
    described = [
        {"name": step_name,
         **_describe_step(step, f"{where} step {step_name!r}", arrays, networks,
                          last=index == len(steps) - 1, embedded=embedded)}
        for index, (step_name, step) in enumerate(steps)
    ]
    return {
        "class": _registry.PIPELINE,
        "params": _encode_params(params, where, arrays),
        "steps": described,
    }


def _describe_step(step, where: str, arrays: dict, networks: list, *, last: bool,
                   embedded: bool) -> dict:
    if step is None or (isinstance(step, str) and step == _registry.PASSTHROUGH):
        return {"class": _registry.PASSTHROUGH, "value": step}
    name = _registry.name_of(step)
    final = {**_FINAL_STEPS, **({} if embedded else _LINEAR_STEPS)}
    if name in final:
        if not last:
            raise TypeError(f"{where}: the classifier must be the last step.")
        return final[name](step, where, arrays, networks)
    if name in _registry.TRANSFORMERS:
        return _describe_transformer(step, name, where, arrays)
    if name == _registry.EMBEDDER and not embedded:
        return _describe_embedder(step, where, arrays, networks)
    raise _unsupported_step(step, where, embedded=embedded)


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


def _describe_linear(clf, where: str, arrays: dict, networks: list) -> dict:
    params = _fitted_params(clf, where)
    state = _linear.fitted_state(clf)
    try:
        # The checks load applies: a model that diverged (NaN coefficients) is not written.
        _linear.check_state(state, fit_intercept=params.get("fit_intercept", True))
    except ValueError as exc:
        raise ValueError(f"{where} cannot be saved: {exc}.") from exc
    return {"class": _registry.name_of(clf), "params": _encode_params(params, where, arrays),
            "state": _encode_state(state, where, arrays)}


#: How each estimator that may stand alone or end a pipeline is described.
_FINAL_STEPS = {_registry.CLASSIFIER: _describe_classifier, _registry.VOTING: _describe_voting}

#: Classifiers that may end a pipeline, after a FaceEmbedder, but not stand alone.
_LINEAR_STEPS = dict.fromkeys(_registry.LINEAR, _describe_linear)


def _describe_embedder(embedder, where: str, arrays: dict, networks: list) -> dict:
    """A FaceEmbedder's entry. A shipped model is named (and its files' checksum recorded):
    every ferkit installation has it. Any other model travels inside the folder: a path
    means nothing on another machine, and a model object must be written out."""
    params = _fitted_params(embedder, where)
    model = params.pop("model")
    entry = {
        "class": _registry.EMBEDDER,
        "params": _encode_params(params, where, arrays),
        "state": _encode_state({key: getattr(embedder, key) for key in _EMBEDDER_STATE},
                               where, arrays),
    }
    if isinstance(model, str) and model in _format.shipped_models():
        entry["params"]["model"] = model
        entry["pretrained"] = {"checksum": _format.shipped_checksum(model)}
        return entry
    fitted = embedder.model_
    # What FaceEmbedder reads through: scikit-learn's FrozenEstimator keeps the model as is.
    fitted = fitted.estimator if type(fitted).__name__ == "FrozenEstimator" else fitted
    model_where = f"{where} model"
    name = _registry.name_of(fitted)
    if name == _registry.PIPELINE:
        entry["model"] = _describe_pipeline(fitted, arrays, networks, where=model_where,
                                            embedded=True)
    elif name in _FINAL_STEPS:
        entry["model"] = _FINAL_STEPS[name](fitted, model_where, arrays, networks)
    else:
        raise TypeError(
            f"{model_where} is a {type(fitted).__module__}.{type(fitted).__qualname__}; "
            "ferkit.save stores a FaceEmbedder over a shipped model's name, or over a "
            "FacialExpressionClassifier, VotingClassifier of them or Pipeline ending in one."
        )
    return entry


#: A fitted FaceEmbedder's attributes besides ``model_``, which ferkit.load rebuilds.
_EMBEDDER_STATE = ("n_features_in_", "n_features_out_")


def _describe_transformer(step, name: str, where: str, arrays: dict) -> dict:
    params = _fitted_params(step, where)
    encoded_params = _encode_params(params, where, arrays)
    return {
        "class": name,
        "params": encoded_params,
        "state": _encode_state(_registry.fitted_state(step, params), where, arrays),
    }


def _encode_state(state: dict, where: str, arrays: dict) -> dict:
    return {key: _codec.encode(value, where=f"{where} fitted attribute {key!r}", arrays=arrays)
            for key, value in state.items()}


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


def _unsupported_step(step, where: str, *, embedded: bool) -> TypeError:
    cls = type(step)
    full = f"{cls.__module__}.{cls.__qualname__}"
    holds_code = [k for k, v in _safe_params(step).items() if callable(v)]
    reason = (f"it holds Python code (parameter(s) {holds_code}), and a ferkit model file "
              "holds data only" if holds_code else "it is not a class ferkit can store safely")
    supported = _registry.TRANSFORMERS | {_registry.CLASSIFIER, _registry.VOTING}
    if not embedded:
        supported |= {_registry.EMBEDDER, *_registry.LINEAR}
    return TypeError(
        f"{where} is a {full}, which ferkit.save cannot store: {reason}. Supported step "
        f"classes: {sorted(supported)}."
    )


def _safe_params(step) -> dict:
    try:
        return step.get_params(deep=False)
    except Exception:  # not an estimator at all
        return {}


def _summary(estimator, networks: list) -> dict:
    """Human-facing facts about the model: classes, input, training outcome of each network.

    Empty for a model that classifies nothing (a pipeline of transformers)."""
    # A pipeline's classes_ is its last step's: absent when that is a transformer.
    classifies = hasattr(estimator, "classes_")
    if not networks and not classifies:
        return {}
    summary = {}
    if classifies:
        summary["classes"] = _codec.encode(np.asarray(estimator.classes_).tolist(),
                                           where="classes_", arrays={})
    if networks:
        summary["input_shape"] = list(networks[0].image_shape_)
    summary["n_features_in"] = _n_features_in(estimator)
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
    if len(trained) == 1:
        summary.update(trained[0])
    elif trained:
        summary["networks"] = trained
    return summary


def _n_features_in(estimator) -> int | None:
    try:
        return int(estimator.n_features_in_)
    except (AttributeError, TypeError):
        return None
