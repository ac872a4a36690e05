"""`salam submit`, `status` and `report`: runs of the job system from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from salam.cli.arguments import Subcommands, add_dataset_arguments, parse_run_ids, parse_tasks
from salam.errors import ConfigError
from salam.settings import get_settings

if TYPE_CHECKING:
    from models import Run


def register(subcommands: Subcommands) -> None:
    _register_submit(subcommands)
    status = subcommands.add_parser("status", help="a run's progress (or the latest runs)")
    status.add_argument("run", nargs="?", type=int, help="run id (default: list recent runs)")
    status.set_defaults(handler=status_command)

    report = subcommands.add_parser(
        "report", help="the paper-style table (min, max, mean accuracy over tasks) of runs"
    )
    report.add_argument("run", type=int, help="run id")
    report.add_argument(
        "--compare",
        type=int,
        nargs="+",
        default=[],
        metavar="RUN",
        help="more runs as rows of the same table",
    )
    report.add_argument("--plot", type=Path, help="also write a bar chart (PNG) here")
    report.add_argument("--verbose", action="store_true", help="per-task accuracies too")
    report.set_defaults(handler=report_command)

    watchdog = subcommands.add_parser(
        "watchdog",
        help="resume stuck runs now (beat does it every SALAM_WATCHDOG_INTERVAL seconds)",
        description="Hand back chunks held by workers that died, and resume every running run "
        "that the broker holds nothing of and that wrote nothing for SALAM_STALL_MINUTES.",
    )
    watchdog.set_defaults(handler=watchdog_command)


def _register_submit(subcommands: Subcommands) -> None:
    submit = subcommands.add_parser(
        "submit",
        help="queue a dataset split for the workers (gather mistakes, or examine)",
        description="Validate the dataset, store a run and its questions, and publish chunks "
        "of questions to the llm queue. Workers (`salam worker`) do the rest.",
    )
    add_dataset_arguments(submit)
    submit.add_argument(
        "--split",
        choices=("train", "test", "all"),
        default="all",
        help="which part of each task (the paper's 80/20 split; default all)",
    )
    submit.add_argument(
        "--mode",
        choices=("gather", "exam"),
        default="gather",
        help="gather: learn from mistakes; exam: answer with a strategy",
    )
    submit.add_argument(
        "--strategy",
        help="exam strategy: none, correct, mistake, feedback, feedback_only, agent (default none)",
    )
    submit.add_argument(
        "--memory-from", metavar="RUN[,RUN]", help="gather run(s) whose memory an exam reads"
    )
    submit.add_argument("--chunk-size", type=int, help="questions per task (SALAM_CHUNK_SIZE)")
    submit.add_argument(
        "--wait", action="store_true", help="show progress until the run finishes, then its table"
    )
    submit.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --wait: give up waiting (exit 1) after this long; the workers go on",
    )
    submit.add_argument(
        "--resume",
        type=int,
        metavar="RUN",
        help="requeue what RUN has not finished instead of submitting",
    )
    submit.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: also try again the questions that failed (a server, the database "
        "or the broker gave out)",
    )
    submit.set_defaults(handler=submit_command)


def submit_command(args: argparse.Namespace) -> int:
    from producers.submit import Submission, submit
    from workers.recovery import resume

    settings = get_settings()
    if args.retry_failed and args.resume is None:
        raise ConfigError("--retry-failed goes with --resume RUN")
    if args.timeout is not None and not args.wait:
        raise ConfigError("--timeout goes with --wait")
    if args.resume is not None:
        plan = resume(
            args.resume, args.chunk_size or settings.chunk_size, retry_failed=args.retry_failed
        )
        reopened = f", reopened {plan.reopened} failed" if args.retry_failed else ""
        print(
            f"run {args.resume}: requeued {plan.requeued} questions, "
            f"settled {len(plan.settle)} already decided{reopened}"
        )
        run_id = args.resume
    else:
        submission = Submission(
            dataset=args.dataset,
            split=args.split,
            mode=args.mode,
            strategy=args.strategy,
            memory_from=parse_run_ids(args.memory_from),
            limit=args.limit,
            tasks=tuple(tasks) if (tasks := parse_tasks(args.tasks)) else None,
            data_dir=args.data_dir,
            chunk_size=args.chunk_size,
        )
        run_id = submit(submission, settings)
        print(f"submitted run {run_id} ({submission.mode}, {args.dataset}, {submission.split})")
    if args.wait:
        return wait_and_report([run_id], quiet=args.quiet, timeout_s=args.timeout)
    return 0


def wait_and_report(run_ids: list[int], *, quiet: bool, timeout_s: float | None = None) -> int:
    """Follow the runs to the end, print their table and what failed; 1 when every question
    of a run failed (nothing in the table is the model's doing)."""
    from producers.results import run_scores
    from salam.cli.progress import follow_runs, report_failures
    from salam.report import format_table

    follow_runs(run_ids, quiet=quiet, timeout_s=timeout_s)
    print(format_table(run_scores(run_ids)))
    return report_failures(run_ids)


def status_command(args: argparse.Namespace) -> int:
    from models import RUN_RUNNING, get_run, latest_runs, run_activity, session_scope
    from salam.cli.progress import describe_queues

    with session_scope() as session:
        if args.run is None:
            for listed in latest_runs(session=session):
                print(_run_line(listed))
            return 0
        run = get_run(session=session, run_id=args.run)
        if run is None:
            raise ConfigError(f"there is no run {args.run}")
        activity = run_activity(session=session, run_id=args.run)
    print(_run_line(run))
    print(
        f"  attempts {activity.attempts} (retries {activity.retries}), analyses "
        f"{activity.analyses}, guidelines {activity.guidelines}, successful traces "
        f"{activity.successful_traces}"
    )
    if run.memory_from:
        print(f"  memory from run {', '.join(str(r) for r in run.memory_from)}")
    finished = f", finished {run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else ""
    print(f"  created {run.created_at:%Y-%m-%d %H:%M:%S}{finished}")
    print(f"  queues: {describe_queues()}")
    for line in _troubles(args.run, running=run.status == RUN_RUNNING):
        print(f"  {line}")
    return 0


def _troubles(run_id: int, *, running: bool) -> list[str]:
    """Why the run needs a hand: stuck (with the command that frees it), failed questions."""
    from producers.results import failure_notes

    lines = [note.describe() for note in failure_notes([run_id])]
    if running:
        lines.extend(_stuck_note(run_id))
    return lines


def _stuck_note(run_id: int) -> list[str]:
    import redis

    from workers.chunk_runs import broker_client
    from workers.recovery import find_stuck_runs

    try:
        stuck = find_stuck_runs(broker_client(), stall_minutes=get_settings().stall_minutes)
    except redis.RedisError as err:
        return [f"cannot tell whether it is stuck: the broker does not answer ({err})"]
    return [run.describe() for run in stuck if run.run_id == run_id]


def _run_line(run: Run) -> str:
    what = "gather" if run.mode == "gather" else f"exam {run.strategy}"
    return (
        f"run {run.id}  {run.status:<8}  {what:<20}  {run.dataset} ({run.split})  "
        f"{run.finished}/{run.total} finished: {run.correct} correct, {run.wrong} wrong, "
        f"{run.failed} failed"
    )


def report_command(args: argparse.Namespace) -> int:
    from producers.results import run_scores, version_feedback_table
    from salam.report import format_table, plot_scores

    run_ids = [args.run, *args.compare]
    rows = run_scores(run_ids)
    print(format_table(rows, verbose=args.verbose))
    by_version = version_feedback_table(run_ids)
    if by_version:
        print(f"\nstudy-assistant feedback by version\n{by_version}")
    if args.plot:
        plot_scores(rows, args.plot, title=f"runs {', '.join(str(r) for r in run_ids)}")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def watchdog_command(_args: argparse.Namespace) -> int:
    from workers.tasks import watchdog

    resumed = watchdog()
    print(f"resumed {len(resumed)} stuck runs" + (f": {resumed}" if resumed else ""))
    return 0
