"""The trials of a search: draw parameters, cross-validate them, record them in the study.

A trial keeps what happened to it as user attributes in the study, so that every process
sharing the study can report on trials it did not run (see ``_results.py``).

What counts toward ``n_trials`` (:func:`counts_toward_n_trials`): every trial of the study
that finished, runs or waits to run, except a surplus trial (turned away untrained) and a
failed trial whose parameters were queued to run again (its retry stands for it). So a trial
whose worker died, failed by the heartbeat and retried, is counted once, and the study ends
with ``n_trials`` finished trials.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from collections.abc import Mapping

import joblib
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
HEARTBEAT_ATTR = "ferkit_heartbeat"  # seconds between heartbeats of the trial's worker

#: Optuna's system attribute listing the trials a retried trial stands for.
RETRY_HISTORY = "retry_history"

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

#: Seconds between looks at the study while waiting for other workers' trials.
POLL_SECONDS = 1.0


def _retried(trials) -> set[int]:
    """Numbers of the failed trials whose parameters were queued to run again."""
    return {number for t in trials if not t.user_attrs.get(SURPLUS_ATTR)
            for number in t.system_attrs.get(RETRY_HISTORY, ())}


def counts_toward_n_trials(trial, retried: set[int]) -> bool:
    """Whether ``trial`` is one of the study's ``n_trials`` (see the module docstring)."""
    if trial.user_attrs.get(SURPLUS_ATTR):
        return False
    return not (trial.state == TrialState.FAIL and trial.number in retried)


def counted_trials(trials) -> list[optuna.trial.FrozenTrial]:
    """The trials of ``trials`` that count toward ``n_trials``."""
    retried = _retried(trials)
    return [t for t in trials if counts_toward_n_trials(t, retried)]


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
        Trials of the whole study; a trial started once the study holds them all is turned
        away untrained.
    heartbeat_interval : int or None, default=None
        The storage's heartbeat interval, recorded on each trial: other workers wait for a
        running trial only when its death would be noticed.
    n_jobs : int or None, default=None
        Folds of a trial fitted at once, through joblib (in the backend of the enclosing
        ``joblib.parallel_backend``, loky by default). Where that is one job, the folds run
        here one after the other and a pruned trial stops in the middle of its fit.
        Otherwise every fold trains to the end in a worker, and the per-epoch validation
        losses are reported to the trial afterwards, fold by fold and epoch by epoch, as
        they would have been live: the same trials are pruned at the same fold and epoch,
        with the same record (the workers only did more work than needed).
    """

    def __init__(self, *, base, space, prefix, prune, scorer, X, y, splits, fit_params,
                 n_trials, heartbeat_interval=None, n_jobs=None):
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
        self.heartbeat_interval = heartbeat_interval
        self.n_jobs = n_jobs
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def _is_surplus(self, trial: optuna.trial.Trial) -> bool:
        # Trial numbers are handed out in order, so of two workers racing for the last
        # trial, exactly one sees it free.
        trials = trial.study.get_trials(deepcopy=False)
        # A retry stands for its failed trial: this trial, if it is one, is among those.
        retried = _retried(trials)
        earlier = [t for t in trials
                   if t.number < trial.number and counts_toward_n_trials(t, retried)]
        return len(earlier) >= self.n_trials

    def __call__(self, trial: optuna.trial.Trial) -> float:
        if self._is_surplus(trial):
            # Another worker started the study's last trial at the same instant.
            trial.set_user_attr(SURPLUS_ATTR, True)
            trial.study.stop()
            raise optuna.TrialPruned(
                f"the study already has its {self.n_trials} trials; this one trains nothing"
            )
        # A retried trial inherits the user attributes of the failed one: all are rewritten.
        trial.set_user_attr(WORKER_ATTR, self.worker)
        if self.heartbeat_interval is not None:
            # Optuna writes a trial's first heartbeat from a thread of its own, which on a busy
            # machine can lag behind the trial; a worker killed before it leaves a trial that
            # Optuna never fails (it skips trials without a heartbeat), and that others would
            # wait for until their timeout. One written here, before the attribute that makes
            # them wait, means every awaited trial is failed once its worker is silent.
            trial.storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr(HEARTBEAT_ATTR, self.heartbeat_interval)
        record = {"test_scores": [], "fit_times": [], "score_times": []}
        trial.set_user_attr(CV_ATTR, record)
        template = clone(self.base).set_params(**self.space.suggest(trial))
        if joblib.effective_n_jobs(self.n_jobs) != 1:
            return self._folds_in_parallel(trial, template, record)
        epochs = int(template.get_params(deep=True).get(self.prefix + "epochs", 1))
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

    def _folds_in_parallel(self, trial, template, record) -> float:
        """Fit the folds in joblib's workers, then record them as the serial loop does."""
        monitor = "val_loss" if self.prune else None
        results = joblib.Parallel(n_jobs=self.n_jobs)(
            joblib.delayed(_fit_fold)(clone(template), self.X, self.y, scorer=self.scorer,
                                      train=train, test=test, fit_params=self.fit_params,
                                      monitor=monitor)
            for train, test in self.splits
        )
        epochs = int(template.get_params(deep=True).get(self.prefix + "epochs", 1))
        for fold, (result, losses) in enumerate(results):
            if self.prune:
                _report_fold(trial, fold, losses, step_offset=fold * epochs)
            record["test_scores"].append(float(result["test_scores"]))
            record["fit_times"].append(result["fit_time"])
            record["score_times"].append(result["score_time"])
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


