"""A reproducible TPE sampler that still gives distinct trials to parallel workers."""

from __future__ import annotations

import numpy as np
from optuna.samplers import BaseSampler, TPESampler


def trial_seed(seed: int, trial_number: int) -> int:
    """The sampler seed of one trial: a function of the search seed and the trial number."""
    return int(np.random.SeedSequence([int(seed), int(trial_number)]).generate_state(1)[0])


class TrialSeededTPESampler(BaseSampler):
    """Optuna's TPE sampler, seeded afresh for every trial from ``(seed, trial.number)``.

    A plain ``TPESampler(seed=0)`` in each of two workers draws the same parameters in the
    same order, so the workers duplicate each other's first trials. Trial numbers are unique
    within a study (the storage hands them out), so seeding by trial number keeps a
    one-process search reproducible and gives every worker's trials their own draws.

    Parameters
    ----------
    seed : int
        Seed of the search.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._samplers: dict[int, TPESampler] = {}

    def _for(self, trial) -> TPESampler:
        sampler = self._samplers.get(trial.number)
        if sampler is None:
            sampler = TPESampler(seed=trial_seed(self.seed, trial.number))
            self._samplers[trial.number] = sampler
        return sampler

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:
        self._for(trial).after_trial(study, trial, state, values)
        self._samplers.pop(trial.number, None)

    def reseed_rng(self) -> None:
        # Seeds derive from trial numbers; there is no process-wide random state to reseed.
        pass
