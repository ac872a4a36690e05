"""Runs scored per task, for the paper-style table: exam runs by their final states, gather
runs by their first tries and by where their retries left them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from models import (
    QUESTION_CORRECT,
    Run,
    final_outcomes,
    first_error,
    first_try_outcomes,
    get_runs,
    saved_id,
    session_scope,
)
from salam.errors import ConfigError
from salam.lifecycle import BACKEND_FAILURE
from salam.report import StrategyScores, score_by_task


def run_scores(run_ids: Sequence[int]) -> list[StrategyScores]:
    with session_scope() as session:
        runs = get_runs(session=session, run_ids=list(run_ids))
        missing = set(run_ids) - {run.id for run in runs}
        if missing:
            raise ConfigError(f"there is no run {', '.join(str(m) for m in sorted(missing))}")
        labels = run_labels(runs)
        rows: list[StrategyScores] = []
        for run in runs:
            run_id, label = saved_id(run), labels[saved_id(run)]
            final = [
                (qid, task, state == QUESTION_CORRECT)
                for qid, task, state in final_outcomes(session=session, run_id=run_id)
            ]
            if run.mode == "gather":
                first = first_try_outcomes(session=session, run_id=run_id)
                rows.append(_row(f"{label}: first try", first))
                label = f"{label}: after retries"
            rows.append(_row(label, final))
    return rows


def run_labels(runs: Sequence[Run]) -> dict[int, str]:
    """The strategy (or 'gather'), with the run id where two runs would share a label."""
    names = {saved_id(run): "gather" if run.mode == "gather" else run.strategy for run in runs}
    repeated = {name for name, count in Counter(names.values()).items() if count > 1}
    return {
        run_id: f"{name} (run {run_id})" if name in repeated else name
        for run_id, name in names.items()
    }


def _row(label: str, outcomes: Sequence[tuple[str, str, bool]]) -> StrategyScores:
    """A table row from (question id, task, correct) triples; the ids pair exam runs of the
    same questions for the paired test."""
    keys = [qid for qid, _, _ in outcomes]
    tasks = [task for _, task, _ in outcomes]
    return score_by_task(label, tasks, [correct for _, _, correct in outcomes], keys)


@dataclass(frozen=True)
class FailureNote:
    """Questions of a run that failed, and the first reason recorded."""

    run_id: int
    failed: int
    total: int
    first_error: str | None

    @property
    def all_failed(self) -> bool:
        return self.failed == self.total > 0

    def describe(self) -> str:
        reason = f"; first error: {self.first_error}" if self.first_error else ""
        return (
            f"run {self.run_id}: {self.failed} of {self.total} questions failed{reason}; "
            f"`salam submit --resume {self.run_id} --retry-failed` tries them again"
        )


def failure_notes(run_ids: Sequence[int]) -> list[FailureNote]:
    """A note for each run with failed questions."""
    with session_scope() as session:
        return [
            FailureNote(
                saved_id(run),
                run.failed,
                run.total,
                first_error(session=session, run_id=saved_id(run), backend_failure=BACKEND_FAILURE),
            )
            for run in get_runs(session=session, run_ids=list(run_ids))
            if run.failed
        ]
