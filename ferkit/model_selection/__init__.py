"""Hyper-parameter search with Optuna, as scikit-learn estimators.

:class:`OptunaSearchCV` tunes a :class:`~ferkit.FacialExpressionClassifier` or a pipeline
ending in one; several processes can share one study through an Optuna storage.
Importing this module imports Optuna (not TensorFlow).
"""

from ferkit.model_selection._optuna_search import OptunaSearchCV, default_pruner
from ferkit.model_selection._sampling import TrialSeededTPESampler
from ferkit.model_selection._search_space import default_search_space

__all__ = ["OptunaSearchCV", "TrialSeededTPESampler", "default_pruner", "default_search_space"]
