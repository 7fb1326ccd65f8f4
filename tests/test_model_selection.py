"""OptunaSearchCV: results like GridSearchCV's, determinism, pruning, plots, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from ferkit.model_selection import OptunaSearchCV, TrialSeededTPESampler, default_search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: A network that trains in well under a second; validation_split gives pruning a val_loss.
TINY_CLF = dict(filters=(4,), dense_units=(8,), epochs=2, batch_size=64, validation_split=0.2,
                random_state=0)


def _tuple_choices(choices):
    with warnings.catch_warnings():
        # Optuna's warning about tuple choices; OptunaSearchCV stores them as JSON text.
        warnings.filterwarnings("ignore", message="Choices for a categorical distribution")
        return CategoricalDistribution(choices)


@pytest.fixture(scope="module")
def faces(happy_sad_60):
    return happy_sad_60


def _pipeline(**params):
    from ferkit import make_fer_pipeline

    return make_fer_pipeline(**{**TINY_CLF, **params})


def _pipeline_space():
    return {
        "clf__dropout": FloatDistribution(0.0, 0.5),
        "clf__filters": _tuple_choices([(4,), (4, 8)]),
    }


@pytest.fixture(scope="module")
def fitted_search(faces):
    X, y = faces
    # random_state=None on the classifier: the search seeds it.
    search = OptunaSearchCV(
        _pipeline(random_state=None), _pipeline_space(), n_trials=3, cv=2, pruning=False,
        random_state=0,
    )
    return search.fit(X, y)


# -- results -------------------------------------------------------------------------------

def test_cv_results_are_shaped_like_grid_search(fitted_search):
    results = fitted_search.cv_results_
    grid_keys = {
        "mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time", "params",
        "param_clf__dropout", "param_clf__filters", "split0_test_score", "split1_test_score",
        "mean_test_score", "std_test_score", "rank_test_score",
    }
    assert grid_keys <= set(results)
    assert {"trial_number", "state", "pruned"} <= set(results)
    assert all(len(results[key]) == 3 for key in results)
    assert results["trial_number"].tolist() == [0, 1, 2]
    assert results["state"].tolist() == ["COMPLETE"] * 3
    assert not results["pruned"].any()
    splits = np.column_stack([results["split0_test_score"], results["split1_test_score"]])
    np.testing.assert_allclose(results["mean_test_score"], splits.mean(axis=1))
    np.testing.assert_allclose(results["std_test_score"], splits.std(axis=1))
    assert (results["mean_fit_time"] > 0).all()
    # Tuple choices come back as tuples, in params and in the masked param_ columns.
    for params, filters in zip(results["params"], results["param_clf__filters"], strict=True):
        assert params["clf__filters"] in {(4,), (4, 8)}
        assert filters == params["clf__filters"]
        assert 0.0 <= params["clf__dropout"] <= 0.5


def test_best_trial_is_the_top_ranked(fitted_search):
    results = fitted_search.cv_results_
    best = fitted_search.best_index_
    assert results["rank_test_score"][best] == 1
    assert fitted_search.best_score_ == pytest.approx(results["mean_test_score"].max())
    assert fitted_search.best_params_ == results["params"][best]
    assert fitted_search.study_.best_trial.number == results["trial_number"][best]
    # The study stores the tuple as JSON text; best_params_ gives the estimator's tuple.
    stored = fitted_search.study_.best_params["clf__filters"]
    assert isinstance(stored, str)
    assert tuple(int(v) for v in stored.strip("[]").split(",")) == (
        fitted_search.best_params_["clf__filters"]
    )


def test_refit_best_estimator_predicts(fitted_search, faces):
    X, y = faces
    best = fitted_search.best_estimator_
    clf_params = best.named_steps["clf"].get_params()
    for name, value in fitted_search.best_params_.items():
        assert clf_params[name.removeprefix("clf__")] == value
    assert clf_params["random_state"] == 0  # seeded by the search's random_state
    assert set(fitted_search.classes_) == {"happy", "sad"}
    assert fitted_search.n_features_in_ == 2304
    np.testing.assert_array_equal(fitted_search.predict(X[:5]), best.predict(X[:5]))
    proba = fitted_search.predict_proba(X[:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted_search.score(X, y) == pytest.approx(best.score(X, y))


def test_same_random_state_same_search(fitted_search, faces):
    X, y = faces
    # Two trials: the first two trials of a repeatable search are those of any longer run.
    again = OptunaSearchCV(
        _pipeline(random_state=None), _pipeline_space(), n_trials=2, cv=2, pruning=False,
        random_state=0, refit=False,
    ).fit(X, y)
    first = fitted_search.cv_results_
    assert again.cv_results_["params"] == first["params"][:2]
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(again.cv_results_[key], first[key][:2])
    assert not hasattr(again, "best_estimator_")
    with pytest.raises(AttributeError) as info:
        again.predict(X)
    assert "refit=False" in str(info.value.__cause__)


def test_default_search_space_on_a_pipeline(faces):
    from ferkit import make_fer_pipeline

    X, y = faces
    search = OptunaSearchCV(
        make_fer_pipeline(epochs=1, validation_split=0.2), n_trials=1, cv=2, refit=False,
        random_state=0,
    ).fit(X, y)
    space = default_search_space(prefix="clf__")
    params = search.cv_results_["params"][0]
    assert set(params) == set(space)
    assert params["clf__filters"] in space["clf__filters"].choices
    assert params["clf__dense_units"] in space["clf__dense_units"].choices
    assert params["clf__batch_size"] in space["clf__batch_size"].choices
    assert 1e-4 <= params["clf__learning_rate"] <= 1e-2


def test_default_search_space_is_documented_and_prefixed():
    space = default_search_space()
    assert set(space) == {"learning_rate", "dropout", "filters", "dense_units", "batch_size"}
    assert space["learning_rate"].log
    assert all(isinstance(c, tuple) for c in space["filters"].choices)
    assert set(default_search_space(prefix="clf__")) == {f"clf__{n}" for n in space}


def test_is_a_classifier_when_its_estimator_is():
    from sklearn.base import is_classifier
    from sklearn.model_selection import StratifiedKFold, check_cv

    from ferkit import FacialExpressionClassifier

    search = OptunaSearchCV(_pipeline())
    assert is_classifier(search)
    assert is_classifier(OptunaSearchCV(FacialExpressionClassifier()))
    assert isinstance(check_cv(3, ["a", "b"] * 5, classifier=is_classifier(search)),
                      StratifiedKFold)


# -- pruning -------------------------------------------------------------------------------

class _PruneAllButFirst(optuna.pruners.BasePruner):
    """Prunes every trial after trial 0 at its first report: makes pruning predictable."""

    def prune(self, study, trial) -> bool:
        return trial.number > 0


def test_pruning_stops_trials_from_validation_loss_and_is_reported(faces):
    from ferkit import FacialExpressionClassifier

    X, y = faces
    # On the bare classifier (no pipeline), parameters have no prefix.
    search = OptunaSearchCV(
        FacialExpressionClassifier(**TINY_CLF), {"batch_size": IntDistribution(16, 64, step=16)},
        n_trials=3, cv=2, pruning=_PruneAllButFirst(), refit=False, random_state=0,
    ).fit(X / 255.0, y)
    assert all(p["batch_size"] in {16, 32, 48, 64} for p in search.cv_results_["params"])
    results = search.cv_results_
    assert results["state"].tolist() == ["COMPLETE", "PRUNED", "PRUNED"]
    assert results["pruned"].tolist() == [False, True, True]
    assert np.isnan(results["mean_test_score"][1:]).all()
    assert np.isnan(results["split0_test_score"][1:]).all()  # pruned in fold 0
    assert results["rank_test_score"].tolist() == [1, 2, 2]
    assert search.best_index_ == 0

    trials = search.study_.trials
    # Trial 0: 2 folds x 2 epochs, reported at step fold * epochs + epoch, as -val_loss.
    assert sorted(trials[0].intermediate_values) == [0, 1, 2, 3]
    assert all(v < 0 for v in trials[0].intermediate_values.values())
    # The pruned trials stopped after their first epoch: one report, no further training.
    for trial in trials[1:]:
        assert list(trial.intermediate_values) == [0]
        assert trial.user_attrs["ferkit_pruned_at"] == {"fold": 0, "epoch": 1}


def test_pruning_needs_validation_loss(faces):
    X, y = faces
    search = OptunaSearchCV(
        _pipeline(validation_split=0.0), {"clf__dropout": FloatDistribution(0.0, 0.5)},
        storage="sqlite:///nowhere/at/all/study.db",
    )
    # The warning comes while checking, before the bad storage stops the search untrained.
    with pytest.warns(UserWarning, match="validation_split=0"), \
            pytest.raises(ValueError, match="Cannot open the Optuna storage"):
        search.fit(X, y)


def test_pruning_needs_a_keras_estimator(faces):
    from sklearn.linear_model import LogisticRegression

    X, y = faces
    search = OptunaSearchCV(LogisticRegression(max_iter=50),
                            {"C": FloatDistribution(0.1, 1.0)}, n_trials=1, cv=2)
    with pytest.warns(UserWarning, match="callbacks"):
        search.fit(X[:, :20] / 255.0, y)
    assert not search.study_.trials[0].intermediate_values


# -- plots ---------------------------------------------------------------------------------

def test_save_plots_writes_pngs(fitted_search, tmp_path):
    paths = fitted_search.save_plots(tmp_path / "plots")
    assert set(paths) == {"optimization_history", "param_importances"}  # no pruning reports
    for path in paths.values():
        assert path.parent == tmp_path / "plots"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_plots_needs_a_fitted_search(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        OptunaSearchCV(_pipeline()).save_plots(tmp_path)


# -- sampler -------------------------------------------------------------------------------

def _draw(study):
    trial = study.ask()
    value = trial.suggest_float("x", 0.0, 1.0)
    study.tell(trial, value)
    return value


def test_trial_seeded_sampler_is_repeatable_and_distinct_across_workers():
    one = optuna.create_study(sampler=TrialSeededTPESampler(0))
    two = optuna.create_study(sampler=TrialSeededTPESampler(0))
    assert [_draw(one) for _ in range(3)] == [_draw(two) for _ in range(3)]

    # Two workers on one storage, both seeded 0, alternate trials: the draws all differ.
    storage = optuna.storages.InMemoryStorage()
    workers = [optuna.create_study(storage=storage, study_name="s", load_if_exists=True,
                                   sampler=TrialSeededTPESampler(0)) for _ in range(2)]
    draws = [_draw(workers[i % 2]) for i in range(4)]
    assert len(set(draws)) == 4
    # Plain TPESampler(seed=0) in each worker repeats the other's draw: the pitfall avoided.
    storage = optuna.storages.InMemoryStorage()
    plain = [optuna.create_study(storage=storage, study_name="s", load_if_exists=True,
                                 sampler=optuna.samplers.TPESampler(seed=0)) for _ in range(2)]
    assert _draw(plain[0]) == _draw(plain[1])


# -- bad input: clear errors before any training -------------------------------------------

class _TrainingForbidden(Exception):
    pass


def _untrainable_pipeline():
    """A pipeline whose classifier fails loudly if any training starts."""
    import keras

    class Forbid(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise _TrainingForbidden("training started before the bad input was caught")

    return _pipeline(callbacks=[Forbid()])


@pytest.mark.parametrize(
    ("space", "error", "match"),
    [
        ({"clf__dropuot": FloatDistribution(0.0, 0.5)}, ValueError,
         r"'clf__dropuot', which is not a parameter of Pipeline\. Did you mean 'clf__dropout'"),
        ({"dropout": FloatDistribution(0.0, 0.5)}, ValueError,
         r"'dropout', which is not a parameter of Pipeline\. Did you mean 'clf__dropout'"),
        ({"clf__dropout": [0.1, 0.2]}, TypeError,
         r"param_distributions\['clf__dropout'\] must be an Optuna distribution.*list"),
        ({"clf__dropout": "uniform"}, TypeError, r"must be an Optuna distribution.*str"),
        ({}, ValueError, "param_distributions is empty"),
        ({"clf__filters": _tuple_choices([(4,), (object(),)])}, TypeError,
         r"param_distributions\['clf__filters'\] has the choice"),
    ],
    ids=["misspelt", "no-step-prefix", "list", "string", "empty", "bad-tuple"],
)
def test_bad_search_space_fails_before_training(faces, space, error, match):
    X, y = faces
    with pytest.raises(error, match=match):
        OptunaSearchCV(_untrainable_pipeline(), space, pruning=False).fit(X, y)


def test_scipy_distribution_is_refused(faces):
    from scipy.stats import uniform

    X, y = faces
    with pytest.raises(TypeError, match=r"must be an Optuna distribution.*rv_continuous_frozen"):
        OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": uniform(0, 0.5)}).fit(X, y)


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/missing/folder/study.db", "postgresql://ferkit:s3cret@127.0.0.1:9/db",
     "study.db"],
    ids=["sqlite-missing-folder", "postgresql-unreachable", "not-a-url"],
)
def test_unreachable_storage_fails_before_training(faces, tmp_path, url):
    X, y = faces
    url = url.format(tmp=tmp_path)
    search = OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": FloatDistribution(0, 1)},
                            storage=url, study_name="s")
    with pytest.raises(ValueError, match="Cannot open the Optuna storage") as info:
        search.fit(X, y)
    assert "s3cret" not in str(info.value)  # passwords stay out of messages


@pytest.mark.parametrize(
    ("url", "module", "install"),
    [("postgresql://ferkit:s3cret@/db?host=/nowhere", "psycopg", "pip install 'ferkit[postgres]'"),
     ("postgresql+psycopg2://ferkit:s3cret@/db?host=/nowhere", "psycopg2",
      "pip install psycopg2-binary")],
    ids=["psycopg", "psycopg2"],
)
def test_missing_database_driver_names_the_package(faces, monkeypatch, url, module, install):
    """SQLAlchemy imports the URL's driver when the storage opens: without it, the error
    names the module and the command that installs it, before any training."""
    import sys

    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    X, y = faces
    search = OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": FloatDistribution(0, 1)},
                            storage=url, study_name="s")
    with pytest.raises(ImportError, match="Cannot open the Optuna storage") as info:
        search.fit(X, y)
    assert f"driver {module!r} is not installed" in str(info.value)
    assert str(info.value).endswith(f"Install it with: {install}")
    assert "s3cret" not in str(info.value)


def test_study_of_the_other_direction_is_refused(faces, tmp_path):
    X, y = faces
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(storage=url, study_name="loss", direction="minimize")
    search = OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": FloatDistribution(0, 1)},
                            storage=url, study_name="loss")
    with pytest.raises(ValueError, match="created to minimize"):
        search.fit(X, y)


def test_invalid_fixed_parameter_fails_before_training(faces):
    X, y = faces
    search = OptunaSearchCV(_pipeline(filters=4), {"clf__dropout": FloatDistribution(0, 1)})
    with pytest.raises(ValueError, match="'filters' parameter"):
        search.fit(X, y)


def test_default_space_needs_the_ferkit_classifier(faces):
    from sklearn.linear_model import LogisticRegression

    X, y = faces
    with pytest.raises(ValueError, match=r"default search space.*pass param_distributions"):
        OptunaSearchCV(LogisticRegression(), pruning=False).fit(X, y)


def test_surplus_trials_are_not_run(faces, tmp_path):
    """A study that already holds n_trials trials gets no new trial, and no training."""
    X, y = faces
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="full", direction="maximize")
    for value in (0.5, 0.7):
        trial = study.ask({"clf__dropout": FloatDistribution(0.0, 0.5)})
        trial.set_user_attr("ferkit_cv", {"test_scores": [value, value]})
        study.tell(trial, value)
    search = OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": FloatDistribution(0, 0.5)},
                            n_trials=2, cv=2, storage=url, study_name="full", refit=False)
    search.fit(X, y)
    assert len(search.study_.trials) == 2
    assert search.best_score_ == pytest.approx(0.7)
    assert search.cv_results_["rank_test_score"].tolist() == [2, 1]
    assert [t.state for t in search.study_.trials] == [TrialState.COMPLETE] * 2


def test_trial_created_in_a_race_past_n_trials_trains_nothing(faces, tmp_path):
    """Two workers may both start a trial when one was left: the later one is turned away."""
    from sklearn.model_selection import StratifiedKFold

    from ferkit.model_selection._objective import _Objective
    from ferkit.model_selection._search_space import _SearchSpace

    X, y = faces
    url = f"sqlite:///{tmp_path / 'study.db'}"
    search = OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": FloatDistribution(0, 0.5)},
                            n_trials=1, cv=2, storage=url, study_name="race", refit=False)
    study = optuna.create_study(storage=url, study_name="race", direction="maximize")
    trial = study.ask({"clf__dropout": FloatDistribution(0.0, 0.5)})
    study.tell(trial, 0.6)
    # This process counted 0 trials and went on; meanwhile the other worker took trial 0.
    objective = _Objective(
        base=_untrainable_pipeline(), space=_SearchSpace(
            search.param_distributions, search.estimator.get_params(), estimator_name="Pipeline"),
        prefix="clf__", prune=False, scorer=None, X=X, y=y,
        splits=list(StratifiedKFold(2).split(X, y)), fit_params={}, n_trials=1,
    )
    study.optimize(objective, n_trials=5)  # would train, and fail loudly, if not turned away
    assert len(study.trials) == 2  # the surplus trial stopped the loop
    surplus = study.trials[1]
    assert surplus.state == TrialState.PRUNED
    assert surplus.user_attrs["ferkit_surplus"] is True
    assert not surplus.params

    search.fit(X, y)  # the study is full: no trial, and the surplus one is not a result
    assert search.cv_results_["trial_number"].tolist() == [0]
    assert search.n_trials_ == 1


@pytest.mark.parametrize("message", [
    "table studies already exists",
    "(sqlite3.IntegrityError) UNIQUE constraint failed: alembic_version.version_num",
    "(sqlite3.OperationalError) database is locked",
])
def test_opening_storage_retries_when_workers_race_to_create_it(monkeypatch, message):
    from ferkit.model_selection import _storage

    calls = []

    def flaky(url, **kwargs):
        calls.append(url)
        if len(calls) < 3:
            raise RuntimeError(message)
        return "storage"

    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    assert _storage._open_rdb_storage("sqlite:///x.db") == "storage"
    assert len(calls) == 3


def test_opening_storage_does_not_retry_other_errors(monkeypatch):
    from ferkit.model_selection import _storage

    calls = []

    def broken(url, **kwargs):
        calls.append(url)
        raise RuntimeError("unable to open database file")

    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    with pytest.raises(RuntimeError, match="unable to open"):
        _storage._open_rdb_storage("sqlite:///x.db")
    assert len(calls) == 1


def test_default_pruner_stops_a_hopeless_trial(faces, tmp_path):
    """pruning=True (Optuna's median rule) stops a trial whose validation loss is far worse."""
    from ferkit import FacialExpressionClassifier

    X, y = faces
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="median", storage=url, direction="maximize")
    # Five sane trials for the median (the rule's startup), then one that cannot learn.
    for rate in [0.01] * 5 + [50.0]:
        study.enqueue_trial({"learning_rate": rate})
    search = OptunaSearchCV(
        FacialExpressionClassifier(**dict(TINY_CLF, epochs=4)),
        {"learning_rate": FloatDistribution(1e-3, 100.0, log=True)},
        # The queued trials are the study's six: each counts once, queued then run.
        n_trials=6, cv=2, pruning=True, storage=url, study_name="median", refit=False,
        random_state=0,
    ).fit(X / 255.0, y)
    states = search.cv_results_["state"].tolist()
    assert states[:5] == ["COMPLETE"] * 5
    assert states[5] == "PRUNED"
    assert search.cv_results_["pruned"].tolist() == [False] * 5 + [True]


