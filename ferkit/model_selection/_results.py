"""``cv_results_`` of a search, shaped like GridSearchCV's, from the study's finished trials.

BaseSearchCV builds its results from the fits it ran itself; a shared study also holds
trials of other workers and earlier runs, so the results are read from the trials' records
(written by ``_objective.py``) instead.
"""

from __future__ import annotations

import warnings

import numpy as np
from optuna.trial import TrialState
from scipy.stats import rankdata
from sklearn.model_selection._search import _yield_masked_array_for_each_param

from ferkit.model_selection._objective import CV_ATTR

#: Keys of a trial's record, and the cv_results_ names of their per-trial summaries.
_FOLD_RECORDS = {"test_scores": "test_score", "fit_times": "fit_time",
                 "score_times": "score_time"}


def _folds(trials, key: str, n_splits: int) -> np.ndarray:
    """One row per trial, one column per fold, NaN for the folds it did not finish."""
    rows = np.full((len(trials), n_splits), np.nan)
    for i, trial in enumerate(trials):
        values = list(trial.user_attrs.get(CV_ATTR, {}).get(key, []))[:n_splits]
        rows[i, : len(values)] = values
    return rows


def _rank(scores: np.ndarray) -> np.ndarray:
    """Ranks of the scores, 1 best; as in scikit-learn, NaN ties with the worst."""
    if np.isnan(scores).all():
        return np.ones(len(scores), dtype=np.int32)
    filled = np.where(np.isnan(scores), np.nanmin(scores) - 1, scores)
    return rankdata(-filled, method="min").astype(np.int32)


def cv_results(trials, space, n_splits: int) -> dict:
    """GridSearchCV-shaped results from finished trials.

    Parameters
    ----------
    trials : list of optuna.trial.FrozenTrial
        The study's finished trials, by trial number.
    space : _SearchSpace
        Turns the stored parameters back into the estimator's (tuples as tuples).
    n_splits : int
        Number of cross-validation folds.

    Returns
    -------
    dict of str to array
        See ``OptunaSearchCV.cv_results_``.
    """
    complete = np.array([t.state == TrialState.COMPLETE for t in trials])
    results: dict = {}
    with warnings.catch_warnings():
        # A trial pruned in its first fold has no times at all: NaN, and no warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        for key, name in _FOLD_RECORDS.items():
            rows = _folds(trials, key, n_splits)
            results[f"mean_{name}"] = np.nanmean(rows, axis=1)
            results[f"std_{name}"] = np.nanstd(rows, axis=1)
            if key == "test_scores":
                results.update({f"split{k}_test_score": rows[:, k] for k in range(n_splits)})
    # The study's value is the mean score; it also covers trials recorded without folds. A
    # pruned or failed trial has no mean: it ranks last.
    results["mean_test_score"] = np.array([
        float(t.value) if ok and t.value is not None else np.nan
        for t, ok in zip(trials, complete, strict=True)
    ])
    results["std_test_score"] = np.where(complete, results["std_test_score"], np.nan)
    results["rank_test_score"] = _rank(results["mean_test_score"])
    params = [space.decode(t.params) for t in trials]
    results.update(_yield_masked_array_for_each_param(params))
    results["params"] = params
    results["trial_number"] = np.array([t.number for t in trials], dtype=np.int64)
    results["state"] = np.array([t.state.name for t in trials], dtype=object)
    results["pruned"] = np.array([t.state == TrialState.PRUNED for t in trials])
    return results
