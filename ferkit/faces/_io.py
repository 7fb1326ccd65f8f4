"""Reading photos: image files and arrays of any common type to one 8-bit grayscale form.

Face detection and FER2013-style crops work on 2-D ``uint8`` grayscale; everything a person
may hand over (a JPEG path, a 16-bit PNG, an RGBA array, a float image in [0, 1]) goes through
:func:`to_gray` once, so the rules for units and channels live in one place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: Formats Pillow recognises but cannot decode into pixels: its MPEG plugin reads a video's
#: size and nothing more, so a folder's clips must not be listed as photos.
_NOT_PHOTOS = frozenset({"MPEG"})


def _pillow_extensions() -> frozenset[str]:
    """The file extensions of the formats Pillow opens here (stubs that need a handler not)."""
    from PIL import Image, ImageFile

    def opens(name: str) -> bool:
        if name in _NOT_PHOTOS:
            return False
        factory = Image.OPEN.get(name, (None,))[0]
        stub = isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile)
        return factory is not None and not stub

    return frozenset(
        ext.lower() for ext, name in Image.registered_extensions().items() if opens(name)
    )


#: Extensions read as photos when a folder is listed (explicitly named files are always
#: tried): those of every format the installed Pillow can open (``.jpg``, ``.png``...).
IMAGE_EXTENSIONS: frozenset[str] = _pillow_extensions()


def resize(gray: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 image to ``(height, width)`` with Pillow (antialiased, fast)."""
    from PIL import Image

    if gray.shape == shape:
        return gray
    resized = Image.fromarray(gray).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def _source_name(source, name: str | None) -> str:
    """How an image is named in error messages: its path, or ``name``, or "image"."""
    if name is not None:
        return name
    if isinstance(source, str | os.PathLike):
        return str(source)
    return "image"


def read_image(source, *, name: str | None = None) -> np.ndarray:
    """Read an image file, or check an image array, and return the pixels as stored.

    Parameters
    ----------
    source : str, path-like or array-like
        Path of an image file in any format Pillow reads (JPEG, PNG, BMP, GIF, TIFF, WebP...),
        or an image array of shape (height, width) or (height, width, channels).
    name : str or None, default=None
        Name of the image in error messages (defaults to the path, or "image").

    Returns
    -------
    ndarray
        ``(height, width)`` for grayscale or ``(height, width, channels)``, in the file's own
        type: ``uint8`` for ordinary photos, ``uint16`` for 16-bit ones, ``bool`` for
        black-and-white. Palette images are expanded to RGB (RGBA where the palette has
        transparency). The EXIF orientation of camera photos is applied, and only the first
        frame of animated or multi-page files is read.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not an image Pillow can read (corrupt, truncated, another format), or
        too large to decode safely (Pillow's decompression-bomb limit, about 179 megapixels).
        The message names the file.

    Examples
    --------
    >>> from ferkit.faces import read_image
    >>> read_image([[0, 255], [255, 0]]).shape
    (2, 2)
    """
    label = _source_name(source, name)
    if not isinstance(source, str | os.PathLike):
        return _check_array(source, label)

    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(source)
    if path.is_dir():
        raise IsADirectoryError(f"{label} is a folder, not an image file.")
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {label}")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            pixels = _pil_to_array(image)
    except UnidentifiedImageError:
        raise ValueError(
            f"cannot read {label}: not an image file Pillow can identify (corrupt, empty or "
            "another format)."
        ) from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"cannot read {label}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports truncated and malformed files as OSError/SyntaxError while decoding.
        raise ValueError(f"cannot read {label}: damaged image data ({exc}).") from None
    return _check_array(pixels, label)


def _pil_to_array(image) -> np.ndarray:
    """Pixels of a Pillow image as an array, with palettes and exotic modes made plain."""
    mode = image.mode
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    elif mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F"):
        # CMYK, YCbCr, LAB, HSV...: Pillow knows how to make them RGB.
        image = image.convert("RGB")
    return np.array(image)


def _check_array(image, label: str) -> np.ndarray:
    """``image`` as an ndarray of a readable shape, or a ValueError naming ``label``."""
    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{label} is not an image array: {exc}") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise TypeError(
            f"{label} must be a numeric image array or a file path; got an array of dtype "
            f"{array.dtype}."
        )
    if np.iscomplexobj(array):
        raise TypeError(f"{label} is a complex array; images hold real pixel values.")
    channels_ok = array.ndim == 3 and array.shape[2] in (1, 2, 3, 4)
    if array.ndim != 2 and not channels_ok:
        hint = ""
        if array.ndim == 3 and array.shape[0] in (1, 3, 4):
            hint = " It looks channels-first: use np.moveaxis(image, 0, -1)."
        raise ValueError(
            f"{label} must be (height, width) grayscale or (height, width, channels) with 1-4 "
            f"channels (gray, gray+alpha, RGB, RGBA); got shape {array.shape}.{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{label} is empty (shape {array.shape}).")
    return array


def _to_unit_scale(array: np.ndarray, label: str) -> tuple[np.ndarray, float]:
    """Pixel values and the value that means white, following the documented unit rules."""
    if array.dtype == bool:
        return array, 1.0
    if array.dtype == np.uint8:
        return array, 255.0
    if array.dtype == np.uint16:
        return array, 65535.0
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError(f"{label} contains NaN or infinity; pixel values must be finite.")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"{label} is a float image with values in [{low:g}, {high:g}]; expected [0, 1] "
                "or [0, 255]."
            )
        return array, (1.0 if high <= 1.0 else 255.0)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 65535:
        raise ValueError(
            f"{label} is an integer image with values in [{low}, {high}]; expected 8-bit "
            "[0, 255] or 16-bit [0, 65535] values."
        )
    return array, (255.0 if high <= 255 else 65535.0)