# -- scikit-learn's BaseSearchCV -----------------------------------------------------------

def test_builds_on_base_search_cv_and_delegates_to_the_best_estimator():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection._search import BaseSearchCV

    X, y = make_classification(n_samples=60, n_features=5, random_state=0)
    search = OptunaSearchCV(LogisticRegression(), {"C": FloatDistribution(0.01, 10.0, log=True)},
                            n_trials=3, cv=2, pruning=False, random_state=0).fit(X, y)
    assert isinstance(search, BaseSearchCV)
    best = search.best_estimator_
    assert best.C == search.best_params_["C"]
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        np.testing.assert_array_equal(getattr(search, method)(X), getattr(best, method)(X))
    assert search.score(X, y) == best.score(X, y)
    np.testing.assert_array_equal(search.classes_, [0, 1])
    assert search.n_features_in_ == 5
    assert not hasattr(search, "transform")  # LogisticRegression has none
    assert search.refit_time_ > 0


def test_unsupervised_estimator_is_searched_without_y():
    from sklearn.decomposition import PCA

    X = np.random.default_rng(0).normal(size=(40, 4))
    search = OptunaSearchCV(PCA(), {"n_components": IntDistribution(1, 3)}, n_trials=3, cv=2,
                            pruning=False, random_state=0).fit(X)
    best = search.best_estimator_
    np.testing.assert_allclose(search.transform(X), best.transform(X))
    np.testing.assert_allclose(search.inverse_transform(search.transform(X)),
                               best.inverse_transform(best.transform(X)))
    assert search.score(X) == pytest.approx(best.score(X))
    assert search.best_index_ == int(np.argmin(search.cv_results_["rank_test_score"]))


