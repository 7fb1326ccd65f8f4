"""Learning curves: per-epoch accuracy and loss, training against validation."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ferkit.plotting._base import final_estimator, pyplot_axes

_TITLES = {"accuracy": "Accuracy", "loss": "Loss"}


class TrainingHistoryDisplay:
    """Learning curves of a trained network, one panel per metric.

    Each panel draws the metric on the training data and, where the history has it, on the
    validation data (``val_<metric>``) against the epoch. Create it with
    :meth:`from_estimator` or :meth:`from_history`; all attributes are set by :meth:`plot`.

    Parameters
    ----------
    history : dict of str to list of float
        Per-epoch values, as a :class:`~ferkit.FacialExpressionClassifier` keeps in
        ``history_``: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``...
    metrics : tuple of str, default=("accuracy", "loss")
        The metrics to draw, one panel each, side by side.
    name : str, default=None
        Name shown in the titles.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One Axes per metric.
    lines_ : dict
        ``{(metric, "train" | "validation"): Line2D}``.
    figure_ : matplotlib Figure
        The figure holding the panels.

    See Also
    --------
    plot_learning_curves : Draw the learning curves of a fitted classifier.

    Examples
    --------
    >>> from ferkit.plotting import TrainingHistoryDisplay
    >>> history = {"loss": [1.2, 0.9, 0.7], "val_loss": [1.3, 1.1, 1.0],
    ...            "accuracy": [0.4, 0.6, 0.7], "val_accuracy": [0.35, 0.5, 0.55]}
    >>> display = TrainingHistoryDisplay.from_history(history)
    >>> [ax.get_title() for ax in display.axes_]
    ['Accuracy', 'Loss']
    """

    def __init__(self, history, *, metrics=("accuracy", "loss"), name=None):
        self.history = history
        self.metrics = metrics
        self.name = name

    def plot(self, ax=None):
        """Draw the learning curves.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per metric. None makes a new figure with the panels side by side.

        Returns
        -------
        self : TrainingHistoryDisplay
        """
        metrics = _check_metrics(self.history, self.metrics)
        grid, figsize = history_layout(metrics)
        axes = np.ravel(np.asarray(pyplot_axes(ax, figsize=figsize, grid=grid), dtype=object))
        if axes.size != len(metrics):
            raise ValueError(
                f"ax must hold one Axes per metric ({len(metrics)}: {list(metrics)}); got "
                f"{axes.size}."
            )
        self.lines_ = {}
        for metric, axis in zip(metrics, axes, strict=True):
            for key, split in ((metric, "train"), (f"val_{metric}", "validation")):
                values = self.history.get(key)
                if values is None or len(values) == 0:
                    continue
                epochs = np.arange(1, len(values) + 1)
                (line,) = axis.plot(epochs, values, marker="o", markersize=3, label=split)
                self.lines_[(metric, split)] = line
            title = _TITLES.get(metric, metric.replace("_", " ").capitalize())
            axis.set_title(title if self.name is None else f"{title}: {self.name}")
            axis.set_xlabel("epoch")
            axis.set_ylabel(metric)
            axis.legend()
            axis.grid(alpha=0.3)
        self.axes_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    def from_history(cls, history, *, metrics=("accuracy", "loss"), ax=None, name=None):
        """Plot learning curves from a history dict.

        Parameters
        ----------
        history : dict of str to list of float
            Per-epoch values (``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``...).
        metrics : tuple of str, default=("accuracy", "loss")
            Metrics to draw, one panel each.
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per metric; None makes a new figure.
        name : str, default=None
            Name shown in the titles.

        Returns
        -------
        TrainingHistoryDisplay
        """
        return cls(history, metrics=metrics, name=name).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, metrics=("accuracy", "loss"), ax=None, name=None):
        """Plot the learning curves of a fitted classifier.

        Parameters
        ----------
        estimator : estimator
            A fitted :class:`~ferkit.FacialExpressionClassifier`, or a Pipeline (or search)
            ending in one.
        metrics : tuple of str, default=("accuracy", "loss")
            Metrics to draw, one panel each.
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per metric; None makes a new figure.
        name : str, default=None
            Name shown in the titles.

        Returns
        -------
        TrainingHistoryDisplay
        """
        history = getattr(final_estimator(estimator), "history_", None)
        if history is None:
            raise ValueError(
                f"{type(estimator).__name__} has no training history (history_): pass a fitted "
                "FacialExpressionClassifier or a Pipeline ending in one."
            )
        return cls.from_history(history, metrics=metrics, ax=ax, name=name)


def history_layout(metrics):
    """``(1, n_metrics)`` panels side by side, and the figure size that holds them."""
    return (1, len(metrics)), (5 * len(metrics), 4)


def _check_metrics(history, metrics) -> tuple[str, ...]:
    if not isinstance(history, Mapping):
        raise TypeError(
            f"history must be a dict of per-epoch lists; got {type(history).__name__}."
        )
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not metrics:
        raise ValueError("metrics is empty: name at least one, such as 'accuracy' or 'loss'.")
    missing = [m for m in metrics if not history.get(m) and not history.get(f"val_{m}")]
    if missing:
        raise ValueError(
            f"The history has no values for {missing}; it holds {sorted(history)}."
        )
    return metrics


def plot_learning_curves(estimator, *, metrics=("accuracy", "loss"), ax=None):
    """Plot accuracy and loss per epoch, training against validation.

    Parameters
    ----------
    estimator : estimator or dict
        A fitted :class:`~ferkit.FacialExpressionClassifier`, a Pipeline ending in one, or a
        history dict such as its ``history_``.
    metrics : str or tuple of str, default=("accuracy", "loss")
        Metrics to draw, one panel each, side by side. Pass one metric (``"loss"``) for a
        figure of its own.
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per metric; None makes a new figure.

    Returns
    -------
    TrainingHistoryDisplay
        With ``figure_``, ``axes_`` and ``lines_``.

    Examples
    --------
    >>> import ferkit
    >>> from ferkit.datasets import load_sample
    >>> from ferkit.plotting import plot_learning_curves
    >>> faces = load_sample(emotions=("angry", "happy", "sad"))
    >>> model = ferkit.make_fer_pipeline(filters=(4, 8), dense_units=(8,), epochs=2,
    ...                                  random_state=0).fit(faces.data, faces.target)
    >>> display = plot_learning_curves(model, metrics="loss")
    >>> sorted(display.lines_)
    [('loss', 'train'), ('loss', 'validation')]
    """
    if isinstance(estimator, Mapping):
        return TrainingHistoryDisplay.from_history(estimator, metrics=metrics, ax=ax)
    return TrainingHistoryDisplay.from_estimator(estimator, metrics=metrics, ax=ax)
