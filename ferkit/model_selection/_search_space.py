"""Search spaces: the default space for the ferkit classifier, validation, tuple choices.

Optuna stores categorical choices in its storage as JSON scalars (None, bool, int, float,
str). The classifier's ``filters`` and ``dense_units`` take tuples, so tuple (or list)
choices are stored as JSON strings (``"[32, 64]"``) and turned back into tuples before they
reach the estimator. Every process builds the same mapping from the same distributions, so
workers sharing a study agree on it.
"""

from __future__ import annotations

import difflib
import json
import warnings
from collections.abc import Mapping

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

_SUPPORTED = (FloatDistribution, IntDistribution, CategoricalDistribution)

#: Optuna's warning about tuple choices: harmless here, since such choices are stored as
#: JSON strings (see :class:`_SearchSpace`).
_TUPLE_CHOICE_WARNING = "Choices for a categorical distribution should be"


def default_search_space(*, prefix: str = "") -> dict[str, BaseDistribution]:
    """The default search space of :class:`~ferkit.FacialExpressionClassifier`.

    ============== =============================================== ==========================
    parameter      distribution                                    why
    ============== =============================================== ==========================
    learning_rate  log-uniform on [1e-4, 1e-2]                      Adam's useful range
    dropout        uniform on [0.0, 0.5]                            regularisation strength
    filters        (16, 32, 64), (32, 64, 128), (32, 64, 128, 256)  network width and depth
    dense_units    (128,), (256, 128), (512, 256)                   classifier head size
    batch_size     32, 64, 128                                      gradient noise and speed
    ============== =============================================== ==========================

    Parameters
    ----------
    prefix : str, default=""
        Put before every name, for example ``"clf__"`` to address the classifier step of a
        :class:`~sklearn.pipeline.Pipeline`.

    Returns
    -------
    dict of str to optuna.distributions.BaseDistribution
        Parameter name to distribution. Tuple choices are stored in Optuna's storage as
        JSON strings (``"[32, 64, 128]"``) and turned back into tuples by
        :class:`OptunaSearchCV`.

    Examples
    --------
    >>> from ferkit.model_selection import default_search_space
    >>> space = default_search_space(prefix="clf__")
    >>> sorted(space)
    ['clf__batch_size', 'clf__dense_units', 'clf__dropout', 'clf__filters', 'clf__learning_rate']
    >>> space["clf__filters"].choices[0]
    (16, 32, 64)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_TUPLE_CHOICE_WARNING, category=UserWarning)
        space = {
            "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
            "dropout": FloatDistribution(0.0, 0.5),
            "filters": CategoricalDistribution([(16, 32, 64), (32, 64, 128), (32, 64, 128, 256)]),
            "dense_units": CategoricalDistribution([(128,), (256, 128), (512, 256)]),
            "batch_size": CategoricalDistribution([32, 64, 128]),
        }
    return {prefix + name: dist for name, dist in space.items()}


def _is_storable(choice) -> bool:
    return choice is None or isinstance(choice, bool | int | float | str)


def _encode_choice(name: str, choice) -> str:
    """A tuple or list choice as a JSON string; a clear error for anything else."""
    items = [item.item() if hasattr(item, "item") else item for item in choice]
    if not all(_is_storable(item) for item in items):
        raise TypeError(
            f"param_distributions[{name!r}] has the choice {choice!r}; choices must be None, "
            "bool, int, float, str, or tuples of these."
        )
    return json.dumps(items)


class _SearchSpace:
    """The validated distributions of a search, with tuple choices encoded for storage.

    Parameters
    ----------
    distributions : mapping of str to BaseDistribution
        As given by the user; checked against ``valid_names``.
    valid_names : collection of str
        Parameter names the estimator accepts (``estimator.get_params(deep=True)``).
    estimator_name : str
        For error messages.
    """

    def __init__(self, distributions, valid_names, *, estimator_name: str):
        if not isinstance(distributions, Mapping):
            raise TypeError(
                "param_distributions must be a dict of parameter name to Optuna distribution; "
                f"got {type(distributions).__name__}."
            )
        if not distributions:
            raise ValueError("param_distributions is empty; give at least one parameter.")
        valid_names = set(valid_names)
        self.distributions: dict[str, BaseDistribution] = {}
        self._decode: dict[str, dict[str, tuple]] = {}
        for name, dist in distributions.items():
            if name not in valid_names:
                close = difflib.get_close_matches(str(name), sorted(valid_names), n=3)
                hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise ValueError(
                    f"param_distributions names {name!r}, which is not a parameter of "
                    f"{estimator_name}.{hint} Valid names: estimator.get_params().keys()."
                )
            if not isinstance(dist, _SUPPORTED):
                raise TypeError(
                    f"param_distributions[{name!r}] must be an Optuna distribution: "
                    "optuna.distributions.FloatDistribution, IntDistribution or "
                    f"CategoricalDistribution; got {dist!r} of type {type(dist).__name__}."
                )
            self.distributions[name] = self._encoded(name, dist)

    def _encoded(self, name: str, dist: BaseDistribution) -> BaseDistribution:
        if not isinstance(dist, CategoricalDistribution):
            return dist
        if all(_is_storable(choice) for choice in dist.choices):
            return dist
        encoded, decode = [], {}
        for choice in dist.choices:
            if _is_storable(choice):
                if isinstance(choice, str) and choice in decode:
                    raise ValueError(
                        f"param_distributions[{name!r}] has both {choice!r} and a tuple "
                        "choice stored under that text; rename the string choice."
                    )
                encoded.append(choice)
                continue
            if not isinstance(choice, tuple | list):
                raise TypeError(
                    f"param_distributions[{name!r}] has the choice {choice!r} of type "
                    f"{type(choice).__name__}; choices must be None, bool, int, float, str, "
                    "or tuples of these."
                )
            key = _encode_choice(name, choice)
            if key in encoded:
                raise ValueError(
                    f"param_distributions[{name!r}] has both {key!r} and a tuple choice "
                    "stored under that text; rename the string choice."
                )
            decode[key] = tuple(choice)
            encoded.append(key)
        self._decode[name] = decode
        return CategoricalDistribution(encoded)

    def suggest(self, trial: optuna.trial.Trial) -> dict:
        """Ask ``trial`` for a value of every parameter; returns the estimator's values."""
        stored = {name: _suggest(trial, name, dist) for name, dist in self.distributions.items()}
        return self.decode(stored)

    def decode(self, stored: Mapping) -> dict:
        """Parameters as Optuna stores them -> parameters as the estimator takes them."""
        out = {}
        for name, value in stored.items():
            table = self._decode.get(name)
            out[name] = table.get(value, value) if table and isinstance(value, str) else value
        return out


def _suggest(trial: optuna.trial.Trial, name: str, dist: BaseDistribution):
    """Sample ``dist`` through the trial's public ``suggest_*`` API."""
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)
