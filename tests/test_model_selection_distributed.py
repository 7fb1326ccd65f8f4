"""Worker processes on one stored study: the trials add up, none runs twice, and the trial
of a worker killed in the middle is failed and run again.

Each test runs on SQLite (a file) and on a real PostgreSQL server that the tests start
themselves (``postgres_url`` in conftest.py), which skips, saying why, where no server can be
run: two workers training ferkit's network on SQLite, three on PostgreSQL.
"""

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

#: The searches the workers run, by name (``search(kind, url, n_trials)``, ``data(kind)``):
#: "network", ferkit's pipeline with a tiny network; "sleepy", a logistic regression whose fit
#: sleeps a quarter of a second, so that trials last long enough for every worker to take
#: one while TensorFlow's start-up costs nothing (three workers on two cores).
SEARCHES = textwrap.dedent(
    """
    import time

    from optuna.distributions import FloatDistribution

    from ferkit.model_selection import OptunaSearchCV


    def data(kind):
        if kind == "network":
            from ferkit.datasets import load_sample

            X, y = load_sample(emotions=("happy", "sad"), return_X_y=True)
            return X[::5], y[::5]  # 40 faces, 20 of each emotion
        from sklearn.datasets import make_classification

        return make_classification(60, 5, random_state=0)


    def search(kind, url, n_trials):
        # The same random_state in every worker: trial-number seeding keeps their draws apart.
        if kind == "network":
            from ferkit import make_fer_pipeline

            estimator = make_fer_pipeline(filters=(4,), dense_units=(8,), epochs=1,
                                          batch_size=64, validation_split=0.2)
            space = {"clf__learning_rate": FloatDistribution(1e-3, 1e-1, log=True),
                     "clf__dropout": FloatDistribution(0.0, 0.5)}
        else:
            from sklearn.linear_model import LogisticRegression

            class SleepyLogisticRegression(LogisticRegression):
                def fit(self, X, y, **kwargs):
                    time.sleep(0.25)
                    return super().fit(X, y, **kwargs)

            estimator = SleepyLogisticRegression()
            space = {"C": FloatDistribution(1e-2, 1e2, log=True)}
        return OptunaSearchCV(estimator, space, n_trials=n_trials, cv=2, storage=url,
                              study_name="shared", refit=False, random_state=0,
                              pruning=kind == "network")
    """
)

WORKER = SEARCHES + textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import optuna

    url, kind, ready, n_workers, n_trials = sys.argv[1:]
    if kind == "network":
        import ferkit._classifier  # noqa: F401  (TensorFlow loads before the barrier)
    ready = Path(ready)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = data(kind)

    # A barrier: search only once every worker is ready, so that they do overlap.
    (ready / str(os.getpid())).touch()
    deadline = time.monotonic() + 180
    while len(list(ready.iterdir())) < int(n_workers):
        if time.monotonic() > deadline:
            sys.exit("the other workers never got ready")
        time.sleep(0.02)

    found = search(kind, url, int(n_trials)).fit(X, y)
    print("study holds", len(found.study_.trials), "trials")
    """
)


@pytest.mark.parametrize(
    ("study_storage", "n_workers", "kind"),
    [pytest.param("sqlite", 2, "network", id="sqlite-2-workers-network"),
     pytest.param("postgresql", 3, "sleepy", id="postgresql-3-workers",
                  marks=pytest.mark.slow)],
    indirect=["study_storage"],
)
def test_workers_share_one_study(tmp_path, study_storage, n_workers, kind):
    """Worker processes started together on one study: n_trials trials between them, each
    run by one worker, every worker taking part; a late worker reads them all."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ready = tmp_path / "ready"
    ready.mkdir()
    url = study_storage
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")]))}
    args = [sys.executable, str(script), url, kind, str(ready), str(n_workers), str(N_TRIALS)]
    workers = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(n_workers)]
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
    # The trials add up to n_trials over all the workers, each trial number once.
    assert sorted(t.number for t in trials) == list(range(N_TRIALS))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    # No parameter set ran twice.
    assert len({tuple(sorted(t.params.items())) for t in trials}) == N_TRIALS
    # Every worker took part (all start together, so each takes one of the first trials).
    assert len({t.user_attrs["ferkit_worker"] for t in trials}) == n_workers
    # A trial started in a race past n_trials trained nothing.
    assert all(not t.params and "ferkit_cv" not in t.user_attrs for t in surplus)

    # A late worker finds the study complete: no new trial, the others' results in cv_results_.
    # It runs the study's own search (a study refuses any other, see test_robustness.py).
    searches = {"__name__": "__main__"}  # the classes defined are named as the workers' are
    exec(SEARCHES, searches)
    late = searches["search"](kind, url, N_TRIALS).fit(*searches["data"](kind))
    assert len(late.study_.trials) == len(study.trials)
    assert late.cv_results_["trial_number"].tolist() == list(range(N_TRIALS))
    assert late.best_score_ == pytest.approx(max(t.value for t in trials))


