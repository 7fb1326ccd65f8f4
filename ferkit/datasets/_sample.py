"""The small labelled FER2013 sample shipped inside ferkit."""

from __future__ import annotations

from importlib import resources

import numpy as np

from ferkit._emotions import EMOTIONS, check_emotions
from ferkit.datasets._base import make_bunch

_DESCR = """\
FER2013 sample (shipped with ferkit)
------------------------------------

656 faces: 100 per emotion (angry, fear, happy, sad, surprise, neutral) and all 56 disgust
faces, drawn at random with a fixed seed from the PublicTest split of FER2013 (Goodfellow et
al., "Challenges in Representation Learning: Facial Expression Recognition Challenge", 2013).
Each face is a 48x48 grayscale image, uint8 0-255. The classes are nearly balanced here,
unlike the full data set (where disgust is under 2%). Made by ``scripts/make_sample.py``.

No network shipped with ferkit was trained on PublicTest, so their scores on the sample are
fair estimates, though not perfectly clean ones: PublicTest chose the epochs the shipped
models kept. The sample is for trying ferkit, tests and examples, and is a small data set of
one's own in miniature: too small to train a network from scratch well, enough for a linear
model on the shipped networks' face features (``FaceEmbedder``). ``member`` names each
face's file, so the rest of PublicTest can serve as a held-out set.
"""


def load_sample(*, emotions=None, return_X_y=False):
    """Load the FER2013 sample shipped with ferkit: 100 faces per emotion (56 disgust).

    The faces come from FER2013's PublicTest split, on which no shipped network was trained
    (PublicTest did choose their epochs, so it is not a perfectly clean test set for them).

    Parameters
    ----------
    emotions : iterable of str or None, default=None
        Keep only these emotions (for example ``("angry", "happy", "sad")``).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (n, 2304) uint8 flat pixels, ``images`` (n, 48, 48) uint8, ``target``
        emotion names, ``target_names``, ``usage`` (all "PublicTest"), ``member`` (the
        source file of each face in the FER2013 image archive) and ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Examples
    --------
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample()
    >>> faces.data.shape, faces.images.shape
    ((656, 2304), (656, 48, 48))
    >>> sorted(set(load_sample(emotions=("angry", "happy", "sad")).target))
    ['angry', 'happy', 'sad']
    """
    with resources.files("ferkit.datasets").joinpath("data/fer2013_sample.npz").open("rb") as f:
        npz = np.load(f, allow_pickle=False)
        images, codes, members = npz["images"], npz["codes"], npz["members"]
    target = np.asarray(EMOTIONS, dtype=object)[codes]
    if emotions is not None:
        keep = np.isin(target, check_emotions(emotions))
        images, target, members = images[keep], target[keep], members[keep]
    bunch = make_bunch(
        images, target, descr=_DESCR, usage=np.full(len(target), "PublicTest", dtype=object),
        member=members,
    )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
