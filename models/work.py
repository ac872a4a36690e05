"""What the workers write: attempts, analyses, guidelines, traces. Every write is idempotent."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from models.idempotent import insert_missing
from models.tables import Analysis, Attempt, Guideline, Question, Trace


def record_attempts(*, session: Session, attempts: Sequence[Attempt]) -> dict[int, int]:
    """Store attempts; one already stored for its (run, question, iteration) is kept as is.
    Returns the new attempt ids by question id (those just inserted)."""
    inserted = insert_missing(session, attempts, returning=("question_id",))
    return {int(question_id): int(attempt_id) for attempt_id, question_id in inserted}


def record_analyses(*, session: Session, analyses: Sequence[Analysis]) -> None:
    """Store analyses; one already stored for its attempt (or question and mode) is kept."""
    insert_missing(session, analyses)


def record_guidelines(*, session: Session, guidelines: Sequence[Guideline]) -> None:
    """Store guidelines; an Analysis has at most one."""
    insert_missing(session, guidelines)


def record_traces(*, session: Session, traces: Sequence[Trace]) -> None:
    """Store traces; an Analysis has at most one."""
    insert_missing(session, traces)


def attempts_at(
    *, session: Session, run_id: int, question_ids: Sequence[int], iteration: int
) -> dict[int, Attempt]:
    """The stored attempts of these questions at this iteration, by question id."""
    if not question_ids:
        return {}
    rows = session.exec(
        select(Attempt).where(
            Attempt.run_id == run_id,
            col(Attempt.question_id).in_(question_ids),
            Attempt.iteration == iteration,
        )
    ).all()
    return {row.question_id: row for row in rows}


def questions_with_attempts(
    *, session: Session, question_ids: Sequence[int], iteration: int
) -> list[tuple[Question, Attempt | None]]:
    """Each question (in the order of `question_ids`) with its attempt at this iteration, if
    one is stored: one query for what `get_questions` and `attempts_at` read together."""
    if not question_ids:
        return []
    rows = session.exec(
        select(Question, Attempt)
        .outerjoin(
            Attempt,
            (col(Attempt.question_id) == Question.id) & (col(Attempt.iteration) == iteration),
        )
        .where(col(Question.id).in_(question_ids))
    ).all()
    by_id = {question.id: (question, attempt) for question, attempt in rows}
    return [by_id[question_id] for question_id in question_ids if question_id in by_id]


def get_attempts(*, session: Session, attempt_ids: Sequence[int]) -> list[Attempt]:
    """The attempts in the order of `attempt_ids` (missing ids are left out)."""
    if not attempt_ids:
        return []
    rows = session.exec(select(Attempt).where(col(Attempt.id).in_(attempt_ids))).all()
    by_id = {row.id: row for row in rows}
    return [by_id[attempt_id] for attempt_id in attempt_ids if attempt_id in by_id]


def analyses_at(
    *, session: Session, question_ids: Sequence[int], iteration: int, mode: str
) -> dict[int, Analysis]:
    """The stored analyses of these questions at this iteration and mode, by question id."""
    if not question_ids:
        return {}
    rows = session.exec(
        select(Analysis).where(
            col(Analysis.question_id).in_(question_ids),
            Analysis.iteration == iteration,
            Analysis.mode == mode,
        )
    ).all()
    return {row.question_id: row for row in rows}


def guidelines_of(*, session: Session, analysis_ids: Sequence[int]) -> dict[int, Guideline]:
    if not analysis_ids:
        return {}
    rows = session.exec(select(Guideline).where(col(Guideline.analysis_id).in_(analysis_ids))).all()
    return {row.analysis_id: row for row in rows}


def analyses_of_attempts(*, session: Session, attempt_ids: Sequence[int]) -> dict[int, Analysis]:
    """The stored feedback analyses of these attempts, by attempt id."""
    if not attempt_ids:
        return {}
    rows = session.exec(select(Analysis).where(col(Analysis.attempt_id).in_(attempt_ids))).all()
    return {int(row.attempt_id): row for row in rows if row.attempt_id is not None}
