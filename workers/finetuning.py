"""The `finetune` step: one job from start to end, as its table row says.

A delivery starts the job (queued → running) or restarts it (running: the worker that had it
died, and acks_late handed the message back); a job that has ended is left alone. The
attempt number each start gets is its claim on the job: progress and the end are written
only while no later attempt has started and nobody cancelled it, so an attempt that lost the
job stops at its next progress report. A job ends succeeded (a new assistant version, maybe
promoted) or failed (its examples go back for the next batch).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models import (
    JOB_FAILED,
    JOB_SUCCEEDED,
    AssistantVersion,
    JobResult,
    Progress,
    activate_version,
    active_version,
    add_version,
    complete_job,
    fail_job,
    get_examples,
    record_progress,
    session_scope,
    start_job,
)
from salam.errors import SalamError
from salam.settings import get_settings
from workers import training
from workers.promotion import Decision, decide

log = logging.getLogger(__name__)

# A job whose worker died this many times (out of memory, past the hard time limit) is failed
# rather than restarted again.
MAX_ATTEMPTS = 3
ERROR_CHARS = 2000
PROGRESS_EVERY_S = 2.0

Report = Callable[[dict[str, Any]], None]


class JobLost(Exception):
    """This attempt no longer owns its job: it was cancelled, or restarted elsewhere."""


def finetune_job(job_id: int, report: Report) -> str:
    """Run the job; returns its state as this attempt leaves it. `report` receives progress
    (the Celery task's state)."""
    base_model = get_settings().sa_model
    with session_scope(write=True) as session:
        attempt = start_job(session=session, job_id=job_id, base_model=base_model)
    if attempt is None:
        log.info("finetune job %s has ended or does not exist; nothing to do", job_id)
        return "ended"
    if attempt > MAX_ATTEMPTS:
        problem = f"started {MAX_ATTEMPTS} times and its worker died each time (out of memory?)"
        return _fail(job_id, attempt, problem)
    with session_scope() as session:
        examples = get_examples(session=session, job_id=job_id)
    if not examples:
        return _fail(job_id, attempt, "the job has no training examples")
    output_dir = attempt_folder(job_id, attempt)
    try:
        outcome = training.train_adapter(
            base_model, examples, output_dir, _progress_writer(job_id, attempt, report)
        )
    except Exception as err:
        if _fail(job_id, attempt, describe_error(err)) == "lost":
            return "lost"
        raise
    return _complete(job_id, attempt, base_model, outcome)


def attempt_folder(job_id: int, attempt: int) -> Path:
    """A fresh folder per attempt: a restarted job never trains over a dead one's files."""
    folder = get_settings().resolved_finetune_dir / f"job-{job_id}" / f"attempt-{attempt}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _progress_writer(
    job_id: int, attempt: int, report: Report, clock: Callable[[], float] = time.monotonic
) -> training.ProgressCallback:
    """Writes a training step's progress (a write transaction, and the task's state) at most
    every PROGRESS_EVERY_S seconds, and the last step always: a fast accelerator logs several
    steps a second. A cancelled job therefore stops within that time."""
    written_at = -math.inf

    def write(update: dict[str, float]) -> None:
        nonlocal written_at
        now = clock()
        last_step = update.get("step", 0) >= update.get("total_steps", math.inf)
        if now - written_at < PROGRESS_EVERY_S and not last_step:
            return
        written_at = now
        progress = Progress(
            step=int(update.get("step", 0)),
            total_steps=int(update["total_steps"]) if "total_steps" in update else None,
            loss=float(update["loss"]) if "loss" in update else None,
        )
        with session_scope(write=True) as session:
            owned = record_progress(
                session=session, job_id=job_id, attempt=attempt, progress=progress
            )
        if not owned:
            raise JobLost(f"finetune job {job_id}: attempt {attempt} was cancelled or replaced")
        try:
            report({"job_id": job_id, "attempt": attempt, **update})
        except Exception:  # the state shown in Flower is a nicety; training goes on without it
            log.warning("could not report the progress of finetune job %s", job_id, exc_info=True)

    return write


def _complete(job_id: int, attempt: int, base_model: str, outcome: training.TrainingOutcome) -> str:
    """Store the job's end, its version and, when the rule says so, activate the version; all
    in one transaction, and none of it if this attempt lost the job meanwhile."""
    with session_scope(write=True) as session:
        active = active_version(session=session)
        decision = _decision(outcome.metrics, active)
        result = JobResult(
            adapter_path=str(outcome.adapter_dir),
            metrics=outcome.metrics,
            trained_tokens=outcome.trained_tokens,
            log_path=str(outcome.log_path) if outcome.log_path else None,
            decision=decision.reason,
        )
        if not complete_job(session=session, job_id=job_id, attempt=attempt, result=result):
            return "lost"
        version = add_version(
            session=session,
            version=AssistantVersion(
                name=version_name(job_id),
                base_model=base_model,
                adapter_path=str(outcome.adapter_dir),
                finetune_job_id=job_id,
                metrics=outcome.metrics,
            ),
        )
        if decision.promote:
            activate_version(session=session, name=version.name)
    log.info("finetune job %s succeeded: %s", job_id, decision.reason)
    return JOB_SUCCEEDED


def version_name(job_id: int) -> str:
    """Versions are named after the job that made them: job 7 makes v7."""
    return f"v{job_id}"


def _decision(metrics: dict[str, Any], active: AssistantVersion | None) -> Decision:
    incumbent = (active.name, active.metrics) if active is not None else None
    return decide(metrics, incumbent, auto_promote=get_settings().finetune_auto_promote)


def _fail(job_id: int, attempt: int, error: str) -> str:
    with session_scope(write=True) as session:
        failed = fail_job(session=session, job_id=job_id, attempt=attempt, error=error)
    if failed:
        log.error("finetune job %s failed: %s", job_id, error)
    return JOB_FAILED if failed else "lost"


def describe_error(err: BaseException) -> str:
    """One line for the job's `error`: salam's own errors say it all, others get their type."""
    text = str(err) if isinstance(err, SalamError) else f"{type(err).__name__}: {err}"
    return text[:ERROR_CHARS]
