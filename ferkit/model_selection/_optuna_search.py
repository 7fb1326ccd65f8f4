"""OptunaSearchCV: hyper-parameter search with Optuna, as a scikit-learn meta-estimator.

The study's storage is opened in ``_storage.py``, the trials run in ``_objective.py`` and
``cv_results_`` is read from them in ``_results.py``; this module holds the estimator.
"""

from __future__ import annotations

import time
import warnings
from copy import deepcopy
from numbers import Integral, Real
from pathlib import Path

import optuna
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV, _search_estimator_has
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, indexable

from ferkit.model_selection._objective import _Objective, finished_trials, run_trials
from ferkit.model_selection._results import cv_results
from ferkit.model_selection._sampling import TrialSeededTPESampler
from ferkit.model_selection._search_record import search_record
from ferkit.model_selection._search_space import _SearchSpace, default_search_space
from ferkit.model_selection._storage import load_study


def default_pruner() -> optuna.pruners.BasePruner:
    """The pruner used with ``pruning=True``: Optuna's median rule.

    A trial is stopped when its validation loss at some epoch is worse than the median of
    the completed trials at the same epoch and fold. The first 5 trials always run to the
    end (the median needs a few), and the first 2 epochs of a fit are never judged (early
    losses are noisy).

    Returns
    -------
    optuna.pruners.MedianPruner
        A new pruner.
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


class OptunaSearchCV(BaseSearchCV):
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
        over earlier runs on the same stored study: a process starts no new trial once the
        study holds ``n_trials`` trials (complete, pruned, failed, running or queued), so two
        workers given ``n_trials=20`` run 20 trials between them. A trial whose worker died
        and whose parameters were queued again is not counted: its retry is (see Notes).
        Pass a larger number to extend a stored study.
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
        is a ``ValueError``, and one whose database driver is missing an ``ImportError``
        naming the package to install (``pip install 'ferkit[postgres]'`` for
        ``postgresql://``).
    study_name : str or None, default=None
        Name of the study in ``storage``; processes with the same name and storage share a
        study, and an existing study is continued. None lets Optuna make a unique name.
        An existing study created by a search with other distributions or another
        estimator is refused with a ``ValueError`` (see Notes).
    pruning : bool or optuna pruner, default=True
        True prunes with :func:`default_pruner`; an ``optuna.pruners.BasePruner`` is used
        as given; False runs every trial to the end. Pruning needs a Keras estimator (one
        with a ``callbacks`` parameter) and validation data (``validation_split > 0``).
    timeout : float or None, default=None
        Stop starting new trials, and waiting for other workers' trials, in this process
        after this many seconds.
    refit : bool, default=True
        Refit the estimator with the best parameters on the whole data set, which enables
        :meth:`predict`, :meth:`predict_proba`, :meth:`score` and the best estimator's
        other methods (``decision_function``, ``transform``...), delegated by scikit-learn's
        ``BaseSearchCV`` as in :class:`~sklearn.model_selection.GridSearchCV`.
    random_state : int or None, default=None
        Seeds the sampler (each trial's from ``(random_state, trial number)``, so workers
        sharing a study draw distinct parameters) and, where it is None, the classifier's
        ``random_state``. With an int, a one-process search on the CPU is repeatable.
    heartbeat_interval : int or None, default=30
        Seconds between the heartbeats each worker writes to a ``storage`` given by URL
        while it runs a trial. A trial silent for three intervals is taken for the trial
        of a dead worker: it is marked failed and its parameters run again, once. None
        writes no heartbeat (as Optuna's default storage). Ignored for a storage object,
        which keeps its own settings, and for a study in memory.
    n_jobs : int or None, default=None
        Folds of each trial fitted at once, through joblib, as ``GridSearchCV(n_jobs=...)``
        fits its candidates: -1 for one job per core, None for one unless inside
        ``joblib.parallel_backend`` (``with joblib.parallel_backend("dask"):`` fits the folds
        on a Dask cluster). Trials still run one after another in this process (run several
        processes on one ``storage`` to run trials at once), so the results are those of
        ``n_jobs=1`` (to the last bit where the workers' TensorFlow has as many threads as
        this process's; see the user guide's "Beyond one machine"). In parallel, a pruned
        trial's folds all train to the end and the pruner judges their per-epoch losses
        afterwards, in order, as it would have live: the same trials are pruned, at the
        same fold and epoch.

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
        Index in ``cv_results_`` of the best trial (the first ranked 1).
    best_params_ : dict
        Parameters of the best trial, as the estimator takes them (tuples as tuples).
    best_score_ : float
        Mean cross-validated score of the best trial.
    best_estimator_ : estimator
        The estimator with ``best_params_``, refit on the whole data (with ``refit=True``).
    scorer_ : callable
        The scorer used for the trials and :meth:`score`.
    multimetric_ : bool
        False: the trials are judged by one score.
    n_splits_ : int
        Number of cross-validation splits.
    n_trials_ : int
        Number of finished trials in the study that count toward ``n_trials``
        (``len(cv_results_["params"])``).
    refit_time_ : float
        Seconds spent refitting the best estimator.
    feature_names_in_ : ndarray of str
        Feature names seen by the best estimator, where it records them (with
        ``refit=True``).

    See Also
    --------
    default_search_space : The search space used when ``param_distributions`` is None.
    sklearn.model_selection.GridSearchCV : Exhaustive search over a grid.

    Notes
    -----
    **Distributed search.** Start the same script in several processes or machines with
    the same ``storage`` and ``study_name``: Optuna's storage hands out trial numbers
    atomically, so each trial runs once. Every process stops starting trials when the
    study holds ``n_trials``; should two processes start a trial at the same instant when
    one was left, the later one is recorded as a pruned trial with the user attribute
    ``ferkit_surplus`` and trains nothing, and it is left out of ``cv_results_``. SQLite
    suits a few processes on one machine; use PostgreSQL or MySQL across machines. Each
    trial records its cross-validation scores and the ``host:pid`` of its worker as user
    attributes (``ferkit_cv``, ``ferkit_worker``).

    **One search per study.** The search that creates a study records in it its
    distributions and its estimator (the class of the estimator and of each pipeline step,
    and every fixed parameter but those that only change how a fit runs: ``verbose``,
    ``n_jobs``, ``random_state``, ``callbacks``...), as the study user attribute
    ``ferkit_search``. A search joining the study must match it: a changed range, step,
    log scale or choice list (choices in the same order), a parameter added or removed,
    another estimator class or another fixed value is a ``ValueError`` naming the study,
    the storage and each difference, raised before any training. A study created outside
    ferkit takes the record of the first search that joins it.

    **Dead workers.** With a storage given by URL, each worker writes a heartbeat while it
    runs a trial (``heartbeat_interval``). A trial silent for three intervals (its worker
    killed, its machine lost) is marked ``FAIL`` by the next worker that looks, and its
    parameters are queued as a new trial (Optuna's ``RetryHeartbeatStaleTrialCallback``,
    one retry; the new trial's system attributes ``failed_trial`` and ``retry_history``
    name the failed one). The failed trial no longer counts toward ``n_trials`` and is left
    out of ``cv_results_``; its retry counts instead. A failed retry is not retried again,
    and counts. So that no study is left short, a worker whose study holds ``n_trials``
    waits, before returning, until the trials other workers run have finished, picking up
    any retry itself; each worker's ``cv_results_`` then holds the whole study. With a
    storage object, the trials of dead workers are failed only when it has a heartbeat
    (``optuna.storages.RDBStorage(url, heartbeat_interval=...)``).

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
        "heartbeat_interval": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
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
        heartbeat_interval=30,
        n_jobs=None,
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
        self.heartbeat_interval = heartbeat_interval
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        # The search passes X and y untouched to the estimator: it accepts what it accepts.
        tags.input_tags = deepcopy(sub.input_tags)
        tags.target_tags = deepcopy(sub.target_tags)
        tags.non_deterministic = sub.non_deterministic or self.random_state is None
        return tags

    # -- fitting -----------------------------------------------------------------------------

    # BaseSearchCV.fit builds cv_results_ and best_params_ from the candidates it passed to
    # evaluate_candidates, each fit on every fold; a study's results also hold trials pruned
    # in the middle of a fold, trials of other workers and earlier runs, and a full study runs
    # none here. So fit runs the Optuna trials itself, then sets what BaseSearchCV.fit sets
    # (using its best-index rule); prediction, scoring and tags come from BaseSearchCV.
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
        if y is None and get_tags(final).target_tags.required:
            # Else each fold calls fit(X) without y, and the first trial fails less clearly.
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but the "
                "target y is None."
            )
        space = self._search_space(prefix, final)
        scorer, _ = self._get_scorers()
        X, y = indexable(X, y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y))
        _check_fixed_params(self.estimator)
        pruner = self._pruner(prefix, final, space)
        study, heartbeat = load_study(
            self.storage, study_name=self.study_name, sampler=self._sampler(),
            pruner=optuna.pruners.NopPruner() if pruner is None else pruner,
            record=search_record(self.estimator, space.distributions),
            heartbeat_interval=self.heartbeat_interval,
        )
        objective = _Objective(
            base=self._base_estimator(prefix), space=space, prefix=prefix,
            prune=pruner is not None, scorer=scorer, X=X, y=y, splits=splits,
            fit_params=fit_params, n_trials=self.n_trials, heartbeat_interval=heartbeat,
            n_jobs=self.n_jobs,
        )
        run_trials(study, objective, n_trials=self.n_trials, timeout=self.timeout,
                   heartbeat=heartbeat is not None)
        trials = finished_trials(study)

        self.study_ = study
        self.scorer_ = scorer
        self.multimetric_ = False
        self.n_splits_ = len(splits)
        self.n_trials_ = len(trials)
        self.cv_results_ = cv_results(trials, space, self.n_splits_)
        self.best_index_ = int(self._select_best_index(self.refit, "score", self.cv_results_))
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.best_params_ = self.cv_results_["params"][self.best_index_]
        if self.refit:
            self._refit(self._base_estimator(prefix), X, y, fit_params)
        return self

    def _refit(self, estimator, X, y, fit_params) -> None:
        estimator.set_params(**self.best_params_)
        start = time.perf_counter()
        estimator.fit(X, y, **fit_params)
        self.refit_time_ = time.perf_counter() - start
        self.best_estimator_ = estimator
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_

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

    def _sampler(self) -> optuna.samplers.BaseSampler:
        if self.random_state is None:
            return optuna.samplers.TPESampler()
        return TrialSeededTPESampler(self.random_state)

    def _base_estimator(self, prefix: str):
        """A fresh clone, its classifier seeded by ``random_state`` where it has no seed."""
        estimator = clone(self.estimator)
        key = prefix + "random_state"
        params = estimator.get_params(deep=True)
        if self.random_state is not None and key in params and params[key] is None:
            estimator.set_params(**{key: self.random_state})
        return estimator

    # -- delegated to BaseSearchCV, with docstrings this documentation can build ----------------
    # BaseSearchCV's docstrings of these four cite scikit-learn's glossary and labels, which a
    # Sphinx build without intersphinx cannot resolve; the methods themselves are its own.

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
        return super().predict_proba(X)

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``refit=True`` only).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input data, as for :meth:`predict_proba`.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Natural logarithms of the class probabilities.
        """
        return super().predict_log_proba(X)

    def score(self, X, y=None, **params):
        """Score the best estimator on ``(X, y)`` with ``scoring`` (``refit=True`` only).

        Parameters
        ----------
        X : array-like
            Input data.
        y : array-like of shape (n_samples,), default=None
            True labels.
        **params : dict
            Passed to the scorer, with scikit-learn's metadata routing enabled.

        Returns
        -------
        float
            The score (accuracy for the classifier by default).
        """
        return super().score(X, y, **params)

    @property
    def n_features_in_(self):
        """Number of features seen by the best estimator (``refit=True`` only)."""
        return super().n_features_in_

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
