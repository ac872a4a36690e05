"""A fine-tuning job's states, each change one conditional UPDATE.

Only the newest attempt of a running job may write its progress or its end: a write names
the attempt it belongs to and changes nothing when another attempt has started since, or
when the job was cancelled. A job that fails or is cancelled hands its examples back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.tables import utcnow
from models.training_tables import (
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    FinetuneJob,
    TrainingExample,
)


def get_job(*, session: Session, job_id: int) -> FinetuneJob | None:
    return session.get(FinetuneJob, job_id)


def latest_jobs(*, session: Session, limit: int = 20) -> list[FinetuneJob]:
    query = select(FinetuneJob).order_by(col(FinetuneJob.id).desc()).limit(limit)
    return list(session.exec(query).all())


def start_job(*, session: Session, job_id: int, base_model: str) -> int | None:
    """queued → running on `base_model`, or running → running again (its last worker died);
    returns the new attempt number, or None when the job has ended (or does not exist)."""
    now = utcnow()
    started = session.execute(
        update(FinetuneJob)
        .where(
            col(FinetuneJob.id) == job_id,
            col(FinetuneJob.status).in_((JOB_QUEUED, JOB_RUNNING)),
        )
        .values(
            status=JOB_RUNNING,
            base_model=base_model,
            attempt=col(FinetuneJob.attempt) + 1,
            step=0,
            total_steps=None,
            loss=None,
            started_at=now,
            updated_at=now,
        )
        .returning(col(FinetuneJob.attempt))
        .execution_options(synchronize_session=False)
    ).first()
    return int(started[0]) if started else None


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int | None = None
    loss: float | None = None


def record_progress(*, session: Session, job_id: int, attempt: int, progress: Progress) -> bool:
    """Store the step and loss; False when this attempt no longer owns the job."""
    return _change_running(
        session,
        job_id,
        attempt,
        step=progress.step,
        total_steps=progress.total_steps,
        loss=progress.loss,
        updated_at=utcnow(),
    )


@dataclass(frozen=True)
class JobResult:
    adapter_path: str
    metrics: dict[str, Any]
    trained_tokens: int
    log_path: str | None
    decision: str


def complete_job(*, session: Session, job_id: int, attempt: int, result: JobResult) -> bool:
    """running → succeeded with what the training produced; False when this attempt no
    longer owns the job (then nothing is written)."""
    now = utcnow()
    return _change_running(
        session,
        job_id,
        attempt,
        status=JOB_SUCCEEDED,
        adapter_path=result.adapter_path,
        metrics=result.metrics,
        trained_tokens=result.trained_tokens,
        log_path=result.log_path,
        decision=result.decision,
        updated_at=now,
        finished_at=now,
    )


def fail_job(*, session: Session, job_id: int, error: str, attempt: int | None = None) -> bool:
    """→ failed with the error, examples handed back. With `attempt`, only if that attempt
    still owns the running job; without, from queued or running. False if nothing changed."""
    owner = () if attempt is None else (col(FinetuneJob.attempt) == attempt,)
    return _end(session, job_id, JOB_FAILED, error, owner)


def cancel_job(*, session: Session, job_id: int) -> bool:
    """queued or running → cancelled, examples handed back; a running attempt finds out at
    its next progress write and stops. False when the job had already ended."""
    return _end(session, job_id, JOB_CANCELLED, None, ())


def _end(
    session: Session, job_id: int, status: str, error: str | None, owner: Sequence[Any]
) -> bool:
    now = utcnow()
    result = session.execute(
        update(FinetuneJob)
        .where(
            col(FinetuneJob.id) == job_id,
            col(FinetuneJob.status).in_((JOB_QUEUED, JOB_RUNNING)),
            *owner,
        )
        .values(status=status, error=error, updated_at=now, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if _changed(result) == 0:
        return False
    release_examples(session=session, job_id=job_id)
    return True


def release_examples(*, session: Session, job_id: int) -> int:
    """Hand a job's examples back for the next claim; returns how many."""
    result = session.execute(
        update(TrainingExample)
        .where(col(TrainingExample.finetune_job_id) == job_id)
        .values(finetune_job_id=None)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def _change_running(session: Session, job_id: int, attempt: int, **values: Any) -> bool:
    result = session.execute(
        update(FinetuneJob)
        .where(
            col(FinetuneJob.id) == job_id,
            col(FinetuneJob.status) == JOB_RUNNING,
            col(FinetuneJob.attempt) == attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


def _changed(result: object) -> int:
    return max(int(getattr(result, "rowcount", 0)), 0)
