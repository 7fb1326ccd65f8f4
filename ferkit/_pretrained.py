"""Pretrained models shipped inside the package: nothing is downloaded."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from importlib import resources

#: What each shipped model recognises.
PRETRAINED: dict[str, str] = {
    "fer2013-7": "all seven FER2013 emotions",
    "fer2013-3": "the original work's three emotions: angry, happy, sad",
}

#: Accuracy of each shipped model on FER2013's PublicTest split, as stated in the model card
#: (measured by ``python benchmarks/accuracy.py ship``; checked by tests/test_pretrained.py).
PUBLICTEST_ACCURACY: dict[str, float] = {
    "fer2013-7": 0.6804,
    "fer2013-3": 0.8536,
}


def available_pretrained() -> list[str]:
    """Names of the pretrained models present in this installation.

    Returns
    -------
    list of str
        For example ``["fer2013-3", "fer2013-7"]``.
    """
    root = resources.files("ferkit").joinpath("pretrained")
    return sorted(n for n in PRETRAINED if root.joinpath(n, "ferkit.json").is_file())


def load_pretrained(name: str = "fer2013-7"):
    """Load a pretrained emotion model shipped with ferkit.

    Parameters
    ----------
    name : {"fer2013-7", "fer2013-3"}, default="fer2013-7"
        ``"fer2013-7"`` recognises all seven FER2013 emotions; ``"fer2013-3"`` the original
        work's three (angry, happy, sad). Their accuracy, training data and limits are in
        the model card (``docs/model_card.md``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        A fitted pipeline whose ``predict`` takes raw 48x48 grayscale pixels (uint8 0-255)
        as ``(n, 48, 48)`` or flat ``(n, 2304)`` and returns emotion names;
        ``predict_proba`` columns follow ``classes_``. ``"fer2013-7"`` ends in a soft-voting
        :class:`~sklearn.ensemble.VotingClassifier` of three networks (see the model card);
        ``"fer2013-3"`` in one :class:`~ferkit.FacialExpressionClassifier`.

    Examples
    --------
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> model = ferkit.load_pretrained("fer2013-3")  # doctest: +SKIP
    >>> model.predict(load_sample().images[:2])  # doctest: +SKIP
    array(['angry', 'angry'], dtype=object)
    """
    from ferkit.persistence import load

    with pretrained_folder(name) as folder:
        return load(folder)


@contextmanager
def pretrained_folder(name: str):
    """The folder of the shipped model ``name``, while the context lasts (a real folder even
    when ferkit is installed as a zip); a clear error for a name ferkit does not ship."""
    if name not in PRETRAINED:
        raise ValueError(
            f"Unknown pretrained model {name!r}; ferkit ships {sorted(PRETRAINED)}."
        )
    if name not in available_pretrained():
        raise FileNotFoundError(
            f"The pretrained model {name!r} is missing from this installation of ferkit "
            f"(looked in {resources.files('ferkit').joinpath('pretrained', name)})."
        )
    with resources.as_file(resources.files("ferkit").joinpath("pretrained", name)) as folder:
        yield folder


@functools.lru_cache(maxsize=2)
def shared_pretrained(name: str):
    """One loaded copy of a shipped model per process, for ferkit's own read-only uses.

    ``FaceEmbedder`` and fine-tuning (``weights=``) only read the shipped networks; loading
    them again for every fit of a cross-validation or grid search would read the same files
    each time. Never fit or modify what this returns: use :func:`load_pretrained` for that.
    """
    return load_pretrained(name)
