"""Named configurations of FacialExpressionClassifier, measured on FER2013's PublicTest.

A preset is only a dict of constructor parameters: ``FacialExpressionClassifier(**PRESETS[n])``
is the whole story, so every preset can be tuned, cloned and searched like any other.
"""

from __future__ import annotations

#: The training recipe: augmentation, label smoothing, a cosine learning-rate schedule and
#: early stopping that restores the best weights; at prediction, the average over each face
#: and its mirror image. See docs/model_card.md for its effect.
RECIPE: dict = {
    "batch_norm": True,
    "augment": True,
    "test_time_flip": True,
    "label_smoothing": 0.1,
    "lr_schedule": "cosine",
    "dropout": 0.4,
    "early_stopping_patience": 10,
    "batch_size": 64,
    "learning_rate": 1e-3,
}

#: What the published from-scratch FER2013 networks train with (issue #20): SGD with Nesterov
#: momentum 0.9 and weight decay 1e-4 at a rate of 0.01, here decayed along a cosine over all
#: the epochs. No early stopping: at SGD's high early rates validation accuracy stalls for
#: more than ten epochs at a time, and the gains come as the rate falls towards zero at the
#: end of the schedule (the epoch logs of issue #20's ``large`` runs), so the final weights
#: are kept.
SGD_RECIPE: dict = {
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "optimizer__momentum": 0.9,
    "optimizer__nesterov": True,
    "optimizer__weight_decay": 1e-4,
    "lr_schedule": "cosine",
    "early_stopping_patience": None,
}

#: Named classifier configurations: ``"plain"`` (the original network without the recipe),
#: ``"default"`` (the same network with :data:`RECIPE`), ``"large"`` (four VGG-style blocks
#: of two convolutions with the recipe) and ``"xl"`` (``large`` at twice the width, trained
#: with :data:`SGD_RECIPE`). Use them as ``make_fer_pipeline(preset="large")``.
PRESETS: dict[str, dict] = {
    # The original work's network as it was: no batch normalisation, no augmentation.
    "plain": {
        "batch_norm": False,
        "augment": False,
        "test_time_flip": False,
        "label_smoothing": 0.0,
        "lr_schedule": None,
        "dropout": 0.5,
        "early_stopping_patience": 5,
    },
    # The default 3-convolution network trained with the recipe.
    "default": dict(RECIPE),
    # Four VGG-style blocks of two convolutions: the accuracy preset.
    "large": dict(RECIPE, filters=(32, 64, 128, 256), convs_per_block=2, dense_units=(256,)),
    # ``large`` at twice the width: the filters of Khaireddin & Chen's 73.3% VGG, about 4x
    # the FLOPs per face, trained with the published networks' SGD recipe.
    "xl": dict(RECIPE, **SGD_RECIPE, filters=(64, 128, 256, 512), convs_per_block=2,
               dense_units=(512,)),
}


def preset_params(name: str, **overrides) -> dict:
    """Parameters of the preset ``name`` ("plain", "default", "large" or "xl"), with overrides.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS`.
    **overrides : dict
        Parameters replacing the preset's.

    Returns
    -------
    dict
        Constructor parameters for :class:`~ferkit.FacialExpressionClassifier`.

    Examples
    --------
    >>> preset_params("large", epochs=5)["convs_per_block"]
    2
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return {**PRESETS[name], **overrides}
