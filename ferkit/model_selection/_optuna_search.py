"""OptunaSearchCV: hyper-parameter search with Optuna, as a scikit-learn meta-estimator."""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, indexable

from ferkit.model_selection._sampling import TrialSeededTPESampler
from ferkit.model_selection._search_space import _SearchSpace, default_search_space

_logger = logging.getLogger(__name__)

#: Trial user attributes written by OptunaSearchCV.
_CV_ATTR = "ferkit_cv"  # {"test_scores": [...], "fit_times": [...], "score_times": [...]}
_SURPLUS_ATTR = "ferkit_surplus"  # a trial created after the study reached n_trials
_WORKER_ATTR = "ferkit_worker"  # "host:pid" of the process that ran the trial
_PRUNED_AT_ATTR = "ferkit_pruned_at"  # {"fold": k, "epoch": e}, 1-based epoch

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def default_pruner() -> optuna.pruners.BasePruner:
    """The pruner used with ``pruning=True``: Optuna's median rule.

    A trial is stopped when its validation loss at some epoch is worse than the median of
    the completed trials at the same epoch and fold. The first 5 trials always run to the
    end (the median needs a few), and the first 2 epochs of a fit are never judged (early
    losses are noisy).
    """
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)


def _final_step(estimator) -> tuple[str, object]:
    """The estimator that does the learning, and the prefix addressing its parameters."""
    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return prefix, estimator


def _check_fixed_params(estimator) -> None:
    """Validate the parameters of the estimator and its steps now, not in the first trial."""
    estimators = [estimator, *(
        value for value in estimator.get_params(deep=True).values()
        if isinstance(value, BaseEstimator)
    )]
    for est in estimators:
        if getattr(est, "_parameter_constraints", None):
            est._validate_params()


def _search_estimator_has(attr: str):
    """Delegate ``attr`` to the refitted best estimator, like scikit-learn's searches."""

    def check(self):
        if not self.refit:
            raise AttributeError(
                f"This {type(self).__name__} was created with refit=False: {attr} is available "
                "only after refitting on the best parameters (see best_params_)."
            )
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator,
                attr)
        return True

    return check


