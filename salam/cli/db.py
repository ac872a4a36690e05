"""`salam db upgrade|current|revision`: the database schema, as Alembic migrations.

Workers and commands upgrade the database themselves on first use; `salam db upgrade` does
it ahead of time (before starting many workers against a new database, say).
"""

from __future__ import annotations

import argparse

from salam.cli.arguments import Subcommands


def register(subcommands: Subcommands) -> None:
    database = subcommands.add_parser("db", help="the database schema: upgrade, current revision")
    actions = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    actions.add_parser(
        "upgrade", help="migrate the database (SALAM_DATABASE_URL) to the newest revision"
    ).set_defaults(handler=upgrade_command)
    actions.add_parser("current", help="the database's revision and the newest").set_defaults(
        handler=current_command
    )
    revision = actions.add_parser(
        "revision",
        help="(development) write the next migration from the changes to the tables in models/",
    )
    revision.add_argument("message", help="what the migration changes")
    revision.set_defaults(handler=revision_command)


def upgrade_command(_args: argparse.Namespace) -> int:
    from models import default_database_url
    from models.engine import make_engine
    from models.schema import head_revision, upgrade_schema

    engine = make_engine(default_database_url())
    try:
        before = upgrade_schema(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if before == head:
        print(f"the database is at the newest revision, {head}")
    else:
        print(f"upgraded the database from {before or 'empty'} to {head}")
    return 0


def current_command(_args: argparse.Namespace) -> int:
    from models import default_database_url
    from models.engine import make_engine
    from models.schema import current_revision, head_revision

    engine = make_engine(default_database_url())
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "newest" if current == head else f"newest is {head}; `salam db upgrade` migrates"
    print(f"{current or 'empty'} ({state})")
    return 0


def revision_command(args: argparse.Namespace) -> int:
    from models.schema import new_revision

    print(f"wrote {new_revision(args.message)}")
    return 0
