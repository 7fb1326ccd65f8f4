"""Version workarounds, kept in one place.

scikeras 0.13 predates scikit-learn's ``__sklearn_tags__`` protocol: its ``KerasClassifier``
puts ``ClassifierMixin`` after ``BaseEstimator`` in the MRO, so on scikit-learn >= 1.7 the
classifier tags are never applied and ``is_classifier()`` is False. That silently turns
``cross_val_score(cv=5)`` into plain (unstratified) KFold. We declare the tags ourselves.
"""

from __future__ import annotations

from sklearn.utils import ClassifierTags


def as_classifier_tags(tags):
    """Return scikit-learn ``tags`` corrected to describe a classifier."""
    tags.estimator_type = "classifier"
    if tags.classifier_tags is None:
        tags.classifier_tags = ClassifierTags()
    tags.target_tags.required = True
    tags.regressor_tags = None
    return tags
