"""predict_image: every face of a photo with its emotion and probabilities."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ferkit._validation import already_validated
from ferkit._workers import is_parallel, load_model, map_in_workers
from ferkit.faces._crop import DEFAULT_MARGIN, MAX_MARGIN, check_boxes, crop_faces
from ferkit.faces._detect import BOX_COLUMNS, boxes_frame, make_detector
from ferkit.faces._io import _source_name, image_batch

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
     "detector": "no_validation", "detector_params": [dict, None], "align": ["boolean"],
     "boxes": "no_validation", "n_jobs": [Integral, None]},
    prefer_skip_nested_validation=False,
)
def predict_image(model, image, *, margin: float = DEFAULT_MARGIN, detector="mtcnn",
                  detector_params: dict | None = None, align: bool = True, boxes=None,
                  n_jobs: int | None = None):
    """Detect every face in a photo (or in each photo of a list or folder) and predict its
    emotion.

    Parameters
    ----------
    model : estimator, str or path-like
        A fitted classifier that takes raw 0-255 grayscale faces as flat pixel rows and has
        ``predict_proba`` and ``classes_``: a fitted :func:`ferkit.make_fer_pipeline`, a
        model from :func:`ferkit.load` or :func:`ferkit.load_pretrained`; or the folder of a
        model saved with :func:`ferkit.save`. Faces reach it as
        ``(n_faces, height, width)`` images of the size its first step fitted on
        (``image_shape_``); a model that records no image shape gets flat rows of 48x48
        pixels, as FER2013's.
    image : str, path-like, array-like, or list of them
        Image file, or image array (grayscale, RGB or RGBA, any size and pixel type; see
        :func:`ferkit.faces.to_gray`). A folder, or a list of files and arrays, is a batch:
        one detector serves every photo, and the model gets each photo's faces in one call.
    margin : float, default=0.0
        Border added around each face before it is resized, as a fraction of the face box's
        longer side, from 0 to 5 (see :func:`ferkit.faces.crop_face`).
    detector : {"mtcnn", "lbp"} or FaceDetector, default="mtcnn"
        The face detector (see :func:`ferkit.detect_faces`).
    detector_params : dict or None, default=None
        The detector's options (``min_confidence``, ``min_size``...; see
        :func:`ferkit.detect_faces`).
    align : bool, default=True
        Rotate each face so its eyes are level before cropping, where its box has eye
        landmarks (MTCNN's, or landmark columns in ``boxes``); other faces are not rotated.
    boxes : pandas.DataFrame, array-like of shape (n_faces, 4) or None, default=None
        Faces found by your own detector, for one photo: a table with columns ``x``, ``y``,
        ``width``, ``height`` (and optionally ``score`` and the landmark columns of
        :func:`ferkit.detect_faces`), or an array of ``x, y, width, height`` rows. Nothing is
        detected then, and the faces keep the given order.
    n_jobs : int or None, default=None
        Worker processes for a batch (joblib's convention: None is 1, -1 every core). Each
        worker loads the model once from its files with :func:`ferkit.load` (a model in
        memory is first saved to a temporary folder; no pickle), takes runs of consecutive
        photos, and the rows come back in input order. Inside
        ``joblib.parallel_backend("dask")`` the workers are a Dask cluster's (give ``model``
        as a folder every machine can read). The results are those of ``n_jobs=1`` up to
        the last bits of the probabilities (TensorFlow's sums depend on its thread count).

    Returns
    -------
    pandas.DataFrame
        One row per face, largest first: ``face`` (0, 1, ...), the box ``x``, ``y``,
        ``width``, ``height``, ``score`` (and landmark columns) of
        :func:`ferkit.detect_faces`, ``emotion`` (the predicted class) and one probability
        column per class of the model, named after the class (``"angry"``, ``"happy"``...).
        Empty, with these columns, when the photo has no face. A batch gives one table with a
        first column ``image`` (the file's path, or the array's position in the list).

    Raises
    ------
    ValueError
        If an image cannot be read (the message names the file), the model is not fitted, or
        ``boxes`` or a detector option is malformed (the message names it).
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
    >>> table.columns.tolist()[:6], table.columns.tolist()[-3:]
    (['face', 'x', 'y', 'width', 'height', 'score'], ['emotion', 'happy', 'sad'])
    >>> bool(table.loc[0, "emotion"] in ("happy", "sad"))
    True
    >>> mine = predict_image(model, astronaut(), boxes=[[180, 60, 90, 115]])
    >>> mine[["x", "y", "width", "height"]].values.tolist()
    [[180, 60, 90, 115]]
    """
    import pandas as pd

    batch = image_batch(image)
    if batch is not None and boxes is not None:
        raise ValueError("boxes are the faces of one photo; for a batch, call predict_image "
                         "on each photo with its boxes.")
    finder = None if boxes is not None else make_detector(detector, **(detector_params or {}))
    options = dict(finder=finder, margin=margin, align=align)
    if batch is not None and len(batch) > 1 and is_parallel(n_jobs):
        if not isinstance(model, str | os.PathLike):
            _check_model(model)  # an unfitted model is refused before it is saved
        tables = map_in_workers(_predict_entry, model, batch, n_jobs=n_jobs, **options)
        return pd.concat([t for chunk in tables for t in chunk], ignore_index=True)
    model = load_model(model)
    classes = _check_model(model)
    if batch is None:
        given = None if boxes is None else check_boxes(boxes)
        return _predict_one(model, classes, image, _source_name(image, None), boxes=given,
                            **options)
    return pd.concat([_predict_entry(model, entry, **options) for entry in batch],
                     ignore_index=True)


def _predict_entry(model, entry, **options):
    """predict_image's table for one photo of a batch, ``(key, name, source)``, with its
    ``image`` column first (in a worker process, with ``n_jobs``)."""
    import pandas as pd

    key, name, source = entry
    table = _predict_one(model, _check_model(model), source, name, **options)
    table.insert(0, "image", pd.Series([key] * len(table), dtype=object))
    return table


def _predict_one(model, classes, image, name, finder, *, margin, align, boxes=None):
    """predict_image's table for one photo."""
    import pandas as pd

    shape = _input_shape(model)
    gray, found, crops = crop_faces(image, finder, margin=margin, size=shape or _FER2013_SHAPE,
                                    name=name, align=align, boxes=boxes)
    landmarks = finder.landmarks if finder is not None else found.shape[1] >= 15
    table = boxes_frame(found, gray.shape, landmarks=landmarks)
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
