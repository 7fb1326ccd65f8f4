"""The study of a search: its storage opened (retried while workers race), loaded or created.

Workers that share a study share its storage, a database given by URL. Opening it is checked
before any training, and its password stays out of every message.
"""

from __future__ import annotations

import time

import optuna

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


def _open_storage(storage):
    """An Optuna storage from a URL (a clear ``ValueError`` if it cannot be opened)."""
    label = _storage_label(storage)
    kwargs = {}
    if storage.startswith("sqlite"):
        # Several workers on one SQLite file wait for its lock instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        return _open_rdb_storage(storage, **kwargs)
    except Exception as exc:
        reason = str(exc).splitlines()[0].rstrip(". ") if str(exc) else type(exc).__name__
        raise ValueError(
            f"Cannot open the Optuna storage {label!r}: {reason}. Give a reachable "
            "database URL such as 'sqlite:///study.db' (a file in an existing "
            "folder) or 'postgresql://user:password@host/database'."
        ) from exc


def load_study(storage, *, study_name, sampler, pruner) -> optuna.study.Study:
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

    Returns
    -------
    optuna.study.Study
        The study, which maximises its objective.

    Raises
    ------
    ValueError
        When the URL cannot be opened, or when the stored study minimises its objective.
    """
    label = None
    if isinstance(storage, str):
        label = _storage_label(storage)
        storage = _open_storage(storage)
    study = optuna.create_study(
        storage=storage, sampler=sampler, pruner=pruner, study_name=study_name,
        direction="maximize", load_if_exists=True,
    )
    # An existing study keeps the direction it was created with.
    if study.directions != [optuna.study.StudyDirection.MAXIMIZE]:
        raise ValueError(
            f"Study {study.study_name!r} in storage {label or storage!r} was created to "
            f"{' and '.join(d.name.lower() for d in study.directions)} its objective; "
            "OptunaSearchCV maximises a score. Use another study_name."
        )
    return study
