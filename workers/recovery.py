"""Getting a run moving again.

`resume` (`salam submit --resume RUN`, and the watchdog) requeues only what is unfinished,
each question at its next step as `salam.lifecycle` reads it from what was written; with
`retry_failed`, questions that failed (a server or the database gave out) are reopened first.
Work still in a queue may be done twice; its rows are not (every write is idempotent).

`find_stuck_runs` / `watch_runs` (beat's `salam.watchdog`, and `salam status`): a run is stuck
when it is running, the broker holds no chunk of it, and nothing was written for it for
`SALAM_STALL_MINUTES`; chunks held unacknowledged by a worker that died are handed back first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis

from models import (
    PendingQuestion,
    Run,
    get_run,
    last_write_at,
    pending_questions,
    reopen_failed,
    running_runs,
    saved_id,
    session_scope,
    settle_questions,
)
from salam.errors import ConfigError
from salam.lifecycle import BACKEND_FAILURE, RunRules, next_step
from salam.settings import Settings
from workers.inflight import orphaned, requeue, runs_in_flight, unacked_chunks
from workers.publishing import publish_analyses, publish_answers, publish_predictions

log = logging.getLogger(__name__)


@dataclass
class ResumePlan:
    """What each pending question needs next."""

    answers: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    analyses: list[int] = field(default_factory=list)  # attempt ids
    predictions: list[int] = field(default_factory=list)  # question ids
    settle: dict[int, str] = field(default_factory=dict)  # question id -> final state
    reopened: int = 0  # failed questions put back to pending first

    @property
    def requeued(self) -> int:
        answers = sum(len(ids) for ids in self.answers.values())
        return answers + len(self.analyses) + len(self.predictions)


def plan_resume(run: Run, pending: Sequence[PendingQuestion]) -> ResumePlan:
    plan = ResumePlan()
    rules = RunRules.of(run.mode, run.max_iterations, run.strategy)
    for question in pending:
        _plan_question(rules, question, plan)
    return plan


def _plan_question(rules: RunRules, question: PendingQuestion, plan: ResumePlan) -> None:
    attempt = question.last_attempt
    step = next_step(rules, attempt, question.last_analysis, foreseen=question.foreseen)
    if step.action == "settle":
        plan.settle[question.question_id] = step.state
    elif step.action == "predict":
        plan.predictions.append(question.question_id)
    elif step.action == "analyze":
        assert attempt is not None, "only an answered question is analysed"
        plan.analyses.append(saved_id(attempt))
    else:
        plan.answers[step.iteration].append(question.question_id)


def resume(run_id: int, chunk_size: int, *, retry_failed: bool = False) -> ResumePlan:
    """Settle what is already decided, requeue the rest; returns the plan carried out."""
    with session_scope(write=True) as session:
        run = get_run(session=session, run_id=run_id)
        if run is None:
            raise ConfigError(f"there is no run {run_id}")
        reopened = (
            reopen_failed(session=session, run_id=run_id, backend_failure=BACKEND_FAILURE)
            if retry_failed
            else 0
        )
        plan = plan_resume(run, pending_questions(session=session, run_id=run_id))
        plan.reopened = reopened
        settle_questions(session=session, run_id=run_id, outcomes=plan.settle)
    for iteration, question_ids in sorted(plan.answers.items()):
        publish_answers(run_id, question_ids, iteration, chunk_size)
    if plan.analyses:
        publish_analyses(run_id, plan.analyses, chunk_size)
    if plan.predictions:
        publish_predictions(run_id, plan.predictions, chunk_size)
    return plan


@dataclass(frozen=True)
class StuckRun:
    run_id: int
    idle_minutes: float

    def describe(self) -> str:
        return (
            f"run {self.run_id} is stuck: nothing queued or running for it and no write for "
            f"{self.idle_minutes:.0f} min; `salam submit --resume {self.run_id}` requeues it"
        )


def find_stuck_runs(client: redis.Redis, *, stall_minutes: float) -> list[StuckRun]:
    """Running runs that the broker holds no chunk of and that have not moved for
    `stall_minutes`."""
    in_flight = runs_in_flight(client)
    now = datetime.now(timezone.utc)
    stuck = []
    with session_scope() as session:
        for run in running_runs(session=session):
            run_id = saved_id(run)
            if run_id in in_flight:
                continue
            idle = (now - last_write_at(session=session, run_id=run_id)).total_seconds() / 60
            if idle >= stall_minutes:
                stuck.append(StuckRun(run_id, idle))
    return stuck


def hand_back_orphans(
    client: redis.Redis, live_task_ids: Collection[str], older_than_s: float
) -> int:
    """Requeue chunks held unacknowledged by no live worker; returns how many."""
    chunks = orphaned(unacked_chunks(client), live_task_ids, older_than_s=older_than_s)
    requeued = sum(requeue(client, chunk) for chunk in chunks)
    for chunk in chunks:
        log.warning(
            "handed back chunk %s of run %s: its worker is gone", chunk.task_id, chunk.run_id
        )
    return requeued


def watch_runs(
    client: redis.Redis, live_task_ids: Collection[str] | None, settings: Settings
) -> list[StuckRun]:
    """One watchdog tick: hand back orphaned chunks (when the live workers are known), then
    resume every stuck run. Returns the runs resumed."""
    if live_task_ids is not None:
        hand_back_orphans(client, live_task_ids, older_than_s=60 * settings.stall_minutes)
    stuck = find_stuck_runs(client, stall_minutes=settings.stall_minutes)
    for run in stuck:
        plan = resume(run.run_id, settings.chunk_size)
        log.warning("%s; resumed: requeued %d questions", run.describe(), plan.requeued)
    return stuck
