"""Batch mixing for training: MixUp and CutMix, Keras' own layers applied batch by batch.

Unlike the augmentation layers inside the network (``_network``), these mix two faces *and
their labels*, so they cannot live in a model that sees images alone: they run on each
training batch before it reaches ``Model.fit``, through a ``keras.utils.PyDataset``.
Importing this module imports Keras.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class MixedBatches(keras.utils.PyDataset):
    """Shuffled training batches of one-hot targets, each mixed by MixUp or CutMix.

    Parameters
    ----------
    X : ndarray of shape (n_samples, height, width, channels)
        Training images.
    y : ndarray of shape (n_samples, n_classes)
        One-hot (or soft) targets; mixed in the same proportions as the pixels.
    sample_weight : ndarray of shape (n_samples,) or None
        Weight of each row; a mixed row keeps the weight of the row it started from.
    batch_size : int
        Rows per batch (the last batch of an epoch may be smaller).
    mixup : float
        ``alpha`` of ``keras.layers.MixUp`` (each pair's weight is drawn from
        Beta(alpha, alpha)); 0 leaves MixUp out.
    cutmix : float
        ``factor`` of ``keras.layers.CutMix`` (a patch of up to that fraction of the area is
        pasted from the partner face); 0 leaves CutMix out. With both, each batch uses one
        of the two, drawn with even odds.
    seed : int or None
        Seed of the shuffling, of the choice between the two and of the layers: with an int
        the batches repeat exactly from one run to the next (batches are made in order, in
        the training thread).
    """

    def __init__(self, X, y, sample_weight, *, batch_size: int, mixup: float, cutmix: float,
                 seed: int | None):
        # One worker, no multiprocessing (PyDataset's defaults): batches in order, so the
        # layers' seed generators and the shuffle give the same batches in every run.
        super().__init__()
        self._X, self._y, self._sample_weight = X, y, sample_weight
        self._batch_size = int(batch_size)
        self._rng = np.random.default_rng(seed)
        # float32 whatever Keras' global dtype policy is: under mixed_bfloat16 the layers
        # would otherwise round the pixels and targets to bfloat16 before the network does.
        self._mixers = []
        if mixup:
            self._mixers.append(keras.layers.MixUp(alpha=mixup, seed=seed, dtype="float32"))
        if cutmix:
            self._mixers.append(keras.layers.CutMix(factor=cutmix, seed=seed, dtype="float32"))
        if not self._mixers:
            raise ValueError("MixedBatches needs mixup or cutmix above 0.")
        self._order = self._rng.permutation(len(X))

    def __len__(self) -> int:
        return math.ceil(len(self._X) / self._batch_size)

    def __getitem__(self, index: int):
        rows = self._order[index * self._batch_size:(index + 1) * self._batch_size]
        mixer = self._mixers[self._rng.integers(len(self._mixers))]
        mixed = mixer({"images": self._X[rows], "labels": self._y[rows]}, training=True)
        batch = (keras.ops.convert_to_numpy(mixed["images"]),
                 keras.ops.convert_to_numpy(mixed["labels"]))
        if self._sample_weight is None:
            return batch
        return (*batch, self._sample_weight[rows])

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(len(self._X))
