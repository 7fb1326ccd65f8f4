"""Two worker processes on one SQLite study: the trials add up, none runs twice."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

N_TRIALS = 4
ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import optuna
    from optuna.distributions import FloatDistribution

    import ferkit._classifier  # noqa: F401  (TensorFlow loads before the barrier)
    from ferkit import make_fer_pipeline
    from ferkit.datasets import load_sample
    from ferkit.model_selection import OptunaSearchCV

    url, name, ready, n_workers, n_trials = sys.argv[1:]
    ready = Path(ready)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_sample(emotions=("happy", "sad"), return_X_y=True)
    X, y = X[::5], y[::5]  # 40 faces, 20 of each emotion

    # A barrier: search only once every worker is ready, so that they do overlap.
    (ready / str(os.getpid())).touch()
    deadline = time.monotonic() + 180
    while len(list(ready.iterdir())) < int(n_workers):
        if time.monotonic() > deadline:
            sys.exit("the other worker never got ready")
        time.sleep(0.02)

    pipeline = make_fer_pipeline(filters=(4,), dense_units=(8,), epochs=1, batch_size=64,
                                 validation_split=0.2)
    space = {"clf__learning_rate": FloatDistribution(1e-3, 1e-1, log=True),
             "clf__dropout": FloatDistribution(0.0, 0.5)}
    # The same random_state in both workers: trial-number seeding keeps their draws apart.
    search = OptunaSearchCV(pipeline, space, n_trials=int(n_trials), cv=2, storage=url,
                            study_name=name, refit=False, random_state=0)
    search.fit(X, y)
    print("study holds", len(search.study_.trials), "trials")
    """
)


def test_two_workers_share_one_sqlite_study(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ready = tmp_path / "ready"
    ready.mkdir()
    url = f"sqlite:///{tmp_path / 'study.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")]))}
    args = [sys.executable, str(script), url, "shared", str(ready), "2", str(N_TRIALS)]
    workers = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]

    study = optuna.load_study(study_name="shared", storage=url)
    surplus = [t for t in study.trials if t.user_attrs.get("ferkit_surplus")]
    trials = [t for t in study.trials if not t.user_attrs.get("ferkit_surplus")]
    # The trials add up to n_trials over both workers, each trial number once.
    assert sorted(t.number for t in trials) == list(range(N_TRIALS))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    # No parameter set ran twice.
    assert len({tuple(sorted(t.params.items())) for t in trials}) == N_TRIALS
    # Both workers took part.
    assert len({t.user_attrs["ferkit_worker"] for t in trials}) == 2
    # A trial started in a race past n_trials (rare) trained nothing.
    assert all(not t.params and "ferkit_cv" not in t.user_attrs for t in surplus)

    # A late worker finds the study complete: no new trial, the others' results in cv_results_.
    from optuna.distributions import FloatDistribution

    from ferkit import make_fer_pipeline
    from ferkit.model_selection import OptunaSearchCV

    space = {"clf__learning_rate": FloatDistribution(1e-3, 1e-1, log=True),
             "clf__dropout": FloatDistribution(0.0, 0.5)}
    late = OptunaSearchCV(make_fer_pipeline(), space, n_trials=N_TRIALS, cv=2, storage=url,
                          study_name="shared", refit=False)
    from ferkit.datasets import load_sample

    X, y = load_sample(emotions=("happy", "sad"), return_X_y=True)
    late.fit(X[::5], y[::5])
    assert len(late.study_.trials) == len(study.trials)
    assert late.cv_results_["trial_number"].tolist() == list(range(N_TRIALS))
    assert late.best_score_ == pytest.approx(max(t.value for t in trials))