def to_gray(source, *, name: str | None = None) -> np.ndarray:
    """An image file or array as 2-D ``uint8`` grayscale (0-255), the form FER2013 uses.

    Parameters
    ----------
    source : str, path-like or array-like
        Image file path, or array of shape (height, width) or (height, width, channels)
        with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels.
    name : str or None, default=None
        Name of the image in error messages.

    Returns
    -------
    ndarray of uint8, shape (height, width)
        Luma (ITU-R BT.601 weights, as Pillow and OpenCV use) in 0-255.

    Notes
    -----
    Units follow the array's type: ``uint8`` is 0-255, ``uint16`` is 0-65535 (16-bit photos),
    ``bool`` is black/white; other integer arrays are read as 8-bit when all values are in
    0-255 and as 16-bit otherwise; float arrays as 0-1 when their maximum is at most 1 and as
    0-255 otherwise. Transparent pixels are composited over white (alpha is ignored for
    detection otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from ferkit.faces import to_gray
    >>> to_gray(np.full((2, 2, 3), 1.0))
    array([[255, 255],
           [255, 255]], dtype=uint8)
    """
    label = _source_name(source, name)
    array = read_image(source, name=label)
    if array.dtype == np.uint8 and (array.ndim == 2 or array.shape[2] == 3):
        # The common case, done by Pillow without float copies: big photos stay cheap.
        if array.ndim == 2:
            return array
        from PIL import Image

        return np.asarray(Image.fromarray(np.ascontiguousarray(array)).convert("L"))
    values, white = _to_unit_scale(array, label)
    unit = values.astype(np.float32) / np.float32(white)
    if unit.ndim == 3:
        alpha = None
        if unit.shape[2] in (2, 4):
            alpha = unit[..., -1:]
            unit = unit[..., :-1]
        if unit.shape[2] == 3:
            unit = unit @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
        unit = unit[..., 0]
        if alpha is not None:
            unit = unit * alpha[..., 0] + (1.0 - alpha[..., 0])
    return np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8)


def to_rgb8(pixels: np.ndarray, *, name: str | None = None) -> np.ndarray | None:
    """A colour image array (as :func:`read_image` returns) as 8-bit RGB, or None if grey.

    The units follow :func:`to_gray`'s rules and transparent pixels are composited over white
    as there, so a photo gives the same colours whatever its pixel type.
    """
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        return None
    if pixels.dtype == np.uint8 and pixels.shape[2] == 3:
        return pixels
    values, white = _to_unit_scale(pixels, _source_name(pixels, name))
    unit = values.astype(np.float32) / np.float32(white)
    if unit.shape[2] == 4:
        alpha = unit[..., 3:]
        unit = unit[..., :3] * alpha + (1.0 - alpha)
    return np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8)


def list_images(paths: Iterable, *, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """Expand files and folders into the photo files to read.

    Parameters
    ----------
    paths : iterable of str or path-like
        Files (always kept, whatever their extension, so that a bad one is reported rather
        than ignored) and folders (their files with an image extension, see
        :data:`IMAGE_EXTENSIONS`, sorted by name; hidden files are left out).
    recursive : bool, default=False
        Also look into sub-folders.

    Returns
    -------
    images : list of Path
        Files to read, in the order given, each folder's files sorted.
    skipped : list of Path
        Files inside the folders that were left out because their extension is not an image
        one.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    images: list[Path] = []
    skipped: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {entry}")
        if not path.is_dir():
            images.append(path)
            continue
        found = path.rglob("*") if recursive else path.iterdir()
        for file in sorted(found):
            hidden = any(part.startswith(".") for part in file.relative_to(path).parts)
            if hidden or not file.is_file():
                continue
            (images if file.suffix.lower() in IMAGE_EXTENSIONS else skipped).append(file)
    return images, skipped


def image_batch(image) -> list[tuple[object, str, object]] | None:
    """The images of a batch, or None when ``image`` is one image.

    A batch is a folder (its image files, as :func:`list_images` lists them) or a list or
    tuple whose items are all paths or NumPy arrays (folders among them are expanded); a
    nested list of numbers stays one image, as NumPy reads it.

    Returns
    -------
    list of (key, name, source) or None
        ``key`` identifies the image in result tables (its path as a string, or its position
        in the list), ``name`` names it in error messages, ``source`` is what to read.

    Raises
    ------
    ValueError
        If the batch (or a folder in it) holds no image.
    """
    if isinstance(image, str | os.PathLike):
        if not Path(image).is_dir():
            return None
        entries = [image]
    elif isinstance(image, list | tuple) and image and all(
        isinstance(item, str | os.PathLike | np.ndarray) for item in image
    ):
        entries = list(image)
    elif isinstance(image, list | tuple) and not image:
        raise ValueError("got an empty list of images; pass at least one image.")
    else:
        return None
    batch: list[tuple[object, str, object]] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, np.ndarray):
            batch.append((i, f"image {i} of the list", entry))
        elif Path(entry).is_dir():
            files, _ = list_images([entry])
            if not files:
                raise ValueError(f"no image files in folder {entry}")
            batch.extend((str(f), str(f), f) for f in files)
        else:
            batch.append((str(entry), str(entry), entry))
    return batch
