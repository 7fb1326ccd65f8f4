"""Typed JSON values: parameters and fitted state as JSON, arrays beside them in an ``.npz``.

JSON alone loses distinctions that scikit-learn cares about (``(4, 8)`` and ``[4, 8]`` are
different parameter values for ``get_params`` equality; ``np.float64`` is not ``float``), so
the few non-JSON types are written as one-key tagged objects::

    {"__tuple__": [4, 8]}                              tuple
    {"__float__": "nan"}                               non-finite float (JSON has none)
    {"__npscalar__": ["<i8", 700]}                     NumPy scalar: dtype and value
    {"__dict__": [[0, 2.0], [1, 1.0]]}                 dict whose keys are not all strings
    {"__ndarray__": "a3"}                              array "a3" of arrays.npz
    {"__ndarray__": "a4", "object": true}              object array of strings, stored as str
    {"__dtype__": "<f4"}                               NumPy dtype

Nothing else is accepted, in either direction: a value that is not plain data (a function, a
Keras callback, a random generator...) cannot be written, and decoding only ever builds
``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples, dicts and NumPy numbers,
strings and arrays. No ``eval``, no pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Array dtype kinds that ``np.save(allow_pickle=False)`` stores as plain bytes.
_ARRAY_KINDS = "biufcUS"

#: Deepest nesting of lists and objects a model folder's JSON may have. ferkit's own files
#: stay under 10; a crafted file nested thousands deep would end in Python's RecursionError.
MAX_JSON_DEPTH = 64
#: Longest integer (in digits) a model folder's JSON may hold. ferkit writes at most 20 (a
#: 64-bit value); Python refuses to parse integers of more than 4300 digits with an error
#: that names no file, and smaller absurd ones only fail later.
MAX_JSON_DIGITS = 40


class _AbsurdNumberError(ValueError):
    pass


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_DIGITS:
        raise _AbsurdNumberError(
            f"it holds an integer of {digits} digits ({text[:20]}...); model files hold "
            f"integers of at most {MAX_JSON_DIGITS} digits"
        )
    return int(text)


def read_json(path, *, hint: str = ""):
    """Parse one JSON file of a model folder, refusing what only a crafted file holds.

    Parameters
    ----------
    path : path-like
        The file, named in every error message.
    hint : str, default=""
        A sentence added to the message when the file is not valid JSON.

    Returns
    -------
    object
        The parsed data.

    Raises
    ------
    ValueError
        If the file is not UTF-8 JSON, holds an integer of more than ``MAX_JSON_DIGITS``
        digits, or nests lists and objects more than ``MAX_JSON_DEPTH`` deep.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_int=_parse_int)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 JSON text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            f"{'; ' + hint if hint else '.'}"
        ) from exc
    except _AbsurdNumberError as exc:
        raise ValueError(f"{path} is not a ferkit model file: {exc}.") from exc
    except RecursionError as exc:
        raise _too_deep(path) from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise _too_deep(path)
    return data


def _too_deep(path: Path) -> ValueError:
    return ValueError(
        f"{path} nests lists and objects more than {MAX_JSON_DEPTH} levels deep; ferkit "
        "model files never do. Refusing to load it."
    )


