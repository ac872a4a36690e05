"""`INSERT ... ON CONFLICT DO NOTHING` for SQLite and PostgreSQL, so a redelivered write is a
no-op instead of an error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_missing(
    session: Session, rows: Sequence[SQLModel], *, returning: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Insert the rows (unsaved instances of one table) that violate no unique constraint.

    Returns (id, *returning columns) of each row inserted; rows already present (written
    by an earlier delivery of the same task) are left as they are and not returned.
    """
    if not rows:
        return []
    model = type(rows[0])
    assert all(type(row) is model for row in rows), "rows of one table at a time"
    table: Table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"idempotent inserts cover sqlite and postgresql, not {dialect}")
    columns = [table.c.id, *(table.c[name] for name in returning)]
    statement = insert(table).on_conflict_do_nothing().returning(*columns)
    # Dumped from the instances so Python-side defaults (timestamps, empty lists) are filled.
    values = [row.model_dump(exclude={"id"}) for row in rows]
    # Executed as many: compiled once and cached, sent as batched multi-row INSERTs.
    found = session.connection().execute(statement, values).all()
    return [tuple(row) for row in found]
