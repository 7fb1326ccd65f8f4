"""Version workarounds, kept in one place.

scikeras 0.13 predates scikit-learn's ``__sklearn_tags__`` protocol: its ``KerasClassifier``
puts ``ClassifierMixin`` after ``BaseEstimator`` in the MRO, so on scikit-learn >= 1.7 the
classifier tags are never applied and ``is_classifier()`` is False. That silently turns
``cross_val_score(cv=5)`` into plain (unstratified) KFold. We declare the tags ourselves.
"""

from __future__ import annotations

from contextlib import contextmanager

from sklearn.utils import ClassifierTags


def as_classifier_tags(tags):
    """Return scikit-learn ``tags`` corrected to describe a classifier."""
    tags.estimator_type = "classifier"
    if tags.classifier_tags is None:
        tags.classifier_tags = ClassifierTags()
    tags.target_tags.required = True
    tags.regressor_tags = None
    return tags


@contextmanager
def preserve_op_determinism():
    """Leave TensorFlow's global op-determinism switch as it was found.

    scikeras 0.13 switches it on while fitting with a ``random_state``, and in some call
    sequences it stays on; a later fit without a seed then fails with "Random ops require a
    seed to be set when determinism is enabled".
    """
    from tensorflow.python.framework import config  # no public getter in TensorFlow 2.21

    was_enabled = config.is_op_determinism_enabled()
    try:
        yield
    finally:
        if not was_enabled and config.is_op_determinism_enabled():
            config.disable_op_determinism()
