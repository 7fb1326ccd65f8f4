"""The study of a search: its storage opened (retried while workers race), loaded or created.

Workers that share a study share its storage, a database given by URL. Opening it is checked
before any training, and its password stays out of every message. A storage opened from a URL
has Optuna's heartbeat: a trial whose worker stops beating (killed, its machine lost) is
marked failed by the next worker that looks, and its parameters are queued to run again. The
study records what it searches (``_search_record.py``); a search that differs is refused.
"""

from __future__ import annotations

import inspect
import time
import warnings

import optuna

from ferkit.model_selection._search_record import SEARCH_ATTR, record_differences

#: A trial is given up for dead after this many heartbeat intervals without a beat: one late
#: beat (a busy database, a worker starved of CPU by training) must not fail a live trial.
GRACE_INTERVALS = 3
#: Times the parameters of a trial whose worker died are run again. Once: a worker killed from
#: outside (pre-empted, stopped by hand) is then replaced, while parameters that kill their
#: worker themselves (memory exhausted) do not take down every worker in turn.
MAX_RETRY = 1

#: What the loser of a race to create a new study database sees (SQLAlchemy's messages).
_SCHEMA_RACE_MESSAGES = (
    "already exists",  # both created the tables
    "UNIQUE constraint failed: alembic_version",  # both stamped the schema version (SQLite)
    "duplicate key value violates unique constraint",  # the same on PostgreSQL
    "database is locked",  # SQLite busy with the other's schema transaction
)


def _storage_label(url: str) -> str:
    """The storage URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it as given
        return url


def _open_rdb_storage(url: str, attempts: int = 5, **kwargs):
    """``RDBStorage(url)``, retried when another worker is creating the same schema.

    Workers started together on a new database race to create Optuna's tables and stamp
    their version; the loser gets one of :data:`_SCHEMA_RACE_MESSAGES`. The schema is
    complete a moment later, so try again.
    """
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except Exception as exc:
            raced = any(message in str(exc) for message in _SCHEMA_RACE_MESSAGES)
            if not raced or attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _heartbeat_kwargs(heartbeat_interval) -> dict:
    """``RDBStorage`` keywords for a heartbeat that fails dead trials and retries them."""
    if heartbeat_interval is None:
        return {}
    storages = optuna.storages
    # Optuna 4.9 renamed the callback and its keyword; earlier versions know the old names.
    retry = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    keyword = "heartbeat_stale_trial_callback"
    if retry is None or keyword not in inspect.signature(storages.RDBStorage).parameters:
        retry, keyword = storages.RetryFailedTrialCallback, "failed_trial_callback"
    return {"heartbeat_interval": heartbeat_interval,
            "grace_period": GRACE_INTERVALS * heartbeat_interval,
            keyword: retry(max_retry=MAX_RETRY)}


#: Database driver modules SQLAlchemy loads, and how to install each.
_DRIVERS = {
    "psycopg": "pip install 'ferkit[postgres]'",  # postgresql:// and postgresql+psycopg://
    "psycopg2": "pip install psycopg2-binary",  # postgresql+psycopg2://
}


def _missing_driver_message(label: str, exc: ImportError) -> str:
    """What to install when the storage's database driver is not importable."""
    # Optuna re-raises SQLAlchemy's ImportError with a message of its own: the module that
    # is missing is named further down the chain.
    cause, name = exc, None
    while cause is not None and name is None:
        name = getattr(cause, "name", None)
        cause = cause.__cause__ or cause.__context__
    module = name or str(exc)
    install = _DRIVERS.get((name or "").split(".")[0])
    if install is None:
        what = f"{name!r} is not installed" if name else f"cannot be imported ({exc})"
        return (f"Cannot open the Optuna storage {label!r}: its database driver {what}. "
                "Install the driver that the URL names.")
    return (f"Cannot open the Optuna storage {label!r}: its database driver {module!r} is "
            f"not installed. Install it with: {install}")


