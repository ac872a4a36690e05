"""`salam run`: the whole job on one machine with nothing else installed.

A private Redis (unless SALAM_BROKER_URL is set), SQLite in the output folder (unless
SALAM_DATABASE_URL is set), a worker process for each queue and beat; gather on the train
split, fine-tune the study assistant on the feedback that worked (when there is enough),
examine the test split under each strategy, print the table, write the plot; everything it
started is stopped again, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from salam.cli.arguments import (
    Subcommands,
    add_dataset_arguments,
    add_output_argument,
    dataset_split,
)
from salam.cli.run_learning import learn_from_gather
from salam.cli.run_services import check_services, private_redis, start_services
from salam.errors import ConfigError
from salam.settings import Settings, get_settings

if TYPE_CHECKING:
    from salam.data import Split
    from salam.strategies import Strategy

# Per task. The exam is cheap and its size is what lets a difference be read: 30 test
# questions per task (120 on the 4 generated tasks). The gather costs a study-assistant call
# per mistake, so it keeps 30 train questions per task: about ten minutes on two CPU cores.
DEFAULT_LIMIT = 150
DEFAULT_TRAIN_LIMIT = 30
# The embedded job's own budgets, where the user set none: a fine-tuning job of a dozen
# steps (a minute or two on a CPU), started from a handful of examples so the loop can close.
RUN_DEFAULTS: dict[str, object] = {
    "finetune_min_examples": 4,
    "finetune_max_steps": 12,
    "finetune_grad_accumulation": 1,
    "finetune_eval_generations": 2,
}


def register(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "run",
        help="the whole job here: private Redis, SQLite, workers; gather, examine, report",
        description="Start a private Redis (unless SALAM_BROKER_URL is set) and two workers, "
        "gather mistakes on the train split, examine the test split under each strategy, "
        "print the table and write the plot; then stop everything.",
    )
    add_dataset_arguments(parser)
    parser.set_defaults(limit=DEFAULT_LIMIT)
    parser.add_argument(
        "--strategies",
        default="none,feedback",
        help="comma-separated exam strategies (default none,feedback)",
    )
    add_output_argument(parser, "the database, logs, results.json and accuracy.png")
    parser.add_argument("--chunk-size", type=int, help="questions per task (SALAM_CHUNK_SIZE)")
    parser.add_argument(
        "--train-limit",
        type=int,
        default=DEFAULT_TRAIN_LIMIT,
        help=f"gather on at most N train questions per task (default {DEFAULT_TRAIN_LIMIT}); the "
        "exam takes the whole test split",
    )
    parser.add_argument(
        "--sa-max-new-tokens",
        type=int,
        help="cap on the study assistant's output (default SALAM_SA_MAX_NEW_TOKENS, 512 as the "
        "paper; its JSON is sampled under a grammar and mostly ends under 100 tokens)",
    )
    parser.add_argument("--verbose", action="store_true", help="per-task accuracies too")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from models import use_database
    from salam.cli.progress import report_failures
    from salam.data import Split, first_per_task
    from salam.strategies import parse_strategies

    settings = get_settings()
    strategies = parse_strategies(args.strategies)
    split = dataset_split(args, settings)  # bad data fails here, before anything starts
    if args.train_limit < 1:
        raise ConfigError(f"--train-limit must be at least 1, got {args.train_limit}")
    split = Split(first_per_task(split.train, args.train_limit), split.test)
    if not split.train or not split.test:
        raise ConfigError("the dataset split has an empty train or test part: raise --limit")
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    database = settings.database_url or f"sqlite:///{(output / 'salam.db').resolve()}"
    use_database(database)
    started = time.perf_counter()
    _stop_on_sigterm()
    with ExitStack() as stack:
        broker = settings.broker_url or private_redis(stack, output)
        run_settings = _embedded_settings(args, settings, broker, database, output)
        services = start_services(stack, run_settings, output, _service_env(run_settings))
        run_ids, learned = _gather_learn_examine(
            args, run_settings, split, strategies, check=lambda: check_services(services)
        )
    _report(args, run_ids, learned, time.perf_counter() - started)
    return report_failures(run_ids)


def _embedded_settings(
    args: argparse.Namespace, settings: Settings, broker: str, database: str, output: Path
) -> Settings:
    """The settings every process of this run shares: this broker and database, and the
    budgets that keep the embedded job near ten minutes unless set otherwise."""
    update: dict[str, object] = {
        "broker_url": broker,
        "database_url": database,
        "sa_max_new_tokens": _assistant_tokens(args, settings),
        "finetune_dir": settings.finetune_dir or output / "finetune",
    }
    for name, value in RUN_DEFAULTS.items():
        if name not in settings.model_fields_set:
            update[name] = value
    return settings.model_copy(update=update)


def _service_env(settings: Settings) -> dict[str, str]:
    names = ["broker_url", "database_url", "sa_max_new_tokens", "finetune_dir", *RUN_DEFAULTS]
    env = {f"SALAM_{name.upper()}": str(getattr(settings, name)) for name in names}
    return {**env, "HF_HUB_OFFLINE": "1"}


def _assistant_tokens(args: argparse.Namespace, settings: Settings) -> int:
    if args.sa_max_new_tokens is not None:
        return int(args.sa_max_new_tokens)
    return settings.sa_max_new_tokens


def _gather_learn_examine(
    args: argparse.Namespace,
    settings: Settings,
    split: Split,
    strategies: list[Strategy],
    *,
    check: Callable[[], None],
) -> tuple[list[int], str]:
    from producers.submit import Submission, submit_questions
    from salam.strategies import needs_memory

    chunk_size = args.chunk_size
    gather = Submission(args.dataset, split="train", mode="gather", chunk_size=chunk_size)
    gather_id = submit_questions(gather, split.train, settings)
    _wait([gather_id], args.quiet, check)
    learned = learn_from_gather(settings, gather_id, quiet=args.quiet, check=check)
    exams = [
        Submission(
            args.dataset,
            split="test",
            mode="exam",
            strategy=strategy,
            memory_from=(gather_id,) if needs_memory(strategy) else (),
            chunk_size=chunk_size,
        )
        for strategy in strategies
    ]
    exam_ids = [submit_questions(exam, split.test, settings) for exam in exams]
    _wait(exam_ids, args.quiet, check)
    return [gather_id, *exam_ids], learned


def _wait(run_ids: list[int], quiet: bool, check: Callable[[], None]) -> None:
    from salam.cli.progress import follow_runs

    follow_runs(run_ids, quiet=quiet, check=check)


def _report(args: argparse.Namespace, run_ids: list[int], learned: str, seconds: float) -> None:
    from producers.results import run_scores
    from salam.report import format_table, paired_comparisons, plot_scores

    gather_id, exam_ids = run_ids[0], run_ids[1:]
    gather_rows = run_scores([gather_id])
    rows = run_scores(exam_ids)
    title = f"{args.dataset}: test split by strategy"
    print(_describe_gather(gather_id))
    print(learned)
    print(format_table(rows, verbose=args.verbose))
    plot_path = args.output / "accuracy.png"
    plot_scores(rows, plot_path, title=title)
    document = {
        "dataset": args.dataset,
        "runs": {"gather": gather_id, "exams": exam_ids},
        "seconds": round(seconds, 1),
        "gather": [row.to_dict() for row in gather_rows],
        "imitation_learning": learned,
        "strategies": [row.to_dict() for row in rows],
        "comparisons": [c.to_dict() for c in paired_comparisons(rows)],
    }
    results_path = args.output / "results.json"
    results_path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    if not args.quiet:
        print(f"{seconds:.0f} s; wrote {results_path} and {plot_path}", file=sys.stderr)


def _describe_gather(run_id: int) -> str:
    from models import get_run, run_activity, session_scope

    with session_scope() as session:
        run = get_run(session=session, run_id=run_id)
        activity = run_activity(session=session, run_id=run_id)
    assert run is not None
    return (
        f"gather (run {run_id}): {run.total} questions, {activity.analyses} mistakes analysed, "
        f"{activity.guidelines} guidelines, {activity.successful_traces}/{activity.retries} "
        f"retries right"
    )


def _stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the workers and Redis are stopped on the way out."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
