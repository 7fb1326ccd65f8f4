"""FER2013 in its CSV forms: ``fer2013.csv``, ``icml_face_data.csv``, ``train.csv``, ``test.csv``.

Each row holds one face as 2,304 space-separated pixel values. A file is ~290 MB of text for
the full data set, so pixels are parsed in chunks of rows, each chunk joined into one string
and converted by NumPy in one call; a per-row Python split would be several times slower.
Rows are checked with array operations on the chunk's bytes first, so that a bad row is
reported by its number without slowing down the good ones.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from ferkit._emotions import EMOTIONS, N_PIXELS
from ferkit.datasets._base import USAGES, ProblemLog

#: The columns FER2013's CSV files use, by their stripped, lower-case header names.
COLUMNS = ("emotion", "pixels", "usage")

#: Column sets of the known CSV forms -> the form's name, for DESCR and messages.
FORMS = {
    frozenset(COLUMNS): "fer2013.csv / icml_face_data.csv (emotion, pixels, Usage)",
    frozenset({"emotion", "pixels"}): "competition train.csv (emotion, pixels)",
    frozenset({"pixels"}): "competition test.csv (pixels only, unlabelled)",
}

EXPECTED_HEADERS = (
    "fer2013.csv (emotion,pixels,Usage), icml_face_data.csv (emotion, Usage, pixels), "
    "train.csv (emotion,pixels) or test.csv (pixels)"
)

#: Rows are numbered as a spreadsheet shows them.
ROW_NOTE = "(Rows are numbered as in a spreadsheet: the header is row 1, the first face row 2.)"

_PIXELS_EXPECTED = f"expected {N_PIXELS} (48x48) integers 0-255 separated by spaces"
_CODES = {str(code): code for code in range(len(EMOTIONS))}
_CODES_EXPECTED = "expected a code 0-6 (" + ", ".join(
    f"{code} {name}" for code, name in enumerate(EMOTIONS)
) + ")"
_USAGE_BY_LOWER = {u.lower(): u for u in USAGES}

#: Rows per parsing chunk: ~17 MB of text, so the temporary arrays stay small.
_CHUNK_ROWS = 2048
_DIGIT_0, _SPACE, _TAB, _LF, _CR = 48, 32, 9, 10, 13


def header_columns(first_line: str) -> list[str]:
    """The stripped, lower-case names of a CSV header line's fields."""
    return [field.strip().strip('"').strip().lower() for field in first_line.split(",")]


def check_header(source: str, first_line: str) -> frozenset:
    """The FER2013 columns a header names; ValueError naming the file if it is not one."""
    names = header_columns(first_line)
    present = frozenset(n for n in names if n in COLUMNS)
    if present in FORMS:
        return present
    shown = first_line.strip()
    if len(shown) > 60:
        shown = shown[:60] + "..."
    if names and names[0].isdigit():
        raise ValueError(
            f"'{source}' has no header line (its first line starts {shown!r}); expected a "
            f"header naming its columns, as in {EXPECTED_HEADERS}."
        )
    missing = sorted(set(COLUMNS) - present) if "emotion" in present or "usage" in present \
        else ["pixels"]
    raise ValueError(
        f"'{source}' is missing the column(s) {missing} (its header is {shown!r}); expected "
        f"the columns of {EXPECTED_HEADERS}."
    )


