"""Shared pieces of the dataset loaders: the Bunch they return and its description."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import Bunch

from ferkit._emotions import EMOTIONS, N_PIXELS


def make_bunch(images: np.ndarray, target, *, descr: str, usage=None, **extra) -> Bunch:
    """Assemble the dataset Bunch every ferkit loader returns.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_samples, 48, 48)
        The faces.
    target : ndarray of str, shape (n_samples,), or None
        Emotion names, or None for unlabelled data.
    descr : str
        Text for ``DESCR``.
    usage : ndarray of str or None, default=None
        FER2013 split of each face, where the source says.
    **extra : dict
        Further fields.

    Returns
    -------
    sklearn.utils.Bunch
        With ``data`` (n, 2304) uint8, ``images``, ``target``, ``target_names``, ``usage``
        and ``DESCR``.
    """
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if target is None:
        target_names = np.asarray([], dtype=object)
    else:
        target = np.asarray(target, dtype=object)
        present = set(target.tolist())
        target_names = np.asarray([e for e in EMOTIONS if e in present], dtype=object)
    return Bunch(
        data=images.reshape(len(images), N_PIXELS),
        images=images,
        target=target,
        target_names=target_names,
        usage=usage,
        DESCR=descr,
        **extra,
    )


#: The FER2013 splits, as the original CSV's ``Usage`` column names them.
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

_ON_ERROR = ("raise", "skip")

#: How many bad entries a skip warning lists before summarising the rest.
_SHOWN = 5


def check_usage(usage) -> tuple[str, ...] | None:
    """Validate a ``usage=`` selection; return canonical split names in :data:`USAGES` order.

    Names match case-insensitively (``"training"`` is ``"Training"``); None selects all.
    """
    if usage is None:
        return None
    if isinstance(usage, str):
        usage = [usage]
    try:
        selected = list(usage)
    except TypeError:
        raise TypeError(
            f"usage must be a split name, a list of them or None; got {type(usage).__name__}."
        ) from None
    by_lower = {u.lower(): u for u in USAGES}
    unknown = [u for u in selected if not isinstance(u, str) or u.lower() not in by_lower]
    if unknown:
        raise ValueError(f"usage contains unknown split(s) {unknown}; expected {list(USAGES)}.")
    if not selected:
        raise ValueError(f"usage is empty; name at least one of {list(USAGES)}.")
    chosen = {by_lower[u.lower()] for u in selected}
    return tuple(u for u in USAGES if u in chosen)


def check_on_error(on_error) -> str:
    """Validate ``on_error=``: ``"raise"`` or ``"skip"``."""
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    return on_error


class ProblemLog:
    """Bad entries found while reading one source: raised at once, or skipped with one warning.

    Readers record every bad row or member with :meth:`add` and go on, so that one error
    message can say how many entries are bad, and ``on_error="skip"`` can warn just once.

    Parameters
    ----------
    source : str
        The file or folder being read, as the user named it.
    unit : str
        What an entry is, singular ("row", "member", "file").
    note : str, default=""
        A sentence appended to messages, e.g. how rows are numbered.
    """

    def __init__(self, source: str, unit: str, *, note: str = ""):
        self.source = source
        self.unit = unit
        self.note = note
        self._entries: list[tuple] = []

    def add(self, order, where: str, what: str) -> None:
        """Record that the entry at ``where`` is bad because ``what``.

        ``order`` sorts entries as the user would list them (a row number, a member's
        position), so that the first one reported is the first one in the file.
        """
        self._entries.append((order, where, what))

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(self, on_error: str) -> None:
        """Raise a ValueError for the first bad entry, or warn once about all of them."""
        if not self._entries:
            return
        entries = sorted(self._entries, key=lambda e: e[0])
        n = len(entries)
        plural = self.unit if n == 1 else f"{self.unit}s"
        note = f" {self.note}" if self.note else ""
        if on_error == "raise":
            _, where, what = entries[0]
            more = ""
            if n > 1:
                more = (
                    f" {n - 1} more bad {self.unit} follows" if n == 2
                    else f" {n - 1} more bad {plural} follow"
                ) + f" (next: {entries[1][1]})."
            raise ValueError(
                f"'{self.source}', {where}: {what}.{more} Fix the data, or pass "
                f"on_error='skip' to leave bad {self.unit}s out.{note}"
            )
        shown = "; ".join(f"{where}: {what}" for _, where, what in entries[:_SHOWN])
        rest = f"; and {n - _SHOWN} more" if n > _SHOWN else ""
        warnings.warn(
            f"Skipped {n} bad {plural} in '{self.source}': {shown}{rest}.{note}",
            UserWarning,
            stacklevel=3,
        )
