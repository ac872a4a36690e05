"""Runs scored per task, for the paper-style table: exam runs by their final states, gather
runs by their first tries and by where their retries left them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from models import (
    QUESTION_CORRECT,
    Run,
    final_outcomes,
    first_try_outcomes,
    get_runs,
    saved_id,
    session_scope,
)
from salam.errors import ConfigError
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
            final = final_outcomes(session=session, run_id=run_id)
            if run.mode == "gather":
                first = first_try_outcomes(session=session, run_id=run_id)
                rows.append(score_by_task(f"{label}: first try", *_columns(first)))
                label = f"{label}: after retries"
            rows.append(
                score_by_task(
                    label,
                    [task for task, _ in final],
                    [state == QUESTION_CORRECT for _, state in final],
                )
            )
    return rows


def run_labels(runs: Sequence[Run]) -> dict[int, str]:
    """The strategy (or 'gather'), with the run id where two runs would share a label."""
    names = {saved_id(run): "gather" if run.mode == "gather" else run.strategy for run in runs}
    repeated = {name for name, count in Counter(names.values()).items() if count > 1}
    return {
        run_id: f"{name} (run {run_id})" if name in repeated else name
        for run_id, name in names.items()
    }


def _columns(outcomes: Sequence[tuple[str, bool]]) -> tuple[list[str], list[bool]]:
    return [task for task, _ in outcomes], [correct for _, correct in outcomes]
