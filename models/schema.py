"""The schema is the Alembic migrations in `models/migrations`, applied on first use.

Every process that opens a database brings it to the newest revision: an empty database is
created, an older one migrated, one made by `create_all` before migrations existed is stamped
at the initial revision first. Two processes starting at once take turns: the upgrade runs
inside one transaction that holds a PostgreSQL advisory lock or SQLite's write lock
(BEGIN IMMEDIATE), and the second finds the work done.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
INITIAL_REVISION = "0001"
_SCHEMA_LOCK_KEY = 0x5A1A  # PostgreSQL advisory lock held while migrating


def migration_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built here rather than read from an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(migration_config()).get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS}"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for a database with no salam tables."""
    with engine.connect() as connection:
        return _revision_of(connection)


def upgrade_schema(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to `revision` (default the newest); returns the revision it was at."""
    target = head_revision() if revision == "head" else revision
    if current_revision(engine) == target:
        return target  # the usual case: one read, no lock
    # An engine of `models.engine` begins SQLite transactions in the mode this option names.
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")
    with writer.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
            )
        before = _revision_of(connection)
        config = migration_config(connection)
        _refuse_unknown(before)
        if _has_tables_made_by_create_all(connection):
            command.stamp(config, INITIAL_REVISION)
        if before != target:
            command.upgrade(config, target)
        return before


def _refuse_unknown(revision: str | None) -> None:
    """A database migrated by a newer salam cannot be used by this one."""
    known = {
        script.revision
        for script in ScriptDirectory.from_config(migration_config()).walk_revisions()
    }
    if revision is not None and revision not in known:
        raise RuntimeError(
            f"the database is at schema revision {revision}, newer than this salam knows "
            f"(newest {head_revision()}): install the salam that migrated it"
        )


def _revision_of(connection: Connection) -> str | None:
    """The stamped revision; a database made by `create_all` holds the initial schema."""
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None and _has_tables_made_by_create_all(connection):
        return INITIAL_REVISION
    return revision


def _has_tables_made_by_create_all(connection: Connection) -> bool:
    tables = inspect(connection).get_table_names()
    return "runs" in tables and "alembic_version" not in tables


def new_revision(message: str) -> Path:
    """Write the next migration, generated from the difference between the newest revision
    and the tables in `models` (compared in a scratch SQLite file); returns its path."""
    import tempfile

    from sqlalchemy import create_engine

    number = f"{int(head_revision()) + 1:04d}"
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/schema.db")
        upgrade_schema(engine)
        with engine.begin() as connection:
            script = command.revision(
                migration_config(connection), message=message, autogenerate=True, rev_id=number
            )
        engine.dispose()
    assert script is not None and not isinstance(script, list), "one new revision expected"
    return Path(script.path)
