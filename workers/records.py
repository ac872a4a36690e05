"""Rows to the plain records the method works on (the edge between `models` and `salam`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from models import Analysis, Question, get_run
from salam.lifecycle import RunRules
from salam.pipeline import AnalysisResult
from salam.records import QuestionRecord
from salam.strategies import Strategy
from workers import resources


@dataclass(frozen=True)
class RunPlan:
    """What a worker needs to know of a run; none of it changes once the run is stored (its
    counts do, and are not part of it)."""

    id: int
    strategy: Strategy
    memory_from: tuple[int, ...]
    rules: RunRules


def run_plan(session: Session, run_id: int) -> RunPlan | None:
    """The run's plan, read once per process (None for a run that does not exist)."""
    try:
        return resources.cached(f"run:{run_id}", lambda: _read_plan(session, run_id))
    except LookupError:
        return None


def _read_plan(session: Session, run_id: int) -> RunPlan:
    run = get_run(session=session, run_id=run_id)
    if run is None:
        raise LookupError(f"no run {run_id}")
    strategy: Strategy = run.strategy  # type: ignore[assignment]
    rules = RunRules.of(run.mode, run.max_iterations, run.strategy)
    return RunPlan(run_id, strategy, tuple(run.memory_from), rules)


def question_record(row: Question) -> QuestionRecord:
    return QuestionRecord(
        id=row.qid,
        benchmark=row.benchmark,
        task=row.task,
        index=row.index,
        prompt=row.prompt,
        target=row.target,
        options=tuple(row.options),
        meta=dict(row.meta),
    )


def analysis_result(row: Analysis, question: Question) -> AnalysisResult:
    return AnalysisResult(
        question_id=question.qid,
        prompt=row.prompt,
        output=row.output,
        reason=row.reason,
        guideline=row.guideline,
        failure=row.failure,
        detail=row.detail,
    )