def _storage_label(url: str) -> str:
    """The storage URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it as given
        return url


class OptunaSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Hyper-parameter search with Optuna, cross-validated, as a scikit-learn estimator.

    Each Optuna trial draws parameters from ``param_distributions`` (Optuna's TPE sampler),
    scores them by cross-validation and reports the mean score to an Optuna study; the best
    parameters are then refit on all the data, as
    :class:`~sklearn.model_selection.GridSearchCV` does. Trials of a Keras estimator that
    learn worse than the others are stopped early (pruned) from their per-epoch validation
    loss. With a ``storage``, several processes, on one machine or many, work on one study
    together.

    Parameters
    ----------
    estimator : estimator object
        A :class:`~ferkit.FacialExpressionClassifier`, a :class:`~sklearn.pipeline.Pipeline`
        ending in one (such as :func:`ferkit.make_fer_pipeline`'s), or any scikit-learn
        estimator (without pruning).
    param_distributions : dict of str to optuna distribution, default=None
        Parameter names (``"dropout"``, or ``"clf__dropout"`` in a pipeline) to
        ``optuna.distributions.FloatDistribution``, ``IntDistribution`` or
        ``CategoricalDistribution``. Categorical choices may be tuples (``filters``,
        ``dense_units``). None uses :func:`default_search_space` for the classifier,
        prefixed with the pipeline step's name.
    n_trials : int, default=20
        Number of trials in the study, counted over all the processes that share it and
        over earlier runs on the same stored study: a process stops once the study holds
        ``n_trials`` trials (complete, pruned or failed), so two workers given
        ``n_trials=20`` run 20 trials between them. Pass a larger number to extend a stored
        study.
    cv : int, cross-validation generator or iterable, default=3
        Cross-validation splitting, as in :func:`~sklearn.model_selection.check_cv`
        (stratified for classifiers).
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or callable (greater is better); None uses the
        estimator's ``score`` (accuracy for the classifier).
    storage : str, optuna storage or None, default=None
        Where the study lives: None keeps it in memory; a database URL
        (``"sqlite:///study.db"``, ``"postgresql://user:password@host/db"``) or an Optuna
        storage object (``optuna.storages.JournalStorage``...) shares it between
        processes. The storage is opened before any training; a URL that cannot be opened
        is a ``ValueError``.
    study_name : str or None, default=None
        Name of the study in ``storage``; processes with the same name and storage share a
        study, and an existing study is continued. None lets Optuna make a unique name.
    pruning : bool or optuna pruner, default=True
        True prunes with :func:`default_pruner`; an ``optuna.pruners.BasePruner`` is used
        as given; False runs every trial to the end. Pruning needs a Keras estimator (one
        with a ``callbacks`` parameter) and validation data (``validation_split > 0``).
    timeout : float or None, default=None
        Stop starting new trials in this process after this many seconds.
    refit : bool, default=True
        Refit the estimator with the best parameters on the whole data set, which enables
        :meth:`predict`, :meth:`predict_proba` and :meth:`score`.
    random_state : int or None, default=None
        Seeds the sampler (each trial's from ``(random_state, trial number)``, so workers
        sharing a study draw distinct parameters) and, where it is None, the classifier's
        ``random_state``. With an int, a one-process search on the CPU is repeatable.

    Attributes
    ----------
    study_ : optuna.study.Study
        The study, with every trial (and the trials of other processes sharing it).
    cv_results_ : dict of str to ndarray
        One entry per finished trial of the study, ordered by trial number, shaped like
        :class:`~sklearn.model_selection.GridSearchCV`'s: ``params``, ``param_<name>``
        (masked arrays), ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
        ``std_score_time``; and ``trial_number``, ``state`` (``"COMPLETE"``, ``"PRUNED"``,
        ``"FAIL"``) and ``pruned``. A pruned trial keeps the scores of its completed folds;
        its mean is NaN and it ranks last.
    best_index_ : int
        Index in ``cv_results_`` of the best trial.
    best_params_ : dict
        Parameters of the best trial, as the estimator takes them (tuples as tuples).
    best_score_ : float
        Mean cross-validated score of the best trial.
    best_estimator_ : estimator
        The estimator with ``best_params_``, refit on the whole data (with ``refit=True``).
    scorer_ : callable
        The scorer used for the trials and :meth:`score`.
    n_splits_ : int
        Number of cross-validation splits.
    n_trials_ : int
        Number of finished trials in the study (``len(cv_results_["params"])``).
    refit_time_ : float
        Seconds spent refitting the best estimator.

    See Also
    --------
    default_search_space : The search space used when ``param_distributions`` is None.
    sklearn.model_selection.GridSearchCV : Exhaustive search over a grid.

    Notes
    -----
    **Distributed search.** Start the same script in several processes or machines with
    the same ``storage`` and ``study_name``: Optuna's storage hands out trial numbers
    atomically, so each trial runs once. Every process stops when the study holds
    ``n_trials`` trials (``optuna.study.MaxTrialsCallback``); should two processes start a
    trial at the same instant when one was left, the later one is recorded as a pruned
    trial with the user attribute ``ferkit_surplus`` and trains nothing, and it is left out
    of ``cv_results_``. A process killed in the middle of a trial leaves it ``RUNNING``,
    and it still counts; pass ``optuna.storages.RDBStorage(url, heartbeat_interval=60)`` as
    ``storage`` to have such trials marked failed. SQLite suits a few processes on one
    machine; use PostgreSQL or MySQL across machines. Each trial records its
    cross-validation scores and the ``host:pid`` of its worker as user attributes
    (``ferkit_cv``, ``ferkit_worker``).

    **Pruning.** Each fold reports the negated validation loss of every epoch to the trial
    at step ``fold * epochs + epoch`` (negated because the study maximises the score), so
    pruners compare trials at the same fold and epoch.

    **Tuple choices.** Optuna stores categorical choices as JSON scalars; tuple choices
    are stored as JSON strings (``"[32, 64]"``), so ``study_.best_params`` shows strings
    where ``best_params_`` shows tuples. Optuna warns when a ``CategoricalDistribution``
    is created with tuple choices; that warning is harmless here.

    A failing fit (an exception) stops the search, as ``error_score="raise"`` does in
    scikit-learn's searches.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution
    >>> from ferkit import make_fer_pipeline
    >>> from ferkit.datasets import load_sample
    >>> from ferkit.model_selection import OptunaSearchCV
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> X, y = load_sample(emotions=("happy", "sad"), return_X_y=True)
    >>> pipe = make_fer_pipeline(filters=(4,), dense_units=(8,), epochs=1)
    >>> search = OptunaSearchCV(
    ...     pipe, {"clf__dropout": FloatDistribution(0.0, 0.5)}, n_trials=2, cv=2,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> sorted(search.best_params_)
    ['clf__dropout']
    >>> search.cv_results_["state"].tolist()
    ['COMPLETE', 'COMPLETE']
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "param_distributions": [dict, None],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "storage": [str, HasMethods(["create_new_study", "create_new_trial"]), None],
        "study_name": [str, None],
        "pruning": ["boolean", HasMethods(["prune"])],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "refit": ["boolean"],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator,
        param_distributions=None,
        *,
        n_trials=20,
        cv=3,
        scoring=None,
        storage=None,
        study_name=None,
        pruning=True,
        timeout=None,
        refit=True,
        random_state=None,
    ):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.cv = cv
        self.scoring = scoring
        self.storage = storage
        self.study_name = study_name
        self.pruning = pruning
        self.timeout = timeout
        self.refit = refit
        self.random_state = random_state

    def __sklearn_tags__(self):
        from copy import deepcopy

        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = deepcopy(sub.classifier_tags)
        tags.regressor_tags = deepcopy(sub.regressor_tags)
        # The search passes X and y untouched to the estimator: it accepts what it accepts.
        tags.input_tags = deepcopy(sub.input_tags)
        tags.target_tags = deepcopy(sub.target_tags)
        tags.non_deterministic = sub.non_deterministic or self.random_state is None
        return tags

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, X, y=None, **fit_params):
        """Run the trials, then refit the best parameters on all of ``(X, y)``.

        Everything that can be checked without training is checked first: the parameter
        names and distributions, the scoring, and the storage.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training data (for ferkit: flat pixel rows or images).
        y : array-like of shape (n_samples,), default=None
            Target labels.
        **fit_params : dict
            Passed to the estimator's ``fit``; per-sample arrays (such as
            ``sample_weight``) are split with the data.

        Returns
        -------
        self : OptunaSearchCV
            The fitted search.
        """
        self._validate_params()
        prefix, final = _final_step(self.estimator)
        space = self._search_space(prefix, final)
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        X, y = indexable(X, y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y))
        _check_fixed_params(self.estimator)
        pruner = self._pruner(prefix, final, space)
        study = self._load_study(pruner)

        objective = _Objective(
            base=self._base_estimator(prefix),
            space=space,
            prefix=prefix,
            prune=pruner is not None,
            scorer=scorer,
            X=X,
            y=y,
            splits=splits,
            fit_params=fit_params,
            n_trials=self.n_trials,
        )
        remaining = self.n_trials - len(study.get_trials(deepcopy=False))
        if remaining > 0:
            # n_trials counts the whole study: MaxTrialsCallback stops this process when
            # the study (all workers) reaches it, and the objective turns away the rare
            # trial created in a race past it.
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=self.timeout,
                callbacks=[optuna.study.MaxTrialsCallback(self.n_trials, states=None)],
            )
        else:
            _logger.info(
                "Study %r already holds %d trials (n_trials=%d): no new trial run.",
                study.study_name, len(study.get_trials(deepcopy=False)), self.n_trials,
            )

        trials = [
            t for t in study.get_trials(deepcopy=False, states=_FINISHED)
            if not t.user_attrs.get(_SURPLUS_ATTR)
        ]
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        if not complete:
            counts = {s.name.lower(): sum(t.state == s for t in trials) for s in _FINISHED}
            raise RuntimeError(
                f"No trial of study {study.study_name!r} completed ({counts['pruned']} pruned, "
                f"{counts['fail']} failed), so there are no best parameters. Run more trials "
                "or relax the pruner."
            )
        self.study_ = study
        self.scorer_ = scorer
        self.n_splits_ = len(splits)
        self.multimetric_ = False
        self.cv_results_ = _cv_results(trials, space, self.n_splits_)
        self.n_trials_ = len(trials)
        best = study.best_trial
        self.best_index_ = int(np.flatnonzero(self.cv_results_["trial_number"] == best.number)[0])
        self.best_params_ = space.decode(best.params)
        self.best_score_ = float(best.value)

        if self.refit:
            estimator = self._base_estimator(prefix).set_params(**self.best_params_)
            start = time.perf_counter()
            estimator.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            self.best_estimator_ = estimator
        return self

    def _search_space(self, prefix: str, final) -> _SearchSpace:
        distributions = self.param_distributions
        if distributions is None:
            names = final.get_params(deep=False)
            defaults = default_search_space()
            if not set(defaults) <= set(names):
                raise ValueError(
                    "param_distributions=None uses the default search space of "
                    f"FacialExpressionClassifier, but {type(final).__name__} does not take "
                    f"its parameters {sorted(set(defaults) - set(names))}; pass "
                    "param_distributions."
                )
            distributions = default_search_space(prefix=prefix)
        return _SearchSpace(
            distributions, self.estimator.get_params(deep=True),
            estimator_name=type(self.estimator).__name__,
        )

    def _pruner(self, prefix: str, final, space: _SearchSpace):
        """The pruner, or None when trials cannot be pruned (with a warning saying why)."""
        if self.pruning is False:
            return None
        params = final.get_params(deep=False)
        if "callbacks" not in params:
            warnings.warn(
                f"pruning needs a Keras estimator with a `callbacks` parameter; "
                f"{type(final).__name__} has none, so every trial runs to the end. Pass "
                "pruning=False to silence this.",
                UserWarning, stacklevel=3,
            )
            return None
        if not params.get("validation_split") and prefix + "validation_split" not in (
            space.distributions
        ):
            warnings.warn(
                "pruning judges trials by their validation loss, but the classifier has "
                "validation_split=0 and so no validation loss: every trial runs to the end. "
                "Set validation_split > 0, or pruning=False to silence this.",
                UserWarning, stacklevel=3,
            )
            return None
        return default_pruner() if self.pruning is True else self.pruning

    def _load_study(self, pruner) -> optuna.study.Study:
        storage = self.storage
        label = None
        if isinstance(storage, str):
            label = _storage_label(storage)
            kwargs = {}
            if storage.startswith("sqlite"):
                # Several workers on one SQLite file wait for its lock instead of failing.
                kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
            try:
                storage = _open_rdb_storage(storage, **kwargs)
            except Exception as exc:
                reason = str(exc).splitlines()[0].rstrip(". ") if str(exc) else type(exc).__name__
                raise ValueError(
                    f"Cannot open the Optuna storage {label!r}: {reason}. Give a reachable "
                    "database URL such as 'sqlite:///study.db' (a file in an existing "
                    "folder) or 'postgresql://user:password@host/database'."
                ) from exc
        if self.random_state is None:
            sampler = optuna.samplers.TPESampler()
        else:
            sampler = TrialSeededTPESampler(self.random_state)
        if pruner is None:
            pruner = optuna.pruners.NopPruner()
        study = optuna.create_study(
            storage=storage, sampler=sampler, pruner=pruner, study_name=self.study_name,
            direction="maximize", load_if_exists=True,
        )
        # An existing study keeps the direction it was created with.
        if study.directions != [optuna.study.StudyDirection.MAXIMIZE]:
            raise ValueError(
                f"Study {study.study_name!r} in storage {label or storage!r} was created to "
                f"{' and '.join(d.name.lower() for d in study.directions)} its objective; "
                "OptunaSearchCV maximises a score. Use another study_name."
            )
        return study

    def _base_estimator(self, prefix: str):
        """A fresh clone, its classifier seeded by ``random_state`` where it has no seed."""
        estimator = clone(self.estimator)
        key = prefix + "random_state"
        params = estimator.get_params(deep=True)
        if self.random_state is not None and key in params and params[key] is None:
            estimator.set_params(**{key: self.random_state})
        return estimator

    # -- prediction, delegated to the refit best estimator ------------------------------------

    def _check_refit_fitted(self, attr: str):
        _search_estimator_has(attr)(self)
        check_is_fitted(self)

    @available_if(_search_estimator_has("predict"))
    def predict(self, X):
        """Predict with the best estimator (``refit=True`` only).

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predictions.
        """
        self._check_refit_fitted("predict")
        return self.best_estimator_.predict(X)

    @available_if(_search_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the best estimator (``refit=True`` only).

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of :attr:`classes_`.
        """
        self._check_refit_fitted("predict_proba")
        return self.best_estimator_.predict_proba(X)

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the best estimator (``refit=True`` only).

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log probabilities.
        """
        self._check_refit_fitted("predict_log_proba")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_search_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the best estimator (``refit=True`` only).

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        ndarray
            Decision values.
        """
        self._check_refit_fitted("decision_function")
        return self.best_estimator_.decision_function(X)

    def score(self, X, y=None):
        """Score the best estimator on ``(X, y)`` with ``scoring`` (``refit=True`` only).

        Parameters
        ----------
        X : array-like
            Input data.
        y : array-like of shape (n_samples,), default=None
            True labels.

        Returns
        -------
        float
            The score (accuracy for the classifier by default).
        """
        self._check_refit_fitted("score")
        return self.scorer_(self.best_estimator_, X, y)

    @property
    def classes_(self):
        """Class labels of the best estimator (``refit=True`` only)."""
        self._check_refit_fitted("classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by the best estimator (``refit=True`` only)."""
        try:
            check_is_fitted(self)
        except NotFittedError as exc:
            raise AttributeError(
                f"{type(self).__name__} has no n_features_in_ before fit."
            ) from exc
        return self.best_estimator_.n_features_in_

    # -- pictures ------------------------------------------------------------------------------

    def save_plots(self, folder, *, dpi: int = 100) -> dict[str, Path]:
        """Save Optuna's pictures of the study as PNG files in ``folder``.

        ``optimization_history.png`` (score of each trial and the best so far) always;
        ``param_importances.png`` (fANOVA importance of each parameter) when at least two
        trials completed with different parameters; ``intermediate_values.png`` (the
        per-epoch values that pruning judged) when trials reported any.

        Parameters
        ----------
        folder : str or path-like
            Folder for the files; created if missing.
        dpi : int, default=100
            Resolution of the PNG files.

        Returns
        -------
        dict of str to pathlib.Path
            Picture name (``"optimization_history"``...) to the file written.
        """
        from ferkit.model_selection._plots import save_study_plots

        check_is_fitted(self, "study_")
        return save_study_plots(self.study_, folder, dpi=dpi)


class _Objective:
    """One trial: draw parameters, cross-validate them, record what happened."""

    def __init__(self, *, base, space, prefix, prune, scorer, X, y, splits, fit_params,
                 n_trials):
        self.base = base
        self.space = space
        self.prefix = prefix
        self.prune = prune
        self.scorer = scorer
        self.X = X
        self.y = y
        self.splits = splits
        self.fit_params = fit_params
        self.n_trials = n_trials
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, trial: optuna.trial.Trial) -> float:
        if trial.number >= self.n_trials:
            # Another worker started the study's last trial at the same instant.
            trial.set_user_attr(_SURPLUS_ATTR, True)
            trial.study.stop()
            raise optuna.TrialPruned(
                f"the study already has its {self.n_trials} trials; this one trains nothing"
            )
        trial.set_user_attr(_WORKER_ATTR, self.worker)
        params = self.space.suggest(trial)
        template = clone(self.base).set_params(**params)
        epochs = template.get_params(deep=True).get(self.prefix + "epochs", 1)
        record = {"test_scores": [], "fit_times": [], "score_times": []}
        n_samples = self.X.shape[0] if hasattr(self.X, "shape") else len(self.X)
        for fold, (train, test) in enumerate(self.splits):
            estimator = clone(template)
            callback = None
            if self.prune:
                callback = self._attach_pruning(estimator, trial, fold * int(epochs))
            X_train, y_train = _safe_indexing(self.X, train), _safe_split_y(self.y, train)
            fold_params = {
                key: _safe_indexing(value, train) if _is_per_sample(value, n_samples) else value
                for key, value in self.fit_params.items()
            }
            start = time.perf_counter()
            try:
                estimator.fit(X_train, y_train, **fold_params)
            except optuna.TrialPruned:
                trial.set_user_attr(
                    _PRUNED_AT_ATTR, {"fold": fold, "epoch": callback.epochs_seen}
                )
                raise
            fit_time = time.perf_counter() - start
            start = time.perf_counter()
            score = self.scorer(
                estimator, _safe_indexing(self.X, test), _safe_split_y(self.y, test)
            )
            record["test_scores"].append(float(score))
            record["fit_times"].append(fit_time)
            record["score_times"].append(time.perf_counter() - start)
            trial.set_user_attr(_CV_ATTR, record)
        return float(np.mean(record["test_scores"]))

    def _attach_pruning(self, estimator, trial, step_offset):
        from ferkit.model_selection._pruning import FoldPruningCallback

        callback = FoldPruningCallback(trial, step_offset=step_offset)
        key = self.prefix + "callbacks"
        existing = estimator.get_params(deep=True)[key]
        if existing is None:
            callbacks = [callback]
        elif isinstance(existing, Mapping):
            callbacks = {**existing, "ferkit_pruning": callback}
        elif isinstance(existing, list | tuple):
            callbacks = [*existing, callback]
        else:  # a single callback
            callbacks = [existing, callback]
        estimator.set_params(**{key: callbacks})
        return callback


