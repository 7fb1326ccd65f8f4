"""The FER2013 emotion vocabulary: one place for names, codes and their order."""

from __future__ import annotations

#: Emotion names in FER2013 code order: ``EMOTIONS[code]`` is the name of ``code``.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: The original work's three-emotion task.
THREE_EMOTIONS: tuple[str, ...] = ("angry", "happy", "sad")

CODE_TO_EMOTION: dict[int, str] = dict(enumerate(EMOTIONS))
EMOTION_TO_CODE: dict[str, int] = {name: code for code, name in CODE_TO_EMOTION.items()}

#: FER2013 faces are 48x48 grayscale.
IMAGE_SHAPE: tuple[int, int] = (48, 48)
N_PIXELS: int = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]


def check_emotions(emotions, *, name: str = "emotions") -> tuple[str, ...]:
    """Validate a selection of emotion names and return it in FER2013 code order.

    Parameters
    ----------
    emotions : iterable of str
        Emotion names, each one of :data:`EMOTIONS`.
    name : str, default="emotions"
        Name of the argument, for error messages.

    Returns
    -------
    tuple of str
        The selected names, without duplicates, in FER2013 code order.
    """
    if isinstance(emotions, str):
        emotions = [e.strip() for e in emotions.split(",") if e.strip()]
    selected = list(emotions)
    unknown = [e for e in selected if e not in EMOTION_TO_CODE]
    if unknown:
        raise ValueError(
            f"{name} contains unknown emotion(s) {unknown}; expected names from {list(EMOTIONS)}."
        )
    if not selected:
        raise ValueError(f"{name} is empty; name at least one of {list(EMOTIONS)}.")
    return tuple(e for e in EMOTIONS if e in selected)
