"""What a study searches, recorded in it, so that a worker with another search is refused.

The trials of one study are compared with each other (TPE learns from them, the best is
picked among them), which is only sound when they all drew from the same distributions and
trained the same estimator. The first search on a study records its distributions and the
estimator's identity in the study's user attributes (:data:`SEARCH_ATTR`); a search joining
the study compares its own record with the stored one, entry by entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from optuna.distributions import distribution_to_json, json_to_distribution
from sklearn.base import BaseEstimator

#: Study user attribute holding the record.
SEARCH_ATTR = "ferkit_search"

#: Parameters (the last part of their name) that change how a fit runs or is seeded, never
#: what a trial's score means, so workers may differ in them: progress output and parallelism
#: are per machine, and workers of one study may be seeded apart.
_INCIDENTAL = frozenset({"verbose", "n_jobs", "random_state", "memory", "copy", "warm_start",
                         "callbacks", "verbose_feature_names_out"})


def _class_path(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _comparable(value):
    """``value`` as JSON the stored record can hold, or None when it cannot be compared."""
    if isinstance(value, BaseEstimator):
        return {"class": _class_path(value)}
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        # Callables, Keras objects...: their identity is per process; not compared.
        return None
    return json.loads(text)


def search_record(estimator, distributions: Mapping) -> dict:
    """The record of a search: its distributions and its estimator's class and parameters.

    Parameters
    ----------
    estimator : estimator object
        The searched estimator; its fixed parameters (``get_params(deep=True)``, less the
        searched ones and those in ``_INCIDENTAL``) and its class are recorded.
    distributions : mapping of str to optuna distribution
        The distributions as stored by Optuna (tuple choices encoded).

    Returns
    -------
    dict
        JSON-serialisable: ``{"distributions": {...}, "estimator": {...}}``.
    """
    fixed = {"": {"class": _class_path(estimator)}}
    for name, value in estimator.get_params(deep=True).items():
        if name in distributions or name.rsplit("__", 1)[-1] in _INCIDENTAL:
            continue
        if name.rsplit("__", 1)[-1] == "steps":
            continue  # a pipeline's steps: their classes and parameters are listed one by one
        comparable = _comparable(value)
        if comparable is not None:
            fixed[name] = comparable
    return {
        "distributions": {name: json.loads(distribution_to_json(dist))
                          for name, dist in distributions.items()},
        "estimator": fixed,
    }


def _show_distribution(value) -> str:
    try:
        return repr(json_to_distribution(json.dumps(value)))
    except Exception:  # written by a later ferkit: show it as stored
        return json.dumps(value)


def _show_param(value) -> str:
    if isinstance(value, dict) and set(value) == {"class"}:
        return value["class"]
    return json.dumps(value)


def _compare(mine: Mapping, stored: Mapping, what: str, show) -> list[str]:
    differences = []
    for name in sorted(set(mine) | set(stored)):
        label = f"{what} {name!r}" if name else "the estimator's class"
        if name not in stored:
            differences.append(f"{label} is {show(mine[name])} here but not in the study")
        elif name not in mine:
            differences.append(f"{label} is {show(stored[name])} in the study but not here")
        elif json.dumps(mine[name], sort_keys=True) != json.dumps(stored[name], sort_keys=True):
            differences.append(f"{label} is {show(mine[name])} here but {show(stored[name])} "
                               "in the study")
    return differences


def record_differences(mine: Mapping, stored: Mapping) -> list[str]:
    """What differs between this search's record and the study's, one phrase per entry.

    Parameters
    ----------
    mine, stored : dict
        Records made by :func:`search_record` (``stored`` read back from the study).

    Returns
    -------
    list of str
        Empty when the searches are the same.
    """
    return (
        _compare(mine.get("distributions", {}), stored.get("distributions", {}),
                 "searched parameter", _show_distribution)
        + _compare(mine.get("estimator", {}), stored.get("estimator", {}),
                   "fixed parameter", _show_param)
    )
