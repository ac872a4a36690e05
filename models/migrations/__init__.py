"""Alembic migrations of the schema, run by `models.schema` (no alembic.ini needed)."""
