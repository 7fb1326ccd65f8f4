"""The trials of a search: draw parameters, cross-validate them, record them in the study.

A trial keeps what happened to it as user attributes in the study, so that every process
sharing the study can report on trials it did not run (see ``_results.py``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import numpy as np
import optuna
from optuna.trial import TrialState
from sklearn.base import clone
from sklearn.model_selection._validation import _fit_and_score

_logger = logging.getLogger(__name__)

#: Trial user attributes written by OptunaSearchCV.
CV_ATTR = "ferkit_cv"  # {"test_scores": [...], "fit_times": [...], "score_times": [...]}
SURPLUS_ATTR = "ferkit_surplus"  # a trial created after the study reached n_trials
WORKER_ATTR = "ferkit_worker"  # "host:pid" of the process that ran the trial
PRUNED_AT_ATTR = "ferkit_pruned_at"  # {"fold": k, "epoch": e}, 1-based epoch

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class _Objective:
    """One trial: draw parameters, cross-validate them, record what happened.

    Parameters
    ----------
    base : estimator
        The estimator whose parameters are drawn (cloned for every fold).
    space : _SearchSpace
        The distributions to draw from.
    prefix : str
        Prefix addressing the parameters of the learning step (``"clf__"`` in a pipeline).
    prune : bool
        Attach a pruning callback to every fold's fit.
    scorer : callable
        Scores each fold's test part (greater is better).
    X, y : array-like
        The data, indexable.
    splits : list of (train, test) index arrays
        The cross-validation folds.
    fit_params : dict
        Passed to every fold's ``fit`` (per-sample arrays split with the data).
    n_trials : int
        Trials of the whole study; a trial numbered beyond is turned away untrained.
    """

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
            trial.set_user_attr(SURPLUS_ATTR, True)
            trial.study.stop()
            raise optuna.TrialPruned(
                f"the study already has its {self.n_trials} trials; this one trains nothing"
            )
        trial.set_user_attr(WORKER_ATTR, self.worker)
        template = clone(self.base).set_params(**self.space.suggest(trial))
        epochs = int(template.get_params(deep=True).get(self.prefix + "epochs", 1))
        record = {"test_scores": [], "fit_times": [], "score_times": []}
        for fold, (train, test) in enumerate(self.splits):
            estimator = clone(template)
            callback = self._attach_pruning(estimator, trial, fold * epochs) if self.prune else None
            try:
                # As in scikit-learn's searches, and error_score="raise": a failing fit stops
                # the search, and so does TrialPruned, which Optuna records.
                result = _fit_and_score(
                    estimator, self.X, self.y, scorer=self.scorer, train=train, test=test,
                    verbose=0, parameters=None, fit_params=self.fit_params, score_params=None,
                    return_times=True, error_score="raise",
                )
            except optuna.TrialPruned:
                trial.set_user_attr(PRUNED_AT_ATTR, {"fold": fold, "epoch": callback.epochs_seen})
                raise
            record["test_scores"].append(float(result["test_scores"]))
            record["fit_times"].append(result["fit_time"])
            record["score_times"].append(result["score_time"])
            # Stored after each fold: a trial pruned later keeps the scores it earned.
            trial.set_user_attr(CV_ATTR, record)
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


def run_trials(study: optuna.study.Study, objective, *, n_trials: int, timeout) -> None:
    """Run trials in this process until the study holds ``n_trials`` or ``timeout`` passes.

    Parameters
    ----------
    study : optuna.study.Study
        The study, perhaps shared with other processes.
    objective : callable
        The trial's objective (an :class:`_Objective`).
    n_trials : int
        Trials of the whole study, counted over every process and earlier run.
    timeout : float or None
        Seconds after which this process starts no new trial.
    """
    held = len(study.get_trials(deepcopy=False))
    if held >= n_trials:
        _logger.info("Study %r already holds %d trials (n_trials=%d): no new trial run.",
                     study.study_name, held, n_trials)
        return
    # n_trials counts the whole study: MaxTrialsCallback stops this process when the study
    # (all workers) reaches it, and the objective turns away the rare trial created in a
    # race past it.
    study.optimize(
        objective, n_trials=n_trials - held, timeout=timeout,
        callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=None)],
    )


def finished_trials(study: optuna.study.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's finished trials, surplus ones left out, by trial number.

    Raises
    ------
    RuntimeError
        When none of them completed: there are no best parameters.
    """
    trials = [
        t for t in study.get_trials(deepcopy=False, states=FINISHED)
        if not t.user_attrs.get(SURPLUS_ATTR)
    ]
    if not any(t.state == TrialState.COMPLETE for t in trials):
        counts = {s.name.lower(): sum(t.state == s for t in trials) for s in FINISHED}
        raise RuntimeError(
            f"No trial of study {study.study_name!r} completed ({counts['pruned']} pruned, "
            f"{counts['fail']} failed), so there are no best parameters. Run more trials "
            "or relax the pruner."
        )
    return trials