def read_csv_faces(path, columns: frozenset, *, codes_wanted, usage_wanted, problems: ProblemLog,
                   on_error: str) -> dict:
    """Read a FER2013 CSV: faces that pass the filters, their codes, usage and row numbers.

    Parameters
    ----------
    path : path-like
        The CSV file.
    columns : frozenset
        The FER2013 columns its header names (from :func:`check_header`).
    codes_wanted : set of int or None
        Emotion codes to keep; None keeps all.
    usage_wanted : tuple of str or None
        Splits to keep; None keeps all.
    problems : ProblemLog
        Where bad rows are recorded.
    on_error : {"raise", "skip"}
        Only decides how lines with too many fields are read (pandas needs to know).

    Returns
    -------
    dict
        ``images`` (n, 48, 48) uint8, ``codes`` int array or None, ``usage`` object array or
        None, ``row`` int array (spreadsheet row numbers).
    """
    source = problems.source
    frame, rows, skipped = _read_table(path, source, on_error)
    for row in skipped:
        problems.add(row, f"row {row}", "has more fields than the header")
    if len(frame) == 0:
        raise ValueError(
            f"'{source}' has a header but no rows; expected one face per row after the header."
        )
    keep = ~(frame == "").all(axis=1).to_numpy()  # blank lines are not faces

    codes = None
    if "emotion" in columns:
        text = frame["emotion"].str.strip()
        mapped = text.map(_CODES)
        bad = keep & mapped.isna().to_numpy()
        for i in np.flatnonzero(bad):
            value = text.iat[i]
            what = ("emotion is empty" if value == "" else f"emotion code {value!r} is unknown")
            problems.add(int(rows[i]), f"row {rows[i]}", f"{what}; {_CODES_EXPECTED}")
        keep &= ~bad
        codes = mapped.fillna(-1).to_numpy(dtype=np.int64)
        if codes_wanted is not None:
            keep &= np.isin(codes, list(codes_wanted))

    usage = None
    if "usage" in columns:
        text = frame["usage"].str.strip()
        mapped = text.str.lower().map(_USAGE_BY_LOWER)
        bad = keep & mapped.isna().to_numpy()
        for i in np.flatnonzero(bad):
            value = text.iat[i]
            what = "Usage is empty" if value == "" else f"Usage {value!r} is unknown"
            problems.add(int(rows[i]), f"row {rows[i]}", f"{what}; expected one of {list(USAGES)}")
        keep &= ~bad
        usage = mapped.fillna("").to_numpy(dtype=object)
        if usage_wanted is not None:
            keep &= np.isin(usage, list(usage_wanted))

    index = np.flatnonzero(keep)
    pixels = frame["pixels"].to_numpy(dtype=object)[index]
    images, ok = parse_pixels(pixels, rows[index], problems)
    index = index[ok]
    return dict(
        images=images[ok].reshape(-1, 48, 48),
        codes=None if codes is None else codes[index],
        usage=None if usage is None else usage[index],
        row=rows[index],
    )


def _read_table(path, source: str, on_error: str):
    """The FER2013 columns as strings, each row's spreadsheet row number, and skipped rows.

    With ``on_error="skip"`` pandas drops rows with more fields than the header and warns;
    their numbers are taken from its warnings, to number the remaining rows right.
    """
    import pandas as pd  # not at module level: ``import ferkit.datasets`` stays light

    # Every column is read (not just FER2013's), so that a row with more fields than the
    # header is an error rather than silently cut; compression=None because the form is
    # told by the content, not by a ".zip" or ".gz" in the name.
    options = dict(
        dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False,
        encoding="utf-8", encoding_errors="replace", compression=None,
    )
    skipped_lines: list[int] = []
    try:
        if on_error == "skip":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(path, on_bad_lines="warn", **options)
            for warning in caught:
                if issubclass(warning.category, pd.errors.ParserWarning):
                    skipped_lines += [int(n) for n in re.findall(r"line (\d+)",
                                                                 str(warning.message))]
                else:
                    warnings.warn_explicit(warning.message, warning.category,
                                           warning.filename, warning.lineno)
        else:
            frame = pd.read_csv(path, **options)
    except pd.errors.ParserError as exc:
        # pandas counts the header as line 1 too, so its line numbers are our row numbers.
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise ValueError(
            f"'{source}' is not a well-formed CSV file: {detail}. Expected 1 field per column "
            f"of the header on every row (pass on_error='skip' to leave such rows out). "
            f"{ROW_NOTE}"
        ) from None
    except (pd.errors.EmptyDataError, UnicodeError) as exc:
        raise ValueError(f"'{source}' cannot be read as a CSV file: {exc}.") from None
    frame.columns = [str(c).strip().strip('"').strip().lower() for c in frame.columns]
    rows = np.arange(len(frame), dtype=np.int64) + 2
    for line in sorted(skipped_lines):
        rows[rows >= line] += 1
    return frame.fillna(""), rows, sorted(skipped_lines)


