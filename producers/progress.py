"""Waiting for submitted runs: their counts, read from the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models import RUN_FINISHED, Run, get_runs, saved_id, session_scope
from salam.errors import ConfigError, WaitTimedOut


@dataclass(frozen=True)
class RunProgress:
    run_id: int
    mode: str
    strategy: str
    total: int
    finished: int
    correct: int
    wrong: int
    failed: int
    done: bool

    @classmethod
    def of(cls, run: Run) -> RunProgress:
        return cls(
            run_id=saved_id(run),
            mode=run.mode,
            strategy=run.strategy,
            total=run.total,
            finished=run.finished,
            correct=run.correct,
            wrong=run.wrong,
            failed=run.failed,
            done=run.status == RUN_FINISHED,
        )


def read_progress(run_ids: Sequence[int]) -> list[RunProgress]:
    with session_scope() as session:
        runs = get_runs(session=session, run_ids=list(run_ids))
    missing = set(run_ids) - {run.id for run in runs}
    if missing:
        raise ConfigError(f"there is no run {', '.join(str(m) for m in sorted(missing))}")
    return [RunProgress.of(run) for run in runs]


def wait_for_runs(
    run_ids: Sequence[int],
    *,
    show: Callable[[list[RunProgress]], None],
    interval_s: float = 1.0,
    check: Callable[[], None] = lambda: None,
    timeout_s: float | None = None,
) -> list[RunProgress]:
    """Poll until every run is finished, calling `show` on each poll and `check` (which may
    raise, e.g. when a worker died) between polls; past `timeout_s`, raise WaitTimedOut."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        progress = read_progress(run_ids)
        show(progress)
        if all(run.done for run in progress):
            return progress
        if deadline is not None and time.monotonic() > deadline:
            raise WaitTimedOut(_unfinished(progress, timeout_s or 0.0))
        check()
        time.sleep(interval_s)


def _unfinished(progress: Sequence[RunProgress], timeout_s: float) -> str:
    open_runs = [run for run in progress if not run.done]
    counts = ", ".join(f"run {r.run_id} {r.finished}/{r.total}" for r in open_runs)
    ids = " ".join(str(r.run_id) for r in open_runs)
    return (
        f"not finished after {timeout_s:.0f} s ({counts} settled); the workers go on: "
        f"`salam status {ids}` shows where it stands"
    )
