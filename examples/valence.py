"""A task of one's own on a few hundred faces: is a face positive, neutral or negative?

FER2013's seven emotions are relabelled as valence: positive (happy, surprise), negative
(angry, disgust, fear, sad) and neutral. No network is trained: a logistic regression learns
the new labels from the face features of the network shipped with ferkit
(``make_pipeline(FaceEmbedder("fer2013-7"), LogisticRegression())``), which is how a small
labelled data set of one's own is best used. Its 5-fold cross-validated accuracy is printed,
against the share of the most common label.

The faces are the sample shipped with ferkit (656 faces from FER2013's PublicTest split, on
which the shipped networks were not trained). Run from the repository root::

    .venv/bin/python examples/valence.py

It takes under a minute on two CPU cores. Set FERKIT_EXAMPLE_FAST=1 to read the features of
the smaller shipped network, ``fer2013-3``, instead (for smoke tests).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up messages

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from ferkit import FaceEmbedder
from ferkit.datasets import load_sample

FAST = os.environ.get("FERKIT_EXAMPLE_FAST") == "1"
EMBEDDER = "fer2013-3" if FAST else "fer2013-7"
VALENCE = {"happy": "positive", "surprise": "positive", "neutral": "neutral",
           "angry": "negative", "disgust": "negative", "fear": "negative", "sad": "negative"}


def main() -> None:
    faces = load_sample()
    y = np.asarray([VALENCE[emotion] for emotion in faces.target], dtype=object)
    # A few hundred faces support only a strongly regularised model on hundreds of features.
    model = make_pipeline(FaceEmbedder(EMBEDDER), LogisticRegression(C=0.01, max_iter=1000))

    # FaceEmbedder learns nothing from the faces it is fitted on, so computing the features
    # once leaks nothing between folds: cross-validating the logistic regression on them
    # scores exactly as cross-validating the whole pipeline would, without running the
    # networks again in every fold.
    features = model[0].fit_transform(faces.data)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model[-1], features, y, cv=cv)

    labels, counts = np.unique(y, return_counts=True)
    print(f"{len(y)} faces, {features.shape[1]} features each from {EMBEDDER}: "
          + ", ".join(f"{label} {n}" for label, n in zip(labels, counts, strict=True)))
    print(f"most common label alone: {counts.max() / len(y):.3f}")
    print(f"cross-validated accuracy (5 folds): {scores.mean():.3f} "
          f"+/- {scores.std():.3f}")

    # Fitted on every face, the pipeline takes raw pixels like any ferkit model.
    model[-1].fit(features, y)
    for emotion, label in zip(faces.target[::131], model.predict(faces.data[::131]),
                              strict=True):
        print(f"a face labelled {emotion!r} is predicted {label!r}")


if __name__ == "__main__":
    main()
