"""The default ferkit pipeline: raw pixels in, emotion labels out."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from ferkit._presets import preset_params
from ferkit.preprocessing import ImageReshaper, PixelScaler


def make_fer_pipeline(
    *, image_shape=(48, 48), scaling="unit", preset=None, **classifier_params
) -> Pipeline:
    """Build ``ImageReshaper -> PixelScaler -> FacialExpressionClassifier``.

    The steps are named ``reshape``, ``scale`` and ``clf``, so searches address the
    classifier as ``clf__dropout``.

    Parameters
    ----------
    image_shape : tuple of int, default=(48, 48)
        Shape of one face image; raw input may be flat rows or images.
    scaling : {"unit", "image", "dataset"}, default="unit"
        ``method`` of the :class:`~ferkit.preprocessing.PixelScaler` step.
    preset : {None, "plain", "default", "large", "xl"}, default=None
        Start the classifier from a named configuration (see :data:`ferkit.PRESETS`);
        ``classifier_params`` override it.
    **classifier_params : dict
        Parameters of the :class:`~ferkit.FacialExpressionClassifier`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The unfitted pipeline. Its ``predict`` takes raw 0-255 pixels.

    Examples
    --------
    >>> from ferkit import make_fer_pipeline
    >>> make_fer_pipeline(epochs=2).named_steps["clf"].epochs
    2
    """
    from ferkit._classifier import FacialExpressionClassifier

    if preset is not None:
        classifier_params = preset_params(preset, **classifier_params)
    return Pipeline(
        [
            ("reshape", ImageReshaper(image_shape=image_shape)),
            ("scale", PixelScaler(method=scaling)),
            ("clf", FacialExpressionClassifier(**classifier_params)),
        ]
    )
