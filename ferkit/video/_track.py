"""Face tracks across video frames: IoU matching of boxes, and per-track smoothing.

Matching is an assignment problem: the boxes of a frame against the tracks' last boxes,
maximising the summed intersection over union (scipy's ``linear_sum_assignment``), pairs
below ``min_iou`` refused. No motion model: at a few frames a second a face moves less than
its own width between analysed frames, so its box overlaps its last one.
"""

from __future__ import annotations

import collections
import math
from numbers import Integral, Real

import numpy as np

from ferkit.faces._boxes import iou_matrix


def check_smooth(smooth):
    """``smooth`` as given, or a ValueError naming it: None, a float alpha in (0, 1] (an
    exponential moving average) or an int window of at least 1 (a moving average)."""
    if smooth is None:
        return None
    if isinstance(smooth, bool):
        pass
    elif isinstance(smooth, Integral):
        if 1 <= smooth <= 10**6:
            return int(smooth)
    elif isinstance(smooth, Real) and math.isfinite(smooth) and 0 < smooth <= 1:
        return float(smooth)
    raise ValueError(f"smooth must be None, a float alpha in (0, 1] (exponential moving "
                     f"average) or an int window from 1 to 10**6 (moving average); got "
                     f"{smooth!r}.")


class _Smoother:
    """One track's smoothed probabilities: an exponential or a windowed moving average."""

    def __init__(self, smooth):
        self.smooth = smooth
        self.state = None
        self.window = collections.deque(maxlen=smooth) if isinstance(smooth, int) else None

    def update(self, proba: np.ndarray) -> np.ndarray:
        if self.window is not None:
            self.window.append(proba.copy())  # the caller overwrites its row
            return np.mean(self.window, axis=0)
        # The first frame starts the average, so it is not pulled towards zero.
        if self.state is None:
            self.state = proba.copy()
        else:
            self.state = self.smooth * proba + (1 - self.smooth) * self.state
        return self.state


class _Track:
    __slots__ = ("box", "id", "missed", "smoother")

    def __init__(self, track_id: int, box, smooth):
        self.id, self.box, self.missed = track_id, box, 0
        self.smoother = None if smooth is None else _Smoother(smooth)


class FaceTracker:
    """Give each face a track id that stays with it from frame to frame.

    Call :meth:`update` once per analysed frame with that frame's face boxes. Each box is
    matched to the track whose last box overlaps it most (the assignment that maximises the
    summed IoU over all pairs, pairs below ``min_iou`` refused); an unmatched box starts a
    new track, with the next id (0, 1, 2...; ids are never reused). A track that gets no box
    for more than ``max_missed`` analysed frames in a row has ended (the face left, or the
    detector lost it for too long): a face that comes back later gets a new id.

    Parameters
    ----------
    min_iou : float, default=0.3
        Smallest IoU between a box and a track's last box for them to be matched.
    max_missed : int, default=5
        Analysed frames a track may go without a box before it ends. With
        ``predict_video(every=N)`` that is ``max_missed * N`` video frames.
    smooth : None, float or int, default=None
        Temporal smoothing of each track's probabilities: None leaves them as they are; a
        float ``alpha`` in (0, 1] gives an exponential moving average (``s = alpha * p + (1 -
        alpha) * s_previous``, starting from the track's first probabilities); an int ``n``
        gives the mean of the track's last ``n`` probabilities. Both keep each row summing
        to 1.

    Attributes
    ----------
    n_tracks_ : int
        The number of tracks started so far.

    Notes
    -----
    When two faces cross, their boxes overlap for a few frames. As long as each box still
    overlaps its own track's last box more than the other's, the ids stay: two 40-pixel
    boxes crossing a quarter of a box apart vertically keep their ids at any speed up to 12
    pixels per analysed frame (``tests/test_video.py``). Crossing on the same line, they keep
    them at 2 pixels per frame but swap at 6 or more: while the boxes nearly coincide the
    assignment cannot tell them apart, and there is no appearance or motion model to do so.
    When one face hides the other, the hidden face's track misses frames (ending after
    ``max_missed``) and the face gets a new id when it reappears.

    Examples
    --------
    >>> from ferkit.video import FaceTracker
    >>> tracker = FaceTracker()
    >>> tracker.update([[10, 10, 20, 20], [60, 10, 20, 20]])[0].tolist()
    [0, 1]
    >>> tracker.update([[62, 11, 20, 20], [12, 10, 20, 20]])[0].tolist()  # moved, reordered
    [1, 0]
    >>> tracker.update([[100, 50, 20, 20]])[0].tolist()  # a new face
    [2]
    """

    def __init__(self, *, min_iou=0.3, max_missed=5, smooth=None):
        if isinstance(min_iou, bool) or not isinstance(min_iou, Real) or not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be a number in (0, 1]; got {min_iou!r}.")
        if isinstance(max_missed, bool) or not isinstance(max_missed, Integral) or not (
                0 <= max_missed <= 10**6):
            raise ValueError(f"max_missed must be an int from 0 to 10**6; got {max_missed!r}.")
        self.min_iou = float(min_iou)
        self.max_missed = int(max_missed)
        self.smooth = check_smooth(smooth)
        self._tracks: list[_Track] = []
        self.n_tracks_ = 0

    def _match(self, boxes: np.ndarray) -> dict[int, int]:
        """``{box row: index in self._tracks}`` for the matched pairs."""
        from scipy.optimize import linear_sum_assignment

        if not self._tracks or not len(boxes):
            return {}
        iou = iou_matrix(boxes, np.array([track.box for track in self._tracks]))
        rows, cols = linear_sum_assignment(iou, maximize=True)
        return {int(r): int(c) for r, c in zip(rows, cols, strict=True)
                if iou[r, c] >= self.min_iou}

    def update(self, boxes, probabilities=None):
        """Match one frame's boxes to the tracks.

        Parameters
        ----------
        boxes : array-like of shape (n_faces, 4)
            The frame's faces as ``x, y, width, height`` rows (extra columns are ignored).
        probabilities : array-like of shape (n_faces, n_classes) or None, default=None
            The faces' class probabilities, smoothed per track when ``smooth`` is set.

        Returns
        -------
        ids : ndarray of shape (n_faces,), int
            The track id of each box, in the order given.
        probabilities : ndarray of shape (n_faces, n_classes) or None
            Smoothed where ``smooth`` is set, else as given (None when not given).
        """
        boxes = np.asarray(boxes, dtype=float)
        boxes = boxes.reshape(0, 4) if boxes.size == 0 else boxes[:, :4]
        if probabilities is not None:
            probabilities = np.array(probabilities, dtype=float).reshape(len(boxes), -1)
        matched = self._match(boxes)
        tracks = []
        for row, box in enumerate(boxes):
            if row in matched:
                track = self._tracks[matched[row]]
                track.box, track.missed = box, 0
            else:
                track = _Track(self.n_tracks_, box, self.smooth)
                self.n_tracks_ += 1
            tracks.append(track)
        seen = {id(track) for track in tracks}
        for track in self._tracks:
            if id(track) not in seen:
                track.missed += 1
        self._tracks = tracks + [t for t in self._tracks
                                 if id(t) not in seen and t.missed <= self.max_missed]
        if probabilities is not None and self.smooth is not None:
            for row, track in enumerate(tracks):
                probabilities[row] = track.smoother.update(probabilities[row])
        return np.array([track.id for track in tracks], dtype=np.int64), probabilities
