"""Optuna's matplotlib pictures of a study, saved as PNG files."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState


def save_study_plots(study: optuna.study.Study, folder, *, dpi: int = 100) -> dict[str, Path]:
    """Save the optimisation history, parameter importances and intermediate values.

    Parameters
    ----------
    study : optuna.study.Study
        The study to draw.
    folder : str or path-like
        Folder for the PNG files; created if missing.
    dpi : int, default=100
        Resolution of the files.

    Returns
    -------
    dict of str to pathlib.Path
        Picture name to file, for the pictures the study has data for: the importances need
        two completed trials whose parameters differ, the intermediate values need trials
        that reported per-epoch values.
    """
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plt

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"Cannot save plots into {folder}: it is a file.")
    folder.mkdir(parents=True, exist_ok=True)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    plots = {"optimization_history": optuna_plt.plot_optimization_history}
    distinct = {tuple(sorted(t.params.items(), key=lambda kv: kv[0])) for t in complete}
    if len(complete) >= 2 and len(distinct) >= 2:
        plots["param_importances"] = optuna_plt.plot_param_importances
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        plots["intermediate_values"] = optuna_plt.plot_intermediate_values

    written = {}
    for name, plot in plots.items():
        with warnings.catch_warnings():
            # optuna.visualization.matplotlib is marked experimental; its API is what we use.
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            ax = plot(study)
        figure = ax.figure
        path = folder / f"{name}.png"
        try:
            figure.savefig(path, dpi=dpi, bbox_inches="tight")
        finally:
            plt.close(figure)
        written[name] = path
    return written