def _depth(data) -> int:
    """Nesting depth of parsed JSON, measured without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((item, depth + 1) for item in node)
    return deepest


def _looks_like_tag(key) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def encode(value, *, where: str, arrays: dict[str, np.ndarray]):
    """Return ``value`` as JSON-ready data, putting arrays into ``arrays``.

    Parameters
    ----------
    value : object
        A parameter value or fitted attribute.
    where : str
        What ``value`` is, for error messages (``"step 'scale' attribute 'mean_'"``).
    arrays : dict of str to ndarray
        Arrays to be written to ``arrays.npz``; new ones are added under fresh keys.

    Returns
    -------
    object
        Data that :func:`json.dumps` writes (with ``allow_nan=False``).

    Raises
    ------
    TypeError
        If ``value`` (or something inside it) is not plain data.
    """
    for types, encoder in _ENCODERS:
        if isinstance(value, types):
            return encoder(value, where=where, arrays=arrays)
    raise _not_plain(value, where)


def _encode_npscalar(value: np.generic, *, where: str, arrays: dict[str, np.ndarray]):
    if not isinstance(value, np.bool_ | np.integer | np.floating | np.str_):
        raise _not_plain(value, where)
    return {"__npscalar__": [value.dtype.str, encode(value.item(), where=where, arrays=arrays)]}


def _encode_itself(value, *, where: str, arrays: dict[str, np.ndarray]):
    return value


def _encode_int(value: int, *, where: str, arrays: dict[str, np.ndarray]):
    return int(value)  # an int subclass (IntEnum...) is written as the number


def _encode_float(value: float, *, where: str, arrays: dict[str, np.ndarray]):
    return float(value) if math.isfinite(value) else {"__float__": repr(float(value))}


def _encode_array(value: np.ndarray, *, where: str, arrays: dict[str, np.ndarray]):
    key = f"a{len(arrays)}"
    if value.dtype.kind in _ARRAY_KINDS:
        arrays[key] = np.ascontiguousarray(value)
        return {"__ndarray__": key}
    if value.dtype.kind == "O" and all(isinstance(v, str) for v in value.ravel().tolist()):
        # Feature names: scikit-learn keeps them as object arrays, which np.save would pickle.
        arrays[key] = value.astype(str)
        return {"__ndarray__": key, "object": True}
    raise TypeError(
        f"{where} is an array of dtype {value.dtype}, which a ferkit model file cannot store "
        "without pickle; only numbers, booleans and strings are supported."
    )


def _encode_dtype(value: np.dtype, *, where: str, arrays: dict[str, np.ndarray]):
    if value.kind not in _ARRAY_KINDS + "O":
        raise _not_plain(value, where)
    return {"__dtype__": value.str}


def _encode_tuple(value: tuple, *, where: str, arrays: dict[str, np.ndarray]):
    return {"__tuple__": [encode(v, where=where, arrays=arrays) for v in value]}


def _encode_list(value: list, *, where: str, arrays: dict[str, np.ndarray]):
    return [encode(v, where=where, arrays=arrays) for v in value]


def _encode_dict(value: dict, *, where: str, arrays: dict[str, np.ndarray]):
    if all(isinstance(k, str) and not _looks_like_tag(k) for k in value):
        return {k: encode(v, where=f"{where}[{k!r}]", arrays=arrays) for k, v in value.items()}
    # Keys JSON cannot hold as they are (numbers, tuples, tag-like strings): key-value pairs.
    return {"__dict__": [[encode(k, where=where, arrays=arrays),
                          encode(v, where=f"{where}[{k!r}]", arrays=arrays)]
                         for k, v in value.items()]}


#: How each plain type is written, tried in order. NumPy scalars come first: np.float64 and
#: np.str_ subclass float and str, and must keep their type; bool before int, which it subclasses.
_ENCODERS = (
    (np.generic, _encode_npscalar),
    (type(None) | bool | str, _encode_itself),
    (int, _encode_int),
    (float, _encode_float),
    (np.ndarray, _encode_array),
    (np.dtype, _encode_dtype),
    (tuple, _encode_tuple),
    (list, _encode_list),
    (dict, _encode_dict),
)


def _not_plain(value, where: str) -> TypeError:
    hint = ""
    if callable(value):
        hint = " It is Python code, and a ferkit model file holds data only, never code."
    return TypeError(
        f"{where} holds a {type(value).__module__}.{type(value).__qualname__} object "
        f"({short_repr(value)}), which ferkit.save cannot store: model files hold only "
        f"plain values (None, bool, numbers, strings, lists, tuples, dicts, NumPy arrays).{hint}"
    )


def short_repr(value, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode(data, *, where: str, arrays: Mapping[str, np.ndarray], file):
    """Rebuild a value written by :func:`encode`.

    Parameters
    ----------
    data : object
        Parsed JSON.
    where : str
        Where ``data`` sits in the file, for error messages.
    arrays : mapping of str to ndarray
        The arrays read from ``arrays.npz`` (empty when the model has none).
    file : path-like
        The file being read, named in error messages.

    Returns
    -------
    object
        The value.

    Raises
    ------
    ValueError
        If ``data`` uses an unknown tag, a malformed tag or a missing array.
    """
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(v, where=where, arrays=arrays, file=file) for v in data]
    if not isinstance(data, dict):  # pragma: no cover - json.loads makes nothing else
        raise _malformed(file, where, f"unexpected {type(data).__name__}")
    tag = _tag_of(data, where=where, file=file)
    if tag is None:
        return {k: decode(v, where=f"{where}.{k}", arrays=arrays, file=file)
                for k, v in data.items()}
    payload = data[tag]
    try:
        return _DECODERS[tag](payload, data, where=where, arrays=arrays, file=file)
    except _MalformedError:
        raise
    except (TypeError, ValueError) as exc:
        raise _malformed(file, where, f"malformed {tag!r} value {short_repr(payload)}") from exc


def _tag_of(data: dict, *, where: str, file) -> str | None:
    """The tag of a tagged value, or None for a plain object; unknown tags and extra keys are
    refused."""
    tags = [k for k in data if _looks_like_tag(k)]
    if not tags:
        return None
    tag = tags[0]
    if tag not in _DECODERS:
        raise _malformed(file, where, f"unknown tag {tag!r}")
    allowed = {tag, "object"} if tag == "__ndarray__" else {tag}
    if set(data) - allowed:
        raise _malformed(file, where, f"tag {tag!r} with extra keys {sorted(set(data) - allowed)}")
    return tag


# Each decoder gets the tag's payload and the whole tagged object, and raises TypeError or
# ValueError on a payload of the wrong form: decode reports that as malformed, naming the file.

def _decode_tuple(payload, tagged: dict, *, where: str, arrays, file):
    _expect(isinstance(payload, list))
    return tuple(decode(v, where=where, arrays=arrays, file=file) for v in payload)


def _decode_float(payload, tagged: dict, *, where: str, arrays, file):
    _expect(payload in ("nan", "inf", "-inf"))
    return float(payload)


def _decode_npscalar(payload, tagged: dict, *, where: str, arrays, file):
    _expect(isinstance(payload, list) and len(payload) == 2)
    dtype = _plain_dtype(payload[0])
    value = decode(payload[1], where=where, arrays=arrays, file=file)
    _expect(dtype.kind in "biufU" and isinstance(value, bool | int | float | str))
    return dtype.type(value)


def _decode_dtype(payload, tagged: dict, *, where: str, arrays, file):
    return _plain_dtype(payload)


def _decode_dict(payload, tagged: dict, *, where: str, arrays, file):
    _expect(isinstance(payload, list) and all(isinstance(p, list) and len(p) == 2
                                              for p in payload))
    # An unhashable key (a list) raises TypeError: reported as malformed.
    return {decode(k, where=where, arrays=arrays, file=file):
            decode(v, where=where, arrays=arrays, file=file) for k, v in payload}


def _decode_ndarray(payload, tagged: dict, *, where: str, arrays, file):
    _expect(isinstance(payload, str) and tagged.get("object", False) in (True, False))
    if payload not in arrays:
        raise _malformed(file, where, f"array {payload!r} is missing from arrays.npz")
    array = arrays[payload]
    if array.dtype.kind not in _ARRAY_KINDS:  # pragma: no cover - allow_pickle=False stops it
        raise _malformed(file, where, f"array {payload!r} has dtype {array.dtype}")
    return array.astype(object) if tagged.get("object") else array


#: The tags decode accepts, and how each is rebuilt; nothing else is.
_DECODERS = {
    "__tuple__": _decode_tuple,
    "__float__": _decode_float,
    "__npscalar__": _decode_npscalar,
    "__dict__": _decode_dict,
    "__ndarray__": _decode_ndarray,
    "__dtype__": _decode_dtype,
}


class _MalformedError(ValueError):
    pass


def _expect(condition: bool) -> None:
    if not condition:
        raise TypeError("unexpected value")


def _plain_dtype(name) -> np.dtype:
    _expect(isinstance(name, str))
    dtype = np.dtype(name)
    _expect(dtype.kind in _ARRAY_KINDS + "O")
    return dtype


def _malformed(file, where: str, what: str) -> _MalformedError:
    return _MalformedError(f"{file} is malformed at {where}: {what}.")
