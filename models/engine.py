"""Engines and sessions: SQLite (WAL) by default, PostgreSQL by URL, the same code for both.

An engine is made once per process and URL (a forked worker child makes its own), and
brings the schema to the newest migration on first use (`models.schema`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from models.schema import upgrade_schema
from salam.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 60_000

_engines: dict[tuple[int, str], Engine] = {}
_default_url: list[str] = []  # set by use_database(); empty: the settings' database


def use_database(url: str | None) -> None:
    """Make `url` this process's default database (`salam run` keeps its own SQLite file);
    None goes back to the settings' database."""
    _default_url[:] = [url] if url else []


def default_database_url() -> str:
    return _default_url[0] if _default_url else get_settings().resolved_database_url


def get_engine(url: str | None = None) -> Engine:
    """The process's engine for `url` (default: `default_database_url()`), schema ensured."""
    url = url or default_database_url()
    key = (os.getpid(), url)
    if key not in _engines:
        engine = make_engine(url)
        upgrade_schema(engine)
        _engines[key] = engine
    return _engines[key]


def make_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _use_wal_and_explicit_transactions(engine)
    return engine


def _use_wal_and_explicit_transactions(engine: Engine) -> None:
    """WAL lets readers run beside the writer. Writers start with BEGIN IMMEDIATE so two
    processes never both read and then fail to upgrade to the write lock (busy_timeout does
    not help with that deadlock); readers start a plain BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _writer(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


def _reader(engine: Engine) -> Engine:
    """On PostgreSQL a read needs no transaction: autocommit saves the BEGIN and ROLLBACK
    round trips. Reads here never rely on one snapshot across statements."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@contextmanager
def session_scope(*, write: bool = False, url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    `write=True` takes SQLite's write lock at the start of the transaction.
    """
    engine = get_engine(url)
    bind = _binds(engine)[1 if write else 0]
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_bind_cache: dict[int, tuple[Engine, Engine]] = {}


def _binds(engine: Engine) -> tuple[Engine, Engine]:
    """(reader, writer) views of the engine, made once."""
    if id(engine) not in _bind_cache:
        _bind_cache[id(engine)] = (_reader(engine), _writer(engine))
    return _bind_cache[id(engine)]


def dispose_engines() -> None:
    """Forget every engine of this process (tests, or after changing the database URL)."""
    for key in [key for key in _engines if key[0] == os.getpid()]:
        engine = _engines.pop(key)
        _bind_cache.pop(id(engine), None)
        engine.dispose()
