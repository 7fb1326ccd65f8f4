"""Pruning of unpromising trials from the classifier's per-epoch validation loss.

Imports Keras: loaded only when a search actually prunes a Keras estimator.
"""

from __future__ import annotations

import keras
import optuna


class FoldPruningCallback(keras.callbacks.Callback):
    """Report each epoch's validation loss to an Optuna trial and prune when told to.

    Like optuna-integration's ``KerasPruningCallback``, with two differences that
    cross-validation needs: the folds of one trial report at distinct steps
    (``step_offset + epoch``), and the reported value is the *negated* loss, because the
    study maximises the score and pruners compare intermediate values in the study's
    direction.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial being evaluated.
    step_offset : int
        Step of this fold's first epoch (the fold's index times the epochs per fold).
    monitor : str, default="val_loss"
        The Keras log entry to report; lower is better.
    """

    def __init__(self, trial: optuna.trial.Trial, *, step_offset: int, monitor="val_loss"):
        super().__init__()
        self.trial = trial
        self.step_offset = step_offset
        self.monitor = monitor
        self.epochs_seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen = epoch + 1
        value = (logs or {}).get(self.monitor)
        if value is None:  # no validation data for this fit: nothing to judge by
            return
        self.trial.report(-float(value), self.step_offset + epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"trial {self.trial.number} pruned at step {self.step_offset + epoch} "
                f"({self.monitor}={float(value):.4g})"
            )
