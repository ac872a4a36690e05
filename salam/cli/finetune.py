"""`salam finetune list|status|run-now|promote|rollback|cancel`: the study assistant's
fine-tuning jobs and versions, against whatever broker and database the settings name."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from salam.cli.arguments import Subcommands
from salam.errors import ConfigError
from salam.llm.model_files import BUNDLED_NAME
from salam.settings import get_settings

if TYPE_CHECKING:
    from models import AssistantVersion, FinetuneJob


def register(subcommands: Subcommands) -> None:
    finetune = subcommands.add_parser(
        "finetune",
        help="fine-tuning jobs and versions of the study assistant (imitation learning)",
        description="Beat batches unclaimed training examples into jobs every "
        "SALAM_FINETUNE_INTERVAL seconds; a worker on the finetune queue trains each into a "
        "new study-assistant version, promoted when it beats the active one.",
    )
    actions = finetune.add_subparsers(dest="finetune_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="recent jobs and every version").set_defaults(
        handler=list_command
    )
    status = actions.add_parser("status", help="one job in detail, or where things stand")
    status.add_argument("job", nargs="?", type=int, help="job id")
    status.set_defaults(handler=status_command)
    run_now = actions.add_parser("run-now", help="batch the unclaimed examples into a job now")
    run_now.add_argument(
        "--min-examples", type=int, help="fewest examples for a job (SALAM_FINETUNE_MIN_EXAMPLES)"
    )
    run_now.set_defaults(handler=run_now_command)
    promote = actions.add_parser("promote", help="make a version the active study assistant")
    promote.add_argument("version", help="e.g. v3; v0 is the base model")
    promote.set_defaults(handler=promote_command)
    rollback = actions.add_parser("rollback", help="back to the version active before")
    rollback.set_defaults(handler=rollback_command)
    cancel = actions.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job", type=int, help="job id")
    cancel.set_defaults(handler=cancel_command)


def list_command(_args: argparse.Namespace) -> int:
    from models import latest_jobs, list_versions, session_scope

    with session_scope() as session:
        jobs = latest_jobs(session=session)
        versions = list_versions(session=session)
    print("jobs:" if jobs else "no fine-tuning jobs yet")
    for job in jobs:
        print(f"  {job_line(job)}")
    print("versions:" if versions else "versions: only v0, the base model")
    for version in versions:
        print(f"  {version_line(version)}")
    return 0


def status_command(args: argparse.Namespace) -> int:
    from models import get_job, session_scope

    if args.job is None:
        return _overview()
    with session_scope() as session:
        job = get_job(session=session, job_id=args.job)
    if job is None:
        raise ConfigError(f"there is no fine-tuning job {args.job}")
    for line in job_details(job):
        print(line)
    return 0


def _overview() -> int:
    from models import (
        JOB_QUEUED,
        JOB_RUNNING,
        active_version,
        latest_jobs,
        session_scope,
        unclaimed_example_count,
    )

    settings = get_settings()
    with session_scope() as session:
        active = active_version(session=session)
        unclaimed = unclaimed_example_count(session=session)
        jobs = [
            job for job in latest_jobs(session=session) if job.status in (JOB_QUEUED, JOB_RUNNING)
        ]
    print(f"study assistant: {active.name if active else 'v0 (the base model)'}")
    print(
        f"unclaimed training examples: {unclaimed} (a job needs "
        f"{settings.finetune_min_examples}, SALAM_FINETUNE_MIN_EXAMPLES)"
    )
    print("jobs in flight:" if jobs else "no job in flight")
    for job in jobs:
        print(f"  {job_line(job)}")
    return 0


def run_now_command(args: argparse.Namespace) -> int:
    from workers.batching import queue_batch

    settings = get_settings()
    minimum = settings.finetune_min_examples if args.min_examples is None else args.min_examples
    if minimum < 1:
        raise ConfigError(f"--min-examples must be at least 1, got {minimum}")
    claim = queue_batch(settings, minimum=minimum)
    if claim.job_id is None:
        print(
            f"{len(claim.example_ids)} unclaimed training examples, fewer than {minimum}: "
            "no job queued"
        )
        return 0
    print(f"queued fine-tuning job {claim.job_id} with {len(claim.example_ids)} examples")
    return 0


def promote_command(args: argparse.Namespace) -> int:
    from models import BASE_VERSION, activate_version, session_scope, use_base_model

    with session_scope(write=True) as session:
        if args.version == BASE_VERSION:
            use_base_model(session=session)
        else:
            try:
                activate_version(session=session, name=args.version)
            except LookupError as err:
                raise ConfigError(str(err)) from None
    print(f"the study assistant is now {args.version}")
    return 0


def rollback_command(_args: argparse.Namespace) -> int:
    from models import roll_back_version, session_scope

    with session_scope(write=True) as session:
        try:
            retired, active = roll_back_version(session=session)
        except LookupError as err:
            raise ConfigError(str(err)) from None
    now = active.name if active else "v0 (the base model)"
    print(f"retired {retired.name}; the study assistant is now {now}")
    return 0


def cancel_command(args: argparse.Namespace) -> int:
    from models import cancel_job, get_job, session_scope

    with session_scope(write=True) as session:
        cancelled = cancel_job(session=session, job_id=args.job)
        job = get_job(session=session, job_id=args.job)
    if job is None:
        raise ConfigError(f"there is no fine-tuning job {args.job}")
    if not cancelled:
        raise ConfigError(f"job {args.job} has already ended ({job.status})")
    print(f"cancelled job {args.job}; its examples are free for the next batch")
    return 0


def job_line(job: FinetuneJob) -> str:
    progress = f"step {job.step}" + (f"/{job.total_steps}" if job.total_steps else "")
    loss = f", loss {job.loss:.4f}" if job.loss is not None else ""
    return (
        f"job {job.id}  {job.status:<9}  {job.example_count} examples  {progress}{loss}  "
        f"created {job.created_at:%Y-%m-%d %H:%M:%S}"
    )


def job_details(job: FinetuneJob) -> list[str]:
    # None until a worker starts the job; "" is the bundled model
    base = "not started yet" if job.base_model is None else job.base_model or BUNDLED_NAME
    lines = [job_line(job), f"  base model: {base}"]
    if job.attempt > 1:
        lines.append(f"  attempt {job.attempt} (restarted after its worker died)")
    optional = (
        ("trained tokens", job.trained_tokens),
        ("adapter", job.adapter_path),
        ("training log", job.log_path),
        ("decision", job.decision),
        ("error", job.error),
    )
    lines += [f"  {label}: {value}" for label, value in optional if value is not None]
    lines += [f"  {name}: {_number(value)}" for name, value in sorted(job.metrics.items())]
    return lines


def version_line(version: AssistantVersion) -> str:
    state = "active" if version.active else ("retired" if version.retired_at else "")
    return (
        f"{version.name:<5} {state:<7} job {version.finetune_job_id}  {version.adapter_path}  "
        f"created {version.created_at:%Y-%m-%d %H:%M:%S}"
    )


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