def test_a_classifier_search_needs_y(faces):
    X, _ = faces
    with pytest.raises(ValueError, match="requires y to be passed"):
        OptunaSearchCV(_untrainable_pipeline(), {"clf__dropout": FloatDistribution(0, 1)}).fit(X)


def test_what_counts_toward_n_trials():
    """Finished, running and queued trials count; a surplus trial and a failed trial whose
    retry stands for it do not; a failed retry that is not retried again counts."""
    from optuna.trial import create_trial

    from ferkit.model_selection._objective import counted_trials

    dist = {"x": FloatDistribution(0, 1)}

    def trial(number, state, *, retry_of=(), **user_attrs):
        queued = state == TrialState.WAITING
        made = create_trial(state=state, params=None if queued else {"x": 0.5},
                            distributions=None if queued else dist,
                            value=0.5 if state == TrialState.COMPLETE else None,
                            user_attrs=user_attrs,
                            system_attrs={"retry_history": list(retry_of)} if retry_of else {})
        made.number = number
        return made

    trials = [
        trial(0, TrialState.COMPLETE),
        trial(1, TrialState.FAIL),  # its worker died; retried by trial 3
        trial(2, TrialState.PRUNED, ferkit_surplus=True),
        trial(3, TrialState.FAIL, retry_of=[1]),  # the retry died too: no second retry
        trial(4, TrialState.FAIL),  # its fit raised: the search stopped
        trial(5, TrialState.PRUNED),
        trial(6, TrialState.RUNNING),
        trial(7, TrialState.WAITING),
    ]
    assert [t.number for t in counted_trials(trials)] == [0, 3, 4, 5, 6, 7]