def _open_storage(storage, heartbeat_interval=None):
    """An Optuna storage from a URL (a clear ``ValueError`` if it cannot be opened).

    A URL whose database driver is not installed (``postgresql://`` without psycopg) is an
    ``ImportError`` that says what to install.
    """
    label = _storage_label(storage)
    kwargs = {}
    if storage.startswith("sqlite"):
        # Several workers on one SQLite file wait for its lock instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            # The heartbeat is "experimental" in Optuna (since 2.x); it is what ferkit relies on.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            retry = _heartbeat_kwargs(heartbeat_interval)
            return _open_rdb_storage(storage, **kwargs, **retry)
    except ImportError as exc:
        raise ImportError(_missing_driver_message(label, exc)) from exc
    except Exception as exc:
        reason = str(exc).splitlines()[0].rstrip(". ") if str(exc) else type(exc).__name__
        raise ValueError(
            f"Cannot open the Optuna storage {label!r}: {reason}. Give a reachable "
            "database URL such as 'sqlite:///study.db' (a file in an existing "
            "folder) or 'postgresql://user:password@host/database'."
        ) from exc


def _heartbeat_of(storage):
    """The heartbeat interval of a storage object, or None when it has no heartbeat."""
    getter = getattr(storage, "get_heartbeat_interval", None)
    return getter() if getter is not None else None


def _create_or_load(storage, *, study_name, sampler, pruner):
    """``(study, created)``: the study, and whether this process created it."""
    try:
        study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                    study_name=study_name, direction="maximize")
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(storage=storage, sampler=sampler, pruner=pruner,
                                 study_name=study_name), False


def _stored_record(study, record: dict, *, created: bool, wait: float = 2.0):
    """The search record of the study, written first by whoever created it.

    A study made outside ferkit (or by a ferkit without records) has none: the first search
    to join it writes its own. A study created by another worker a moment ago may not hold
    its record yet: wait for it briefly rather than write a second one.
    """
    if created:
        study.set_user_attr(SEARCH_ATTR, record)
        return record
    deadline = time.monotonic() + wait
    while True:
        stored = study.user_attrs.get(SEARCH_ATTR)
        if stored is not None:
            return stored
        if study.get_trials(deepcopy=False) or time.monotonic() > deadline:
            study.set_user_attr(SEARCH_ATTR, record)
            return record
        time.sleep(0.05)


def load_study(storage, *, study_name, sampler, pruner, record=None, heartbeat_interval=None):
    """The study named ``study_name`` in ``storage``, created (to maximise) if missing.

    Parameters
    ----------
    storage : str, optuna storage or None
        A database URL, an Optuna storage object, or None for a study in memory.
    study_name : str or None
        Name of the study; None lets Optuna make a unique one.
    sampler : optuna.samplers.BaseSampler
        Sampler of the study in this process.
    pruner : optuna.pruners.BasePruner
        Pruner of the study in this process.
    record : dict or None, default=None
        What this search searches (``_search_record.search_record``): written into a new
        study, compared with the record of an existing one.
    heartbeat_interval : int or None, default=None
        Seconds between heartbeats of a storage opened from a URL; None for no heartbeat.
        A storage object is used as given.

    Returns
    -------
    study : optuna.study.Study
        The study, which maximises its objective.
    heartbeat : int or None
        The storage's heartbeat interval, None when trials of dead workers are not detected.

    Raises
    ------
    ValueError
        When the URL cannot be opened, when the stored study minimises its objective, or
        when it was created by a search with other distributions or another estimator.
    """
    label = None
    if isinstance(storage, str):
        label = _storage_label(storage)
        storage = _open_storage(storage, heartbeat_interval)
    study, created = _create_or_load(storage, study_name=study_name, sampler=sampler,
                                     pruner=pruner)
    where = f"Study {study.study_name!r} in storage {label or storage!r}"
    # An existing study keeps the direction it was created with.
    if study.directions != [optuna.study.StudyDirection.MAXIMIZE]:
        raise ValueError(
            f"{where} was created to "
            f"{' and '.join(d.name.lower() for d in study.directions)} its objective; "
            "OptunaSearchCV maximises a score. Use another study_name."
        )
    if record is not None:
        differences = record_differences(record, _stored_record(study, record, created=created))
        if differences:
            raise ValueError(
                f"{where} was created by another search, and its trials cannot be compared "
                f"with this one's: {'; '.join(differences)}. Search as the study does, or "
                "use another study_name."
            )
    return study, _heartbeat_of(storage)
