"""Shared pieces of the dataset loaders: the Bunch they return and its description."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ferkit._emotions import EMOTIONS, N_PIXELS


def make_bunch(images: np.ndarray, target, *, descr: str, usage=None, **extra) -> Bunch:
    """Assemble the dataset Bunch every ferkit loader returns.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_samples, 48, 48)
        The faces.
    target : ndarray of str, shape (n_samples,), or None
        Emotion names, or None for unlabelled data.
    descr : str
        Text for ``DESCR``.
    usage : ndarray of str or None, default=None
        FER2013 split of each face, where the source says.
    **extra : dict
        Further fields.

    Returns
    -------
    sklearn.utils.Bunch
        With ``data`` (n, 2304) uint8, ``images``, ``target``, ``target_names``, ``usage``
        and ``DESCR``.
    """
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if target is None:
        target_names = np.asarray([], dtype=object)
    else:
        target = np.asarray(target, dtype=object)
        present = set(target.tolist())
        target_names = np.asarray([e for e in EMOTIONS if e in present], dtype=object)
    return Bunch(
        data=images.reshape(len(images), N_PIXELS),
        images=images,
        target=target,
        target_names=target_names,
        usage=usage,
        DESCR=descr,
        **extra,
    )
