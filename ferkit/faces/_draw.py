"""draw_faces: a photo with its faces boxed and labelled, for a person to check by eye."""

from __future__ import annotations

import numpy as np

from ferkit.faces._io import _source_name, _to_unit_scale, read_image

_BOX_COLOUR = (255, 200, 0)


def _as_rgb8(image, label: str) -> np.ndarray:
    """Any readable image as 8-bit RGB, for drawing."""
    array = read_image(image, name=label)
    if array.dtype != np.uint8:
        values, white = _to_unit_scale(array, label)
        array = np.rint(values.astype(np.float32) / np.float32(white) * 255).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[2] in (2, 4):  # drop alpha: the boxes must show on any background
        array = array[..., :-1]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array)


def draw_faces(image, faces) -> np.ndarray:
    """Draw face boxes, and their emotions when known, on a copy of a photo.

    Parameters
    ----------
    image : str, path-like or array-like
        The photo the faces were found in (file or array, as for :func:`ferkit.detect_faces`).
    faces : pandas.DataFrame
        Output of :func:`ferkit.detect_faces` or :func:`ferkit.predict_image`: columns ``x``,
        ``y``, ``width``, ``height`` and, optionally, ``emotion`` and a probability column
        named after each emotion.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
        The annotated RGB image. Nothing is written to disk; save it yourself, for example
        with ``PIL.Image.fromarray(result).save(path)``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from ferkit.faces import draw_faces
    >>> boxes = pd.DataFrame({"x": [2], "y": [2], "width": [10], "height": [10]})
    >>> draw_faces(np.zeros((20, 20), dtype=np.uint8), boxes).shape
    (20, 20, 3)
    """
    from PIL import Image, ImageDraw, ImageFont

    missing = {"x", "y", "width", "height"} - set(getattr(faces, "columns", ()))
    if missing:
        raise ValueError(
            f"faces must be a table from detect_faces or predict_image; it lacks the "
            f"column(s) {sorted(missing)}."
        )
    canvas = Image.fromarray(_as_rgb8(image, _source_name(image, None)))
    draw = ImageDraw.Draw(canvas)
    line = max(1, round(max(canvas.size) / 300))
    font = ImageFont.load_default(size=max(10, 6 * line + 6))
    for _, face in faces.iterrows():
        x, y, w, h = (int(face[c]) for c in ("x", "y", "width", "height"))
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=_BOX_COLOUR, width=line)
        if "emotion" in faces.columns:
            label = str(face["emotion"])
            if label in faces.columns:
                label = f"{label} {float(face[label]):.0%}"
            left, top, right, bottom = draw.textbbox((x, y), label, font=font)
            top_y = y - (bottom - top) - 2 * line if y - (bottom - top) - 2 * line >= 0 else y + h
            draw.rectangle(
                [x, top_y, x + (right - left) + 2 * line, top_y + (bottom - top) + 2 * line],
                fill=_BOX_COLOUR,
            )
            draw.text((x + line, top_y + line - (top - y)), label, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)