def _fit_fold(estimator, X, y, *, scorer, train, test, fit_params, monitor):
    """One fold, in a joblib worker: ``(scores and times, per-epoch monitor values)``.

    The fitted estimator stays in the worker; only its ``history_[monitor]`` (the
    classifier's per-epoch validation losses) comes back, for pruning.
    """
    result = _fit_and_score(
        estimator, X, y, scorer=scorer, train=train, test=test, verbose=0, parameters=None,
        fit_params=fit_params, score_params=None, return_times=True, error_score="raise",
        return_estimator=monitor is not None,
    )
    losses = None
    if monitor is not None:
        fitted = result.pop("estimator")
        while hasattr(fitted, "steps"):  # the learning step of a pipeline
            fitted = fitted.steps[-1][1]
        losses = getattr(fitted, "history_", {}).get(monitor)
    return result, losses


def _report_fold(trial, fold: int, losses, *, step_offset: int) -> None:
    """Report a finished fold's per-epoch losses as its pruning callback would have, live.

    Raises ``optuna.TrialPruned`` at the first epoch the pruner stops, after recording where,
    exactly as :class:`~ferkit.model_selection._pruning.FoldPruningCallback` does.
    """
    for epoch, value in enumerate(losses or ()):
        trial.report(-float(value), step_offset + epoch)
        if trial.should_prune():
            trial.set_user_attr(PRUNED_AT_ATTR, {"fold": fold, "epoch": epoch + 1})
            raise optuna.TrialPruned(
                f"trial {trial.number} pruned at step {step_offset + epoch} "
                f"(val_loss={float(value):.4g})"
            )


class _StopWhenFull:
    """Optuna callback: stop this process once the study holds its ``n_trials``."""

    def __init__(self, n_trials: int):
        self.n_trials = n_trials

    def __call__(self, study, trial) -> None:
        trials = study.get_trials(deepcopy=False)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        if len(counted_trials(trials)) >= self.n_trials and not waiting:
            study.stop()


def _fail_stale_trials(study) -> None:
    with warnings.catch_warnings():
        # Optuna calls its heartbeat "experimental"; it is what ferkit relies on.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _awaited(trials) -> bool:
    """Whether another worker runs a trial whose worker's death would be noticed."""
    return any(t.state == TrialState.RUNNING and t.user_attrs.get(HEARTBEAT_ATTR) is not None
               for t in trials)


def _seconds_left(deadline) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def run_trials(study: optuna.study.Study, objective, *, n_trials: int, timeout,
               heartbeat: bool = False) -> None:
    """Run trials in this process until the study holds ``n_trials`` or ``timeout`` passes.

    With a heartbeat, the process also waits for the trials other workers are running, so
    that a trial whose worker died is failed, retried and finished here: the study never
    stays short of ``n_trials`` finished trials for want of a worker.

    Parameters
    ----------
    study : optuna.study.Study
        The study, perhaps shared with other processes.
    objective : callable
        The trial's objective (an :class:`_Objective`).
    n_trials : int
        Trials of the whole study, counted over every process and earlier run (see
        :func:`counts_toward_n_trials`).
    timeout : float or None
        Seconds after which this process starts no new trial and waits no more.
    heartbeat : bool, default=False
        Whether the study's storage has a heartbeat (so a dead worker's trial gets failed).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    ran = False
    while True:
        if heartbeat:
            _fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        full = len(counted_trials(trials)) >= n_trials
        if not full or any(t.state == TrialState.WAITING for t in trials):
            if _seconds_left(deadline) == 0:
                return
            study.optimize(objective, timeout=_seconds_left(deadline),
                           callbacks=[_StopWhenFull(n_trials)])
            ran = True
            continue
        if not (heartbeat and _awaited(trials)) or _seconds_left(deadline) == 0:
            break
        time.sleep(min(POLL_SECONDS, _seconds_left(deadline) or POLL_SECONDS))
    if not ran:
        _logger.info("Study %r already holds %d trials (n_trials=%d): no new trial run.",
                     study.study_name, len(counted_trials(trials)), n_trials)


def finished_trials(study: optuna.study.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's finished trials that count toward ``n_trials``, by trial number.

    Surplus trials, and failed trials whose retry stands for them, are left out.

    Raises
    ------
    RuntimeError
        When none of them completed: there are no best parameters.
    """
    trials = [t for t in counted_trials(study.get_trials(deepcopy=False))
              if t.state in FINISHED]
    if not any(t.state == TrialState.COMPLETE for t in trials):
        counts = {s.name.lower(): sum(t.state == s for t in trials) for s in FINISHED}
        raise RuntimeError(
            f"No trial of study {study.study_name!r} completed ({counts['pruned']} pruned, "
            f"{counts['fail']} failed), so there are no best parameters. Run more trials "
            "or relax the pruner."
        )
    return trials
