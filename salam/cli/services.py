"""`salam worker` and `salam flower`: the long-running processes of the job system."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from salam.errors import ConfigError
from salam.settings import get_settings

GENERATED_FLOWER_USER = "salam"

WORKER_EPILOG = """\
The same worker without salam's wrapper:
  celery -A workers.app worker -Q llm -c 1
  celery -A workers.app worker -Q assistant -c 1
Settings (broker, database, backends) come from SALAM_* variables in both cases.
Several model workers on one machine: give each its share of the cores with
OMP_NUM_THREADS (e.g. 1 each for two workers on two cores)."""


def register(subcommands: Any) -> None:
    _register_worker(subcommands)
    _register_flower(subcommands)


def _register_worker(subcommands: Any) -> None:
    worker = subcommands.add_parser(
        "worker",
        help="start a Celery worker for some queues",
        epilog=WORKER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument(
        "--queues",
        default="llm,assistant",
        help="comma-separated: llm, assistant, finetune (default llm,assistant)",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="pool processes (each loads its own model; default 1)",
    )
    worker.add_argument("--pool", choices=("prefork", "solo", "threads"), default="prefork")
    worker.add_argument("--name", help="node name (default: the queues)")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(handler=worker_command)


def _register_flower(subcommands: Any) -> None:
    flower = subcommands.add_parser(
        "flower",
        help="Flower, the Celery web monitor, on the same broker",
        description="Every page, the API (/api/...) and /metrics ask for a login: "
        "SALAM_FLOWER_USER and SALAM_FLOWER_PASSWORD, or, without them, a password made "
        "for this run and printed once. Queue lengths: /api/queues/length.",
    )
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1", help="listen address")
    flower.set_defaults(handler=flower_command)


def worker_command(args: argparse.Namespace) -> int:
    from workers.processes import worker_command as celery_worker
    from workers.queues import parse_queue_names

    try:
        queues = parse_queue_names(args.queues)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {args.concurrency}")
    command = celery_worker(
        queues, concurrency=args.concurrency, pool=args.pool, name=args.name, loglevel=args.loglevel
    )
    os.execv(command[0], command)
    return 0  # not reached


def flower_command(args: argparse.Namespace) -> int:
    user, password = _flower_login()
    environment = dict(os.environ)
    # Without a login Flower would open its API to any web page in a local browser.
    environment.pop("FLOWER_UNAUTHENTICATED_API", None)
    # Through the environment, not argv, so the password does not show in `ps`.
    environment["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    command = [
        sys.executable,
        "-m",
        "salam.cli.flower_server",
        "-A",
        "workers.app",
        "flower",
        f"--port={args.port}",
        f"--address={args.address}",
    ]
    os.execve(command[0], command, environment)
    return 0  # not reached


def _flower_login() -> tuple[str, str]:
    """The configured login, or one made for this run and printed once."""
    settings = get_settings()
    user, password = settings.flower_user, settings.flower_password
    if bool(user) != bool(password):
        raise ConfigError("set both SALAM_FLOWER_USER and SALAM_FLOWER_PASSWORD, or neither")
    if user and password:
        if "," in user + password or ":" in user:
            raise ConfigError(
                "Flower reads a comma as the start of another login and a colon as the end "
                "of the user: use a user without either and a password without commas"
            )
        return user, password
    user, password = GENERATED_FLOWER_USER, secrets.token_urlsafe(18)
    print(
        f"Flower login for this run: user {user}, password {password} "
        "(set SALAM_FLOWER_USER and SALAM_FLOWER_PASSWORD for a lasting one)",
        file=sys.stderr,
        flush=True,
    )
    return user, password
