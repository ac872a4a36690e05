"""Arguments that several commands share, and the parsing of their values."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from salam.errors import ConfigError
from salam.settings import Settings

if TYPE_CHECKING:
    from salam.data import Split

# What `add_subparsers()` returns; each command module's `register` adds its parsers to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset",
        nargs="?",
        default="generated",
        help="a preset (bbh-salam, bbq-salam), a dataset name (see `salam datasets`) or a path "
        "to a file or folder (default: generated)",
    )
    parser.add_argument("--data-dir", type=Path, help="local benchmark folder (SALAM_DATA_DIR)")
    parser.add_argument("--limit", type=int, help="at most N questions per task")
    parser.add_argument("--tasks", help="comma-separated task names to keep")


def add_output_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("salam-output"),
        help=f"folder for {what} (default: salam-output)",
    )


def dataset_split(args: argparse.Namespace, settings: Settings) -> Split:
    """The train/test split of the dataset the arguments name; bad data raises DataError."""
    from salam.data import load_split

    return load_split(
        args.dataset,
        data_dir=args.data_dir,
        tasks=parse_tasks(args.tasks),
        limit=args.limit,
        seed=settings.seed,
    )


def parse_tasks(text: str | None) -> list[str] | None:
    """'a, b' -> ['a', 'b']; nothing given -> None (every task)."""
    if not text:
        return None
    return [task.strip() for task in text.split(",") if task.strip()]


def parse_run_ids(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"run ids are numbers separated by commas, not {text!r}") from None
