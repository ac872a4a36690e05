"""What recovering a run needs from the database: when it last moved, why its questions
failed, and reopening failed questions so they can be tried again."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from models.tables import (
    QUESTION_FAILED,
    QUESTION_PENDING,
    RUN_RUNNING,
    Analysis,
    Attempt,
    Question,
    Run,
    Trace,
)


def running_runs(*, session: Session) -> list[Run]:
    return list(session.exec(select(Run).where(Run.status == RUN_RUNNING)).all())


def last_write_at(*, session: Session, run_id: int) -> datetime:
    """When the run last moved: its newest attempt or analysis, else its creation."""
    times = [
        session.exec(select(func.max(Attempt.created_at)).where(Attempt.run_id == run_id)).one(),
        session.exec(select(func.max(Analysis.created_at)).where(Analysis.run_id == run_id)).one(),
        session.exec(select(Run.created_at).where(Run.id == run_id)).one(),
    ]
    return max(_aware(t) for t in times if t is not None)


def first_error(*, session: Session, run_id: int, backend_failure: str) -> str | None:
    """The first recorded reason a question of the run failed, if any was recorded
    (`backend_failure`: the `Analysis.failure` of a study assistant that gave no output)."""
    attempt = session.exec(
        select(Attempt.error)
        .where(Attempt.run_id == run_id, col(Attempt.error).is_not(None))
        .order_by(col(Attempt.id))
        .limit(1)
    ).first()
    if attempt:
        return attempt
    return session.exec(
        select(Analysis.detail)
        .where(Analysis.run_id == run_id, Analysis.failure == backend_failure)
        .order_by(col(Analysis.id))
        .limit(1)
    ).first()


def reopen_failed(*, session: Session, run_id: int, backend_failure: str) -> int:
    """Put the run's failed questions back to pending, with the errored attempts and the
    analyses that failed with `backend_failure` removed (records of a server failure, not of
    the model), so a resume asks again. Returns how many were reopened."""
    failed = list(
        session.exec(
            select(Question.id).where(Question.run_id == run_id, Question.status == QUESTION_FAILED)
        ).all()
    )
    if not failed:
        return 0
    session.execute(
        delete(Analysis).where(
            col(Analysis.question_id).in_(failed), col(Analysis.failure) == backend_failure
        )
    )
    errored = select(Attempt.id).where(
        col(Attempt.question_id).in_(failed), col(Attempt.error).is_not(None)
    )
    session.execute(delete(Trace).where(col(Trace.retry_attempt_id).in_(errored)))
    session.execute(delete(Attempt).where(col(Attempt.id).in_(errored)))
    session.execute(
        update(Question).where(col(Question.id).in_(failed)).values(status=QUESTION_PENDING)
    )
    session.execute(
        update(Run)
        .where(col(Run.id) == run_id)
        .values(
            failed=col(Run.failed) - len(failed),
            finished=col(Run.finished) - len(failed),
            status=RUN_RUNNING,
            finished_at=None,
        )
    )
    return len(failed)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
