"""Alembic's environment: always run on a connection handed over by `models.schema`, inside
its transaction (which holds the lock that keeps two processes from migrating at once)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

# Imported for their side effect: they register the tables on SQLModel.metadata.
from models import tables, training_tables  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite changes most columns only by copying the table; batch mode does that for it.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
