"""FER2013 in its CSV forms: ``fer2013.csv``, ``icml_face_data.csv``, ``train.csv``, ``test.csv``.

Each row holds one face as 2,304 space-separated pixel values. A file is ~290 MB of text for
the full data set, so pixels are parsed in chunks of rows, each chunk joined into one string
and parsed as an array of bytes by NumPy; a per-row Python split is several times slower.
Rows that are not plain (a bad value, a tab, a leading zero) are set aside by the same array
operations and parsed one by one, so a bad row is reported by its number without slowing
down the good ones.
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

#: Rows per parsing chunk: ~8 MB of text, so its temporary arrays take about 100 MB.
_CHUNK_ROWS = 1024
_DIGIT_0, _SPACE = 48, 32


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
    # Without a pixels column (or an emotion column beside Usage) no known form fits.
    missing = sorted({"emotion", "pixels"} - present) if "usage" in present else ["pixels"]
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
        images=(images if ok.all() else images[ok]).reshape(-1, 48, 48),  # no copy if all ok
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
        Parsed pixels; rows that are not ``ok`` hold zeros.
    ok : ndarray of bool, shape (n,)
        Which rows parsed.
    """
    n = len(pixels)
    images = np.zeros((n, N_PIXELS), dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    for start in range(0, n, _CHUNK_ROWS):
        plain, values = _parse_chunk(pixels[start:start + _CHUNK_ROWS])
        where = start + np.flatnonzero(plain)
        images[where] = values
        ok[where] = True
    # The rest (bad rows, and odd but valid ones such as "007" or tabs) are rare: one by one.
    for i in np.flatnonzero(~ok):
        parsed = _parse_row(pixels[i])
        if isinstance(parsed, str):
            problems.add(int(rows[i]), f"row {rows[i]}", parsed)
        else:
            images[i] = parsed
            ok[i] = True
    return images, ok


def _parse_chunk(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse the plain rows of a chunk at once: 2304 runs of 1-3 digits separated by spaces.

    The chunk is joined into one string and worked on as an array of bytes: digit runs are
    found with two comparisons, their values computed from their 1-3 digits, and rows told
    apart by where each one begins: a handful of NumPy calls per chunk of 1,024 rows. It is
    as fast as ``np.fromstring`` on the joined text (which checks nothing) and several times
    faster than a split per row.

    Returns
    -------
    plain : ndarray of bool, shape (len(chunk),)
        Rows parsed here; the others are left to :func:`_parse_row`.
    values : ndarray of uint8, shape (plain.sum(), 2304)
        Their pixels.
    """
    lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
    # "replace" turns each non-ASCII character into one "?", so byte offsets equal string
    # offsets. The leading space means no digit run starts at 0; the trailing ones let the
    # code below look two bytes past the end of the last run.
    text = " " + " ".join(chunk) + "   "
    data = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)
    begins = np.ones(len(chunk), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=begins[1:])
    begins[1:] += 1
    value = data - np.uint8(_DIGIT_0)  # uint8 wrap-around sends non-digits above 9
    digit = value < 10
    # Digit runs begin and end where ``digit`` flips; text starts and ends with a space, so
    # flips alternate: start, end (one past the last digit), start, end...
    flips = np.flatnonzero(digit[1:] != digit[:-1]) + 1
    starts, ends = flips[0::2], flips[1::2]
    n_runs = np.diff(np.searchsorted(starts, begins), append=len(starts))
    plain = n_runs == N_PIXELS

    width = ends - starts
    d0 = value[starts].astype(np.uint16)
    d1 = value[starts + 1].astype(np.uint16)
    d2 = value[starts + 2].astype(np.uint16)
    runs = np.where(width == 1, d0, np.where(width == 2, d0 * 10 + d1, d0 * 100 + d1 * 10 + d2))

    # Rows with anything but digits and spaces, a run longer than 3 digits, or a value above
    # 255 are not plain.
    other = ~digit & (data != _SPACE)
    if other.any():
        plain[np.searchsorted(begins, np.flatnonzero(other), side="right") - 1] = False
    odd_runs = (width > 3) | (runs > 255)
    if odd_runs.any():
        plain[np.searchsorted(begins, starts[odd_runs], side="right") - 1] = False
    if not plain.all():
        runs = runs[np.repeat(plain, n_runs)]
    return plain, runs.astype(np.uint8).reshape(-1, N_PIXELS)


def _parse_row(text: str) -> np.ndarray | str:
    """One pixel string as 2304 uint8 values, or why it is bad, in words."""
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
    numbers = [int(value) for value in values]
    for position, number in enumerate(numbers, start=1):
        if number > 255:
            return f"pixel value {number} (value {position}) is above 255; {_PIXELS_EXPECTED}"
    return np.asarray(numbers, dtype=np.uint8)
