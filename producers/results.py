"""Runs scored per task, for the paper-style table: exam runs by their final states, gather
runs by their first tries and by where their retries left them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from models import (
    BASE_VERSION,
    QUESTION_CORRECT,
    Run,
    feedback_by_version,
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


def version_feedback_table(run_ids: Sequence[int]) -> str | None:
    """Feedback quality and retry success per study-assistant version in these runs; None
    when they hold no feedback (exam runs)."""
    with session_scope() as session:
        rows = feedback_by_version(
            session=session, run_ids=list(run_ids), base_version=BASE_VERSION
        )
    if not rows:
        return None
    lines = [f"{'assistant':<10} {'analyses':>8} {'guidelines':>10} {'retries right':>14}"]
    for row in rows:
        lines.append(
            f"{row.version:<10} {row.analyses:>8} "
            f"{row.guidelines:>4} ({100 * row.guideline_share:3.0f}%) "
            f"{row.retries_right:>4}/{row.retries:<4} ({100 * row.retry_success:3.0f}%)"
        )
    return "\n".join(lines)
