"""scikit-learn's estimator checks on OptunaSearchCV.

The whole suite of checks runs on OptunaSearchCV around a quick scikit-learn classifier: it
tests the meta-estimator's own contract (parameters, cloning, fitting twice, pickling the
study, delegation of predict/score, error messages) in seconds. Around the tiny ferkit
classifier the same suite takes over seven minutes on two CPU cores (each search fit trains
three networks, and the accuracy checks need fifteen epochs), so there the checks that
involve what the Keras estimator adds (pickling a fitted network inside the search,
fitted-state detection, n_features_in_ for image input) run one by one; the classifier's own
checks are in test_common.py.
"""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import (
    check_estimators_pickle,
    check_fit_check_is_fitted,
    check_n_features_in,
    parametrize_with_checks,
)

from ferkit.model_selection import OptunaSearchCV

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _quick_search():
    return OptunaSearchCV(
        DecisionTreeClassifier(), {"min_samples_leaf": IntDistribution(1, 3)},
        n_trials=2, cv=2, pruning=False, random_state=0,
    )


def _ferkit_search():
    from ferkit import FacialExpressionClassifier

    clf = FacialExpressionClassifier(
        filters=(4,), dense_units=(8,), epochs=2, batch_size=32, learning_rate=0.01,
        validation_split=0.0, early_stopping_patience=None,
    )
    return OptunaSearchCV(clf, {"dropout": FloatDistribution(0.0, 0.3)}, n_trials=1, cv=2,
                          pruning=False, random_state=0)


#: Checks that fail for a documented reason. None so far: keep each entry's reason specific.
_EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [_quick_search()], expected_failed_checks=lambda estimator: _EXPECTED_FAILED_CHECKS
)
def test_sklearn_compatible_search(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check", [check_estimators_pickle, check_fit_check_is_fitted, check_n_features_in],
    ids=lambda check: check.__name__,
)
def test_sklearn_checks_around_the_ferkit_classifier(check):
    estimator = _ferkit_search()
    check(type(estimator).__name__, estimator)
