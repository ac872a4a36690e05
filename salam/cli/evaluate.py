"""`salam eval` and `salam datasets`: the method in one process, no queues."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from salam.cli.arguments import (
    Subcommands,
    add_dataset_arguments,
    add_output_argument,
    dataset_split,
)
from salam.settings import Settings, get_settings

if TYPE_CHECKING:
    from salam.evaluation import Models
    from salam.experiment import EvalReport
    from salam.strategies import Strategy


def register(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "eval",
        help="gather on the train split, examine the test split, print the table (in process)",
        description="Run SALAM in one process: answer the train split, let the study assistant "
        "analyse each mistake, keep its guidelines, then answer the test split under each "
        "strategy and print the paper-style table.",
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--strategies",
        default="none,feedback",
        help="comma-separated: none, correct, mistake, feedback, feedback_only, agent "
        "(default: none,feedback)",
    )
    parser.add_argument(
        "--iterations", type=int, help="retries of a mistake (SALAM_MAX_ITERATIONS)"
    )
    parser.add_argument(
        "--feedback-file",
        type=Path,
        action="append",
        help="use published feedback (the paper's format) as the memory instead of gathering; "
        "may be repeated",
    )
    add_output_argument(parser, "results.json and accuracy.png")
    parser.add_argument("--verbose", action="store_true", help="per-task accuracies too")
    parser.add_argument(
        "--no-constrain",
        action="store_true",
        help="let the main LLM answer freely instead of choosing an option",
    )
    parser.set_defaults(handler=run_eval)

    datasets = subcommands.add_parser("datasets", help="list the datasets and presets")
    datasets.set_defaults(handler=list_datasets)


def list_datasets(_args: argparse.Namespace) -> int:
    from salam.data import describe_datasets

    rows = describe_datasets()
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from producers.submit import recorded_settings
    from salam.cli.progress import tqdm_progress
    from salam.experiment import EvalOptions, evaluate
    from salam.feedback_file import published_entries
    from salam.memory import memory_from_settings
    from salam.strategies import parse_strategies

    settings = get_settings()
    strategies = parse_strategies(args.strategies)
    split = dataset_split(args, settings)  # bad data fails here, before any model loads
    published = published_entries(args.feedback_file or [])
    models = _models(settings, strategies, gather_needed=not published)
    report = evaluate(
        args.dataset,
        split,
        strategies,
        models,
        memory_from_settings(settings),
        published=published,
        options=EvalOptions(
            iterations=settings.max_iterations if args.iterations is None else args.iterations,
            chunk_size=settings.batch_size,
            constrain=settings.constrain_answers and not args.no_constrain,
        ),
        progress=tqdm_progress(args.quiet),
    )
    report.settings = recorded_settings(settings)
    _write(report, args.output, verbose=args.verbose, quiet=args.quiet)
    return 0


def _models(settings: Settings, strategies: list[Strategy], *, gather_needed: bool) -> Models:
    from salam.evaluation import Models
    from salam.llm import generation_params, make_llm

    needs_assistant = gather_needed or "agent" in strategies
    return Models(
        main=make_llm("main", settings),
        main_params=generation_params("main", settings),
        assistant=make_llm("sa", settings) if needs_assistant else None,
        assistant_params=generation_params("sa", settings) if needs_assistant else None,
    )


def _write(report: EvalReport, output: Path, *, verbose: bool, quiet: bool) -> None:
    print(report.table(verbose=verbose))
    output.mkdir(parents=True, exist_ok=True)
    report.plot(output / "accuracy.png")
    results = output / "results.json"
    results.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    if not quiet:
        print(f"wrote {results} and {output / 'accuracy.png'}", file=sys.stderr)
