"""Training examples: one per successful trace, or imported; read back for export and jobs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.idempotent import insert_missing
from models.tables import Analysis, Question, Trace
from models.training_tables import TrainingExample


def trace_source(trace_id: int) -> str:
    return f"trace:{trace_id}"


def record_examples_of_traces(
    *, session: Session, analysis_ids: Sequence[int], prompt_version: str
) -> int:
    """An example for each successful trace of these analyses, in the caller's transaction
    (the one that writes the traces). One already stored is kept; returns how many are new."""
    if not analysis_ids:
        return 0
    rows = session.exec(
        select(Trace, Analysis, Question)
        .join(Analysis, col(Analysis.id) == Trace.analysis_id)
        .join(Question, col(Question.id) == Analysis.question_id)
        .where(col(Trace.analysis_id).in_(analysis_ids), col(Trace.successful).is_(True))
        .order_by(col(Trace.id))
    ).all()
    examples = [
        TrainingExample(
            prompt=analysis.prompt,
            completion=analysis.output,
            prompt_version=prompt_version,
            assistant_version=analysis.assistant_version,
            source=trace_source(int(trace.id or 0)),
            trace_id=trace.id,
            run_id=analysis.run_id,
            question=question.prompt,
            options=list(question.options),
            target=question.target,
        )
        for trace, analysis, question in rows
    ]
    return len(insert_missing(session, examples))


def add_examples(*, session: Session, examples: Sequence[TrainingExample]) -> int:
    """Store examples (imported ones); one whose source is already stored is kept as is.
    Returns how many are new."""
    return len(insert_missing(session, examples))


def get_examples(
    *, session: Session, run_id: int | None = None, job_id: int | None = None
) -> list[TrainingExample]:
    """Examples oldest first: all, those gathered by one run, or those one job claimed."""
    query = select(TrainingExample)
    if run_id is not None:
        query = query.where(TrainingExample.run_id == run_id)
    if job_id is not None:
        query = query.where(TrainingExample.finetune_job_id == job_id)
    return list(session.exec(query.order_by(col(TrainingExample.id))).all())


def jobs_training_on_run(*, session: Session, run_id: int) -> list[int]:
    """The fine-tuning jobs that hold examples gathered by `run_id`, oldest first."""
    job = col(TrainingExample.finetune_job_id)
    rows = session.exec(
        select(job).where(TrainingExample.run_id == run_id, job.is_not(None)).distinct()
    ).all()
    return sorted(int(row) for row in rows if row is not None)


def unclaimed_example_count(*, session: Session) -> int:
    return int(
        session.exec(
            select(func.count()).where(col(TrainingExample.finetune_job_id).is_(None))
        ).one()
    )
