"""`salam` command line: the composition root that wires commands to salam/, producers/,
workers/ and models/.

Each command module exposes `register(subcommands)`, which adds its parser and sets
`handler=<function(args) -> int>`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from salam import __version__
from salam.errors import SalamError


def build_parser() -> argparse.ArgumentParser:
    from salam.cli import db, doctor, evaluate, finetune, jobs, run_command, services, traces

    parser = argparse.ArgumentParser(
        prog="salam", description="LLMs that learn from their mistakes (SALAM) as a job system."
    )
    parser.add_argument("--version", action="version", version=f"salam {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (run_command, evaluate, jobs, traces, finetune, services, db, doctor):
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.ERROR if args.quiet else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except SalamError as err:
        print(f"salam: error: {err}", file=sys.stderr)
        return err.exit_code
    except ValidationError as err:
        print(f"salam: error: bad settings: {describe_setting_errors(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("salam: interrupted", file=sys.stderr)
        return 130


def describe_setting_errors(err: ValidationError) -> str:
    """'SALAM_CHUNK_SIZE: Input should be greater than or equal to 1; …' on one line."""
    parts = []
    for error in err.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        names = [f"SALAM_{str(part).upper()}" for part in error["loc"]]
        parts.append(f"{'.'.join(names)}: {message}" if names else message)
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
