"""`salam worker` and `salam flower`: the long-running processes of the job system."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any

from salam.errors import ConfigError
from salam.settings import get_settings

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
        description="Basic auth from SALAM_FLOWER_USER and SALAM_FLOWER_PASSWORD. Queue "
        "lengths: /api/queues/length.",
    )
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1", help="listen address")
    flower.add_argument(
        "--no-auth", action="store_true", help="no login (only on a loopback address)"
    )
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
    settings = get_settings()
    environment = dict(os.environ)
    if args.no_auth:
        if not _is_loopback(args.address):
            raise ConfigError("--no-auth is only allowed on a loopback address")
        environment["FLOWER_UNAUTHENTICATED_API"] = "true"
    elif settings.flower_user and settings.flower_password:
        if "," in settings.flower_user + settings.flower_password:
            raise ConfigError(
                "Flower reads a comma as the start of another login: "
                "use a user and password without commas"
            )
        # Through the environment, not argv, so the password does not show in `ps`.
        environment["FLOWER_BASIC_AUTH"] = f"{settings.flower_user}:{settings.flower_password}"
    else:
        raise ConfigError(
            "Flower needs a login: set SALAM_FLOWER_USER and SALAM_FLOWER_PASSWORD "
            "(or --no-auth on a loopback address)"
        )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "flower",
        f"--port={args.port}",
        f"--address={args.address}",
    ]
    os.execve(command[0], command, environment)
    return 0  # not reached


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
