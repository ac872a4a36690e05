"""Runs and their questions: creation, final states with their counts, progress."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, update
from sqlmodel import Session, col, select

from models.tables import (
    FINAL_STATES,
    QUESTION_CORRECT,
    QUESTION_FAILED,
    QUESTION_PENDING,
    QUESTION_WRONG,
    RUN_FINISHED,
    Analysis,
    Attempt,
    Guideline,
    Question,
    Run,
    Trace,
    utcnow,
)

QUESTION_FIELDS = ("qid", "benchmark", "task", "index", "prompt", "options", "target", "meta")


def create_run(*, session: Session, run: Run, questions: Sequence[Mapping[str, Any]]) -> Run:
    """Store the run and its questions (in the caller's transaction); returns the run with id.

    Each question is a mapping of the Question columns in QUESTION_FIELDS (plain values are
    much cheaper than table instances for ten thousand questions).
    """
    run.total = len(questions)
    session.add(run)
    session.flush()
    values = [
        {field: question[field] for field in QUESTION_FIELDS}
        | {"run_id": run.id, "status": QUESTION_PENDING}
        for question in questions
    ]
    if values:
        session.connection().execute(insert(Question.__table__), values)  # type: ignore[attr-defined]
    return run


def get_run(*, session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def get_runs(*, session: Session, run_ids: Sequence[int]) -> list[Run]:
    runs = session.exec(select(Run).where(col(Run.id).in_(run_ids))).all()
    by_id = {run.id: run for run in runs}
    return [by_id[run_id] for run_id in run_ids if run_id in by_id]


def latest_runs(*, session: Session, limit: int = 20) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)).all())


def question_ids(*, session: Session, run_id: int, pending_only: bool = False) -> list[int]:
    query = select(Question.id).where(Question.run_id == run_id)
    if pending_only:
        query = query.where(Question.status == QUESTION_PENDING)
    rows = session.exec(query.order_by(col(Question.id))).all()
    return [question_id for question_id in rows if question_id is not None]


def get_questions(*, session: Session, question_ids: Sequence[int]) -> list[Question]:
    """The questions in the order of `question_ids` (missing ids are left out)."""
    rows = session.exec(select(Question).where(col(Question.id).in_(question_ids))).all()
    by_id = {row.id: row for row in rows}
    return [by_id[question_id] for question_id in question_ids if question_id in by_id]


def settle_questions(*, session: Session, run_id: int, outcomes: Mapping[int, str]) -> int:
    """Put questions in their final state and count them on the run, in the caller's
    transaction. Only questions still pending change, so a repeated call counts nothing
    twice. The run is marked finished when every question is final. Returns how many
    questions changed."""
    changed: Counter[str] = Counter()
    for state in FINAL_STATES:
        ids = sorted(question_id for question_id, final in outcomes.items() if final == state)
        if not ids:
            continue
        result = session.execute(
            update(Question)
            .where(
                col(Question.id).in_(ids),
                col(Question.run_id) == run_id,
                col(Question.status) == QUESTION_PENDING,
            )
            .values(status=state)
            .execution_options(synchronize_session=False)
        )
        changed[state] = max(int(getattr(result, "rowcount", 0)), 0)
    settled = sum(changed.values())
    if settled:
        # One statement, so the counts and the finished state move together under the row lock.
        now_done = col(Run.finished) + settled >= col(Run.total)
        session.execute(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(
                finished=col(Run.finished) + settled,
                correct=col(Run.correct) + changed[QUESTION_CORRECT],
                wrong=col(Run.wrong) + changed[QUESTION_WRONG],
                failed=col(Run.failed) + changed[QUESTION_FAILED],
                status=case((now_done, RUN_FINISHED), else_=col(Run.status)),
                finished_at=case(
                    (now_done & (col(Run.finished_at).is_(None)), utcnow()),
                    else_=col(Run.finished_at),
                ),
            )
            .execution_options(synchronize_session=False)
        )
    return settled


def finish_if_empty(*, session: Session, run_id: int) -> None:
    """A run with no questions is finished as soon as it exists."""
    session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.total) == 0, col(Run.status) != RUN_FINISHED)
        .values(status=RUN_FINISHED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class RunActivity:
    """What the workers have written for a run so far."""

    attempts: int
    retries: int
    analyses: int
    guidelines: int
    successful_traces: int


def run_activity(*, session: Session, run_id: int) -> RunActivity:
    def count(query: object) -> int:
        return int(session.exec(query).one())  # type: ignore[call-overload]

    return RunActivity(
        attempts=count(select(func.count()).where(Attempt.run_id == run_id)),
        retries=count(
            select(func.count()).where(Attempt.run_id == run_id, col(Attempt.iteration) > 0)
        ),
        analyses=count(select(func.count()).where(Analysis.run_id == run_id)),
        guidelines=count(select(func.count()).where(Guideline.run_id == run_id)),
        successful_traces=count(
            select(func.count())
            .select_from(Trace)
            .join(Analysis, col(Analysis.id) == Trace.analysis_id)
            .where(Analysis.run_id == run_id, col(Trace.successful).is_(True))
        ),
    )


def final_outcomes(*, session: Session, run_id: int) -> list[tuple[str, str, str]]:
    """(question id in its dataset, task, final state) of every question of the run that
    reached one."""
    rows = session.exec(
        select(Question.qid, Question.task, Question.status).where(
            Question.run_id == run_id, col(Question.status).in_(FINAL_STATES)
        )
    ).all()
    return [(qid, task, status) for qid, task, status in rows]


def first_try_outcomes(*, session: Session, run_id: int) -> list[tuple[str, str, bool]]:
    """(question id in its dataset, task, correct) of each question's first attempt: the
    model on its own."""
    rows = session.exec(
        select(Question.qid, Question.task, Attempt.correct)
        .join(Attempt, col(Attempt.question_id) == Question.id)
        .where(Attempt.run_id == run_id, Attempt.iteration == 0)
    ).all()
    return [(qid, task, bool(correct)) for qid, task, correct in rows]
