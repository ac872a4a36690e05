"""Where each unfinished question of a run stands, read from what was written (for resume)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.tables import QUESTION_PENDING, Analysis, Attempt, Question


@dataclass(frozen=True)
class PendingQuestion:
    """A question without a final state and the last things written for it."""

    question_id: int
    last_attempt: Attempt | None
    last_analysis: Analysis | None  # feedback analysis of `last_attempt`
    foreseen: bool  # an agent-mode analysis exists


def pending_questions(*, session: Session, run_id: int) -> list[PendingQuestion]:
    rows = session.exec(
        select(Question.id)
        .where(Question.run_id == run_id, Question.status == QUESTION_PENDING)
        .order_by(col(Question.id))
    ).all()
    ids = [question_id for question_id in rows if question_id is not None]
    if not ids:
        return []
    last_attempts: dict[int, Attempt] = {}
    for attempt in session.exec(
        select(Attempt).where(Attempt.run_id == run_id, col(Attempt.question_id).in_(ids))
    ).all():
        known = last_attempts.get(attempt.question_id)
        if known is None or attempt.iteration > known.iteration:
            last_attempts[attempt.question_id] = attempt
    analyses = session.exec(select(Analysis).where(col(Analysis.question_id).in_(ids))).all()
    foreseen = {analysis.question_id for analysis in analyses if analysis.mode == "agent"}
    by_attempt = {analysis.attempt_id: analysis for analysis in analyses if analysis.attempt_id}
    return [
        PendingQuestion(
            question_id=question_id,
            last_attempt=last_attempts.get(question_id),
            last_analysis=_analysis_of(last_attempts.get(question_id), by_attempt),
            foreseen=question_id in foreseen,
        )
        for question_id in ids
    ]


def _analysis_of(attempt: Attempt | None, by_attempt: dict[int, Analysis]) -> Analysis | None:
    return by_attempt.get(attempt.id) if attempt is not None and attempt.id else None
