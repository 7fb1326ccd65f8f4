"""predict_image: every face of a photo with its emotion and probabilities."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit._validation import already_validated
from ferkit.faces._crop import MAX_MARGIN, crop_faces
from ferkit.faces._detect import BOX_COLUMNS, LBPCascadeDetector, boxes_frame
from ferkit.faces._io import _source_name

#: The faces of models that record no image shape (scikit-learn models on flat pixel rows).
_FER2013_SHAPE = (48, 48)


def _input_shape(model) -> tuple[int, int] | None:
    """``(height, width)`` of the images ``model`` was fitted on: the ``image_shape_`` of its
    first step (or ensemble member, or best estimator) that records one; None if none does."""
    shape = getattr(model, "image_shape_", None)
    if shape is not None:
        return int(shape[0]), int(shape[1])
    inner = [step for _, step in getattr(model, "steps", [])]
    inner += list(getattr(model, "estimators_", []))
    inner += [getattr(model, "best_estimator_", None)]
    for step in inner:
        if step is not None and step != "passthrough" and (found := _input_shape(step)):
            return found
    return None


def _check_model(model) -> np.ndarray:
    """The fitted model's class labels; a clear error for anything that cannot predict."""
    if not hasattr(model, "predict_proba"):
        raise TypeError(
            f"model must be a fitted ferkit classifier or pipeline with predict_proba; got "
            f"{type(model).__name__}."
        )
    try:
        classes = model.classes_
    except AttributeError:
        raise ValueError(
            f"model ({type(model).__name__}) is not fitted: fit it, or load one with "
            "ferkit.load(path) or ferkit.load_pretrained(name)."
        ) from None
    return np.asarray(classes)


@validate_params(
    {"model": "no_validation", "image": "no_validation",
     "margin": [Interval(Real, 0, MAX_MARGIN, closed="both")],
     "detector_params": [dict, None]},
    prefer_skip_nested_validation=False,
)
def predict_image(model, image, *, margin: float = 0.1, detector_params: dict | None = None):
    """Detect every face in a photo and predict its emotion.

    Parameters
    ----------
    model : estimator
        A fitted classifier that takes raw 0-255 grayscale faces as flat pixel rows and has
        ``predict_proba`` and ``classes_``: a fitted :func:`ferkit.make_fer_pipeline`, a
        model from :func:`ferkit.load` or :func:`ferkit.load_pretrained`. Faces reach it as
        ``(n_faces, height, width)`` images of the size its first step fitted on
        (``image_shape_``); a model that records no image shape gets flat rows of 48x48
        pixels, as FER2013's.
    image : str, path-like or array-like
        Image file, or image array (grayscale, RGB or RGBA, any size and pixel type; see
        :func:`ferkit.faces.to_gray`).
    margin : float, default=0.1
        Border added around each detected face before it is resized, as a fraction of the
        face's side (see :class:`~ferkit.preprocessing.FaceCropper`), from 0 to 5.
    detector_params : dict or None, default=None
        Options of :func:`ferkit.detect_faces` (``min_neighbors``, ``max_side``...).

    Returns
    -------
    pandas.DataFrame
        One row per face, largest first: ``face`` (0, 1, ...), the box ``x``, ``y``,
        ``width``, ``height`` and detector ``score`` of :func:`ferkit.detect_faces`,
        ``emotion`` (the predicted class) and one probability column per class of the model,
        named after the class (``"angry"``, ``"happy"``...). Empty, with these columns, when
        the photo has no face.

    Raises
    ------
    ValueError
        If the image cannot be read (the message names the file) or the model is not fitted.
    TypeError
        If ``model`` has no ``predict_proba``.

    See Also
    --------
    ferkit.detect_faces : The faces alone.
    ferkit.preprocessing.FaceCropper : One face per photo, as a pipeline step.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from ferkit import make_fer_pipeline, predict_image
    >>> from ferkit.datasets import load_sample
    >>> faces = load_sample(emotions=("happy", "sad"))
    >>> model = make_fer_pipeline(filters=(4, 8), dense_units=(8,), epochs=1,
    ...                           random_state=0).fit(faces.data, faces.target)
    >>> table = predict_image(model, astronaut())
    >>> table.columns.tolist()
    ['face', 'x', 'y', 'width', 'height', 'score', 'emotion', 'happy', 'sad']
    >>> bool(table.loc[0, "emotion"] in ("happy", "sad"))
    True
    """
    import pandas as pd

    classes = _check_model(model)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0; got {margin!r}.")
    detector = LBPCascadeDetector(**(detector_params or {}))
    shape = _input_shape(model)
    gray, boxes, crops = crop_faces(image, detector, margin=margin, size=shape or _FER2013_SHAPE,
                                    name=_source_name(image, None))
    table = boxes_frame(boxes, gray.shape)
    table.insert(0, "face", np.arange(len(table), dtype=np.int64))
    names = [str(c) for c in classes]
    if len(table) == 0:
        proba = np.empty((0, len(classes)))
        emotion = pd.Series([], dtype=object)
    else:
        # The photo was checked when it was read; its crops are 0-255 pixels by construction.
        faces = crops.astype(np.float32) if shape else crops.reshape(len(crops), -1)
        with already_validated():
            proba = np.asarray(model.predict_proba(faces), dtype=float)
        emotion = classes[np.argmax(proba, axis=1)]
    table["emotion"] = emotion
    probabilities = pd.DataFrame(proba, columns=names, index=table.index)
    return pd.concat([table, probabilities], axis=1)


#: Columns every :func:`predict_image` table starts with.
FACE_COLUMNS: tuple[str, ...] = ("face", *BOX_COLUMNS, "emotion")
