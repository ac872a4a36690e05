"""What a worker needs to know of a run, read once per process: none of it changes once the
run is stored (its counts do, and are not part of it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from models import get_run
from salam.strategies import Strategy
from workers import resources


@dataclass(frozen=True)
class RunPlan:
    """What a worker needs to know of a run; none of it changes once the run is stored."""

    id: int
    mode: str
    strategy: Strategy
    memory_from: tuple[int, ...]
    max_iterations: int


def run_plan(session: Session, run_id: int) -> RunPlan | None:
    """The run's plan, read once per process (None for a run that does not exist)."""
    try:
        plan: RunPlan = resources.cached(f"run:{run_id}", lambda: _read_plan(session, run_id))
    except LookupError:
        return None
    return plan


def _read_plan(session: Session, run_id: int) -> RunPlan:
    run = get_run(session=session, run_id=run_id)
    if run is None:
        raise LookupError(f"no run {run_id}")
    strategy: Strategy = run.strategy  # type: ignore[assignment]
    return RunPlan(run_id, run.mode, strategy, tuple(run.memory_from), run.max_iterations)
