"""`salam doctor`: is every service this configuration needs up?"""

from __future__ import annotations

import argparse

from salam.cli.arguments import Subcommands
from salam.settings import get_settings


def register(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "doctor",
        help="check broker, database, LLM endpoints, embedder and data folder",
        description="Check each service the current SALAM_* settings point at and print a "
        "table. Exits 1 when something needed is down.",
    )
    parser.add_argument(
        "--encode", action="store_true", help="also load the embedder and embed one sentence"
    )
    parser.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from salam.doctor import format_checks, run_checks

    rows = run_checks(get_settings(), encode=args.encode)
    print(format_checks(rows))
    return 1 if any(not row.ok and row.required for row in rows) else 0