def _safe_split_y(y, indices):
    return None if y is None else _safe_indexing(y, indices)


def _is_per_sample(value, n_samples: int) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, str | Mapping) and (
        len(value) == n_samples
    )


def _mean_std(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row means and standard deviations over the non-NaN entries (NaN for empty rows)."""
    present = ~np.isnan(rows)
    count = present.sum(axis=1)
    filled = np.where(present, rows, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / count
        var = np.where(present, (rows - mean[:, None]) ** 2, 0.0).sum(axis=1) / count
    return mean, np.sqrt(var)


def _cv_results(trials, space: _SearchSpace, n_splits: int) -> dict:
    """GridSearchCV-shaped results from the study's finished trials."""
    n = len(trials)
    scores = np.full((n, n_splits), np.nan)
    fit_times = np.full((n, n_splits), np.nan)
    score_times = np.full((n, n_splits), np.nan)
    for i, trial in enumerate(trials):
        record = trial.user_attrs.get(_CV_ATTR, {})
        for array, key in ((scores, "test_scores"), (fit_times, "fit_times"),
                           (score_times, "score_times")):
            values = list(record.get(key, []))[:n_splits]
            array[i, : len(values)] = values

    complete = np.array([t.state == TrialState.COMPLETE for t in trials])
    mean_score, std_score = _mean_std(scores)
    # The study's value is the mean score; it also covers trials recorded without folds.
    mean_score = np.array([
        float(t.value) if ok and t.value is not None else np.nan
        for t, ok in zip(trials, complete, strict=True)
    ])
    std_score = np.where(complete, std_score, np.nan)
    if np.isnan(mean_score).all():
        rank = np.ones(n, dtype=np.int32)
    else:
        # As in scikit-learn's searches: trials without a score tie with the worst.
        filled = np.where(np.isnan(mean_score), np.nanmin(mean_score) - 1, mean_score)
        rank = rankdata(-filled, method="min").astype(np.int32)

    params = [space.decode(t.params) for t in trials]
    results: dict = {}
    for name, value in zip(("mean_fit_time", "std_fit_time"), _mean_std(fit_times),
                           strict=True):
        results[name] = value
    for name, value in zip(("mean_score_time", "std_score_time"), _mean_std(score_times),
                           strict=True):
        results[name] = value
    names = sorted({name for p in params for name in p})
    for name in names:
        present = [i for i, p in enumerate(params) if name in p]
        values = [params[i][name] for i in present]
        # As GridSearchCV: a numeric dtype for numbers, object for text and tuples.
        try:
            dtype = np.array(values).dtype
            if dtype.kind in "USO" or np.array(values).ndim > 1:
                dtype = np.dtype(object)
        except ValueError:  # tuples of different lengths
            dtype = np.dtype(object)
        column = np.ma.MaskedArray(np.empty(n, dtype=dtype), mask=True)
        for i, value in zip(present, values, strict=True):
            column[i] = value
        results[f"param_{name}"] = column
    results["params"] = params
    for k in range(n_splits):
        results[f"split{k}_test_score"] = scores[:, k]
    results["mean_test_score"] = mean_score
    results["std_test_score"] = std_score
    results["rank_test_score"] = rank
    results["trial_number"] = np.array([t.number for t in trials], dtype=np.int64)
    results["state"] = np.array([t.state.name for t in trials], dtype=object)
    results["pruned"] = np.array([t.state == TrialState.PRUNED for t in trials])
    return results


#: What the loser of a race to create a new study database sees (SQLAlchemy's messages).
_SCHEMA_RACE_MESSAGES = (
    "already exists",  # both created the tables
    "UNIQUE constraint failed: alembic_version",  # both stamped the schema version (SQLite)
    "duplicate key value violates unique constraint",  # the same on PostgreSQL
    "database is locked",  # SQLite busy with the other's schema transaction
)


def _open_rdb_storage(url: str, attempts: int = 5, **kwargs):
    """``RDBStorage(url)``, retried when another worker is creating the same schema.

    Workers started together on a new database race to create Optuna's tables and stamp
    their version; the loser gets one of :data:`_SCHEMA_RACE_MESSAGES`. The schema is
    complete a moment later, so try again.
    """
    import time

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except Exception as exc:
            raced = any(message in str(exc) for message in _SCHEMA_RACE_MESSAGES)
            if not raced or attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