def parse_pixels(pixels: np.ndarray, rows: np.ndarray, problems: ProblemLog):
    """Parse pixel strings into a (n, 2304) uint8 array; bad rows are recorded, not raised.

    Parameters
    ----------
    pixels : ndarray of str, shape (n,)
        One space-separated pixel string per face.
    rows : ndarray of int, shape (n,)
        Their spreadsheet row numbers, for messages.
    problems : ProblemLog
        Where bad rows are recorded.

    Returns
    -------
    images : ndarray of uint8, shape (n, 2304)
        Parsed pixels; rows that are not ``ok`` hold garbage.
    ok : ndarray of bool, shape (n,)
        Which rows parsed.
    """
    n = len(pixels)
    images = np.zeros((n, N_PIXELS), dtype=np.uint8)
    ok = np.ones(n, dtype=bool)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        chunk = pixels[start:stop]
        good = _check_chunk(chunk)
        text = "\n".join(chunk if good.all() else chunk[good])
        try:
            values = np.fromstring(text, dtype=np.int64, sep=" ") if text else np.empty(0)
        except ValueError:  # an absurdly long digit run overflowing int64
            values = None
        if values is None or values.size != good.sum() * N_PIXELS:
            good[:] = False  # cannot happen after _check_chunk; diagnose row by row below
            values = np.empty((0, N_PIXELS), dtype=np.int64)
        values = values.reshape(-1, N_PIXELS)
        in_range = values.max(axis=1, initial=0) <= 255
        where = start + np.flatnonzero(good)
        images[where[in_range]] = values[in_range]
        ok[start:stop] = False
        ok[where[in_range]] = True
    for i in np.flatnonzero(~ok):
        problems.add(int(rows[i]), f"row {rows[i]}", _describe_bad_pixels(pixels[i]))
    return images, ok


def _check_chunk(chunk: np.ndarray) -> np.ndarray:
    """Which pixel strings hold exactly 2304 runs of digits and nothing but whitespace else.

    Works on the joined chunk's bytes, so a chunk of 2,048 rows costs a handful of NumPy
    calls rather than 2,048 Python splits.
    """
    lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
    # "replace" turns each non-ASCII character into one "?", so byte offsets equal string
    # offsets and the "?" is caught below as a non-digit.
    data = np.frombuffer(("\n".join(chunk) + "\n").encode("ascii", "replace"), dtype=np.uint8)
    begins = np.zeros(len(chunk), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=begins[1:])
    digit = (data - np.uint8(_DIGIT_0)) < 10  # uint8 wrap-around sends other bytes above 9
    space = (data == _SPACE) | (data == _TAB) | (data == _LF) | (data == _CR)
    n_other = np.add.reduceat(~(digit | space), begins, dtype=np.int64)
    run_start = digit.copy()
    run_start[1:] &= ~digit[:-1]
    n_values = np.add.reduceat(run_start, begins, dtype=np.int64)
    return (n_other == 0) & (n_values == N_PIXELS)


def _describe_bad_pixels(text: str) -> str:
    """Why one pixel string is bad, in words (only ever run on bad rows)."""
    values = text.split()
    if not values:
        return f"pixels is empty; {_PIXELS_EXPECTED}"
    for position, value in enumerate(values, start=1):
        if not (value.isascii() and value.isdigit()):
            shown = value if len(value) <= 20 else value[:20] + "..."
            return (
                f"pixel value {shown!r} (value {position} of {len(values)}) is not a "
                f"whole number; {_PIXELS_EXPECTED}"
            )
    if len(values) != N_PIXELS:
        return f"pixels has {len(values)} values; {_PIXELS_EXPECTED}"
    for position, value in enumerate(values, start=1):
        if int(value) > 255:
            return f"pixel value {value} (value {position}) is above 255; {_PIXELS_EXPECTED}"
    return f"pixels cannot be parsed; {_PIXELS_EXPECTED}"  # pragma: no cover - defensive
