"""The rows a mistake memory is built from: the feedback analyses of gather runs (with their
guidelines and stored embeddings) and the questions answered right on the first try.

Callers pass the ids they already hold; new rows are found by set difference rather than by
"id greater than the last seen", because on PostgreSQL ids do not commit in order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.tables import Analysis, Attempt, Guideline, Question, saved_id


@dataclass(frozen=True)
class StoredMistake:
    analysis_id: int
    question: Question
    answer: str | None  # the option extracted from the model's output, if any
    output: str
    guideline: str | None
    embedding: bytes | None = None
    dim: int | None = None
    embedder_id: str | None = None


def new_mistakes(
    *, session: Session, run_ids: Sequence[int], known_ids: Collection[int]
) -> list[StoredMistake]:
    """Feedback analyses of these runs whose ids are not in `known_ids`, oldest first."""
    ids = session.exec(
        select(Analysis.id).where(col(Analysis.run_id).in_(run_ids), Analysis.mode == "feedback")
    ).all()
    fresh = sorted(i for i in ids if i is not None and i not in known_ids)
    if not fresh:
        return []
    rows = session.exec(
        select(Analysis, Question, Attempt, Guideline)
        .join(Question, col(Question.id) == Analysis.question_id)
        .join(Attempt, col(Attempt.id) == Analysis.attempt_id)
        .outerjoin(Guideline, col(Guideline.analysis_id) == Analysis.id)
        .where(col(Analysis.id).in_(fresh))
        .order_by(col(Analysis.id))
    ).all()
    return [
        StoredMistake(
            analysis_id=saved_id(analysis),
            question=question,
            answer=attempt.answer,
            output=attempt.output,
            guideline=analysis.guideline,
            embedding=guideline.embedding if guideline else None,
            dim=guideline.dim if guideline else None,
            embedder_id=guideline.embedder_id if guideline else None,
        )
        for analysis, question, attempt, guideline in rows
    ]


def new_first_try_correct(
    *, session: Session, run_ids: Sequence[int], known_ids: Collection[int]
) -> list[tuple[int, Question]]:
    """(attempt id, question) of first attempts answered right, not in `known_ids`."""
    ids = session.exec(
        select(Attempt.id).where(
            col(Attempt.run_id).in_(run_ids),
            Attempt.iteration == 0,
            col(Attempt.correct).is_(True),
        )
    ).all()
    fresh = sorted(i for i in ids if i is not None and i not in known_ids)
    if not fresh:
        return []
    rows = session.exec(
        select(Attempt.id, Question)
        .join(Question, col(Question.id) == Attempt.question_id)
        .where(col(Attempt.id).in_(fresh))
        .order_by(col(Attempt.id))
    ).all()
    return [(int(attempt_id or 0), question) for attempt_id, question in rows]
