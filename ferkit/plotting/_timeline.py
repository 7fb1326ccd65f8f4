"""Emotions over time in a video: one panel per tracked face, a line per class."""

from __future__ import annotations

import numpy as np

from ferkit.plotting._base import pyplot_axes

#: Columns a video table must have (``ferkit.predict_video``'s); the probability columns
#: follow ``emotion``, as in :func:`ferkit.predict_image`'s tables.
TIMELINE_COLUMNS = ("frame", "time", "face", "emotion")


def _probability_columns(table, classes) -> list:
    """The class columns: those given, else every column after ``emotion``."""
    columns = list(table.columns)
    if classes is None:
        classes = columns[columns.index("emotion") + 1:]
        if not classes:
            raise ValueError("The table has no probability columns after 'emotion'; pass "
                             "classes= to name them.")
    missing = [c for c in classes if c not in columns]
    if missing:
        raise ValueError(f"The table has no columns {missing}; it has {columns}.")
    return list(classes)


def _check_table(table):
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (as ferkit.predict_video returns); "
                        f"got {type(table).__name__}.")
    missing = [c for c in TIMELINE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"The table lacks columns {missing}: it must have {TIMELINE_COLUMNS} "
                         "and one probability column per class, as ferkit.predict_video's.")


class EmotionTimelineDisplay:
    """Emotion probabilities over a video's time, one panel per tracked face.

    Each panel draws, for one face (track id), one line per class: its probability at each
    analysed frame where that face was found. Panels are stacked and share the time axis; a
    face absent for a while shows as a gap in its lines. Create it with
    :meth:`from_predictions`; all attributes are set by :meth:`plot`.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per face per analysed frame, as :func:`ferkit.predict_video` returns: columns
        ``frame``, ``time``, ``face``, ``x``, ``y``, ``width``, ``height``, ``score``,
        ``emotion`` and one probability column per class after ``emotion``.
    classes : list of str or None, default=None
        The probability columns to draw; None takes every column after ``emotion``.
    faces : list of int or None, default=None
        The track ids to draw, one panel each; None draws every face in the table, in id
        order.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One Axes per face, top to bottom.
    lines_ : dict
        ``{(face, class): Line2D}``.
    figure_ : matplotlib Figure
        The figure holding the panels.

    Examples
    --------
    >>> import pandas as pd
    >>> from ferkit.plotting import EmotionTimelineDisplay
    >>> table = pd.DataFrame({
    ...     "frame": [0, 0, 3, 3], "time": [0.0, 0.0, 0.12, 0.12], "face": [0, 1, 0, 1],
    ...     "x": [0, 50, 2, 52], "y": 0, "width": 40, "height": 40, "score": 0.99,
    ...     "emotion": ["happy", "sad", "happy", "sad"],
    ...     "happy": [0.8, 0.3, 0.7, 0.2], "sad": [0.2, 0.7, 0.3, 0.8]})
    >>> display = EmotionTimelineDisplay.from_predictions(table)
    >>> [ax.get_title() for ax in display.axes_]
    ['face 0', 'face 1']
    >>> sorted(display.lines_)
    [(0, 'happy'), (0, 'sad'), (1, 'happy'), (1, 'sad')]
    """

    def __init__(self, table, *, classes=None, faces=None):
        self.table = table
        self.classes = classes
        self.faces = faces

    def _faces(self) -> list:
        present = sorted(self.table["face"].unique().tolist())
        if self.faces is None:
            return present
        faces = list(self.faces)
        absent = [f for f in faces if f not in present]
        if absent:
            raise ValueError(f"faces {absent} are not in the table; it has faces {present}.")
        return faces

    def plot(self, ax=None):
        """Draw the timelines.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per face. None makes a new figure with the panels stacked.

        Returns
        -------
        self : EmotionTimelineDisplay
        """
        _check_table(self.table)
        classes = _probability_columns(self.table, self.classes)
        faces = self._faces()
        if not faces:
            raise ValueError("The table has no faces to draw (no face was found in the video).")
        grid = (len(faces), 1)
        figsize = (8, 1.0 + 2.2 * len(faces))
        axes = np.ravel(np.asarray(pyplot_axes(ax, figsize=figsize, grid=grid), dtype=object))
        if axes.size != len(faces):
            raise ValueError(f"ax must hold one Axes per face ({len(faces)}); got {axes.size}.")
        # The time of every analysed frame, so that a face's absence breaks its lines.
        times = self.table.groupby("frame")["time"].first().sort_index()
        self.lines_ = {}
        for face, axis in zip(faces, axes, strict=True):
            rows = self.table[self.table["face"] == face].drop_duplicates("frame")
            rows = rows.set_index("frame").reindex(times.index)
            for name in classes:
                (line,) = axis.plot(times.to_numpy(), rows[name].to_numpy(dtype=float),
                                    label=str(name))
                self.lines_[(face, name)] = line
            axis.set_title(f"face {face}")
            axis.set_ylim(-0.02, 1.02)
            axis.set_ylabel("probability")
            axis.grid(alpha=0.3)
        axes[-1].set_xlabel("time (s)")
        axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        self.axes_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    def from_predictions(cls, table, *, classes=None, faces=None, ax=None):
        """Plot the emotion timelines of a video's table.

        Parameters
        ----------
        table : pandas.DataFrame
            One row per face per analysed frame, as :func:`ferkit.predict_video` returns.
        classes : list of str or None, default=None
            Probability columns to draw; None takes every column after ``emotion``.
        faces : list of int or None, default=None
            Track ids to draw, one panel each; None draws them all.
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per face; None makes a new figure.

        Returns
        -------
        EmotionTimelineDisplay
        """
        return cls(table, classes=classes, faces=faces).plot(ax=ax)