#: A worker on a quick estimator that hangs in the fit it is told to, printing "fitting":
#: the test kills it there, in the middle of a trial.
DYING_WORKER = textwrap.dedent(
    """
    import sys
    import time

    import optuna
    from optuna.distributions import FloatDistribution
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from ferkit.model_selection import OptunaSearchCV

    url, n_trials, hang_at_fit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if sys.argv[4:] == ["late-heartbeat"]:
        # Optuna's heartbeat thread writes nothing before the kill, as on a busy machine.
        from optuna.storages._heartbeat import HeartbeatThread

        HeartbeatThread.start = HeartbeatThread.join = lambda self: None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fit, fits = LogisticRegression.fit, []

    def hanging_fit(self, X, y, **kwargs):
        fits.append(1)
        if len(fits) == hang_at_fit:
            print("fitting", flush=True)
            time.sleep(600)
        return fit(self, X, y, **kwargs)

    LogisticRegression.fit = hanging_fit
    X, y = make_classification(60, 5, random_state=0)
    OptunaSearchCV(LogisticRegression(), {"C": FloatDistribution(1e-2, 1e2, log=True)},
                   n_trials=n_trials, cv=2, storage=url, study_name="dying", pruning=False,
                   refit=False, random_state=0, heartbeat_interval=1).fit(X, y)
    """
)


@pytest.mark.parametrize(("study_storage", "heartbeat"), [
    ("sqlite", "on-time"), ("postgresql", "on-time"), ("sqlite", "late-heartbeat"),
], indirect=["study_storage"])
def test_trial_of_a_killed_worker_is_failed_and_retried(tmp_path, study_storage, heartbeat,
                                                        kill_when_printed):
    """A worker SIGKILLed in the middle of a trial: the next worker fails that trial (no
    heartbeat), runs its parameters again, and the study ends with exactly n_trials. Also
    when it was killed before Optuna's heartbeat thread wrote anything (CI once caught that:
    Optuna never fails a trial without a heartbeat, and the study stayed one short)."""
    from optuna.distributions import FloatDistribution
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from ferkit.model_selection import OptunaSearchCV

    script = tmp_path / "dying.py"
    script.write_text(DYING_WORKER)
    url = study_storage
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")]))}
    # Two folds a trial: the third fit is the first fold of trial 1.
    kill_when_printed([sys.executable, str(script), url, "3", "3", heartbeat], "fitting", cwd=ROOT,
                      env=env, stderr=subprocess.DEVNULL)
    study = optuna.load_study(study_name="dying", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING"]
    killed = study.trials[1]

    X, y = make_classification(60, 5, random_state=0)
    search = OptunaSearchCV(
        LogisticRegression(), {"C": FloatDistribution(1e-2, 1e2, log=True)}, n_trials=3, cv=2,
        storage=url, study_name="dying", pruning=False, refit=False, random_state=0,
        heartbeat_interval=1, timeout=60,
    ).fit(X, y)

    trials = search.study_.trials
    assert trials[1].state == optuna.trial.TrialState.FAIL  # failed for want of a heartbeat
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.state == optuna.trial.TrialState.COMPLETE
    assert retry.params == killed.params
    assert retry.system_attrs["retry_history"] == [killed.number]
    # Exactly n_trials count: the killed trial is replaced by its retry, nothing runs.
    assert len(trials) == 4
    assert all(t.state.is_finished() for t in trials)
    assert search.n_trials_ == 3
    assert search.cv_results_["trial_number"].tolist() == [0, 2, 3]
    assert killed.number not in search.cv_results_["trial_number"]
    assert set(search.cv_results_["state"]) == {"COMPLETE"}
    # The retry's record is its own, not the killed trial's partial one.
    assert len(retry.user_attrs["ferkit_cv"]["test_scores"]) == 2
    assert retry.user_attrs["ferkit_worker"].endswith(f":{os.getpid()}")
