"""How a chunk task runs, fails and gives up, so that no run is left stuck and no passing
failure becomes a final one.

- A transient error (server overloaded or unreachable, database or broker down) retries the
  chunk with exponential backoff until a time budget (`SALAM_RETRY_BUDGET`) is spent.
- Any other error, or a spent budget, settles the chunk's pending questions as failed and
  records why (an errored Attempt or Analysis), so `salam submit --resume N --retry-failed`
  can try them again. When that write itself fails, the chunk is retried later instead: a
  chunk is never acknowledged with its failure unwritten.
- A chunk delivered more than `SALAM_MAX_REDELIVERIES` times (its worker died each time) is
  settled as failed with that reason instead of being run again.
- Follow-ups are published with retries over the same budget, never dropped.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import kombu.exceptions
import redis
import sqlalchemy.exc
from celery import Task

from models import (
    QUESTION_FAILED,
    QUESTION_PENDING,
    Analysis,
    Attempt,
    get_attempts,
    get_questions,
    record_analyses,
    record_attempts,
    saved_id,
    session_scope,
    settle_questions,
)
from salam.errors import TransientBackendError
from salam.lifecycle import BACKEND_FAILURE
from salam.masking import mask_urls_in
from salam.settings import Settings, get_settings
from workers.app import app
from workers.queues import ANALYZE_TASK, ANSWER_TASK, FollowUp

log = logging.getLogger(__name__)

# Worth another go later: a busy or unreachable server, database or broker.
TRANSIENT_ERRORS = (
    TransientBackendError,
    ConnectionError,
    TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    kombu.exceptions.OperationalError,
    redis.ConnectionError,
)
DELIVERY_COUNT_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class RetryBudget:
    """Exponential backoff (`first_delay_s`, doubling, at most `max_delay_s`) for as long as
    the waits add up to less than `seconds`."""

    seconds: float
    first_delay_s: float = 2.0
    max_delay_s: float = 60.0

    def delay(self, retries: int) -> float | None:
        """The wait before retry number `retries + 1`; None once the budget is spent."""
        spent = sum(self._step(n) for n in range(retries))
        if spent >= self.seconds:
            return None
        return min(self._step(retries), self.seconds - spent)

    def _step(self, n: int) -> float:
        return float(min(self.first_delay_s * 2**n, self.max_delay_s))

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryBudget:
        return cls(float(settings.retry_budget))


def run_chunk(task: Task, step: Callable[..., list[FollowUp]], args: Sequence[Any]) -> None:
    """Run one chunk step as the module docstring says."""
    settings = get_settings()
    deliveries = _count_delivery(task)
    if deliveries > settings.max_redeliveries:
        reason = f"delivered {deliveries} times: its worker died each time it ran this chunk"
        give_up(task, args, reason)
        return
    try:
        follow_ups = step(*args)
    except TRANSIENT_ERRORS as exc:
        delay = RetryBudget.from_settings(settings).delay(task.request.retries)
        if delay is not None:
            log.warning("%s: %s; retrying in %.0f s", task.name, _describe(exc), delay)
            raise task.retry(exc=exc, countdown=_jittered(delay), max_retries=None) from exc
        give_up(task, args, f"still failing after {settings.retry_budget} s: {_describe(exc)}")
        return
    except Exception as exc:
        give_up(task, args, _describe(exc))
        raise
    publish(follow_ups, budget_s=settings.retry_budget)


def give_up(task: Task, args: Sequence[Any], reason: str) -> None:
    """Settle the chunk's pending questions as failed with `reason`; when that cannot be
    written, retry the chunk later rather than acknowledge it."""
    log.error("%s %s gave up on %s: %s", task.name, task.request.id, list(args), reason)
    try:
        fail_chunk(task.name, args, reason)
    except TRANSIENT_ERRORS as exc:
        delay = RetryBudget.from_settings(get_settings()).max_delay_s
        log.error("%s: could not record the failure (%s); retrying", task.name, _describe(exc))
        raise task.retry(exc=exc, countdown=delay, max_retries=None) from exc


def fail_chunk(task_name: str, args: Sequence[Any], reason: str) -> int:
    """Record why each pending question of the chunk failed (an errored Attempt for an
    answer chunk, a failed Analysis for an analyze chunk) and settle it as failed; returns
    how many questions changed."""
    run_id, ids = int(args[0]), [int(item) for item in args[1]]
    with session_scope(write=True) as session:
        if task_name == ANALYZE_TASK:
            attempts = get_attempts(session=session, attempt_ids=ids)
            record_analyses(
                session=session, analyses=[_failed_analysis(a, reason) for a in attempts]
            )
            ids = [attempt.question_id for attempt in attempts]
        elif task_name == ANSWER_TASK:
            pending = [
                saved_id(q)
                for q in get_questions(session=session, question_ids=ids)
                if q.status == QUESTION_PENDING
            ]
            failed = [_failed_attempt(run_id, q, int(args[2]), reason) for q in pending]
            record_attempts(session=session, attempts=failed)
        return settle_questions(
            session=session, run_id=run_id, outcomes=dict.fromkeys(ids, QUESTION_FAILED)
        )


def publish(follow_ups: Sequence[FollowUp], *, budget_s: float) -> None:
    """Send the follow-ups, retrying a broker that does not answer for up to `budget_s`."""
    policy = {
        "max_retries": max(1, int(budget_s // 30)),
        "interval_start": 1,
        "interval_step": 5,
        "interval_max": 30,
    }
    for follow_up in follow_ups:
        app.send_task(
            follow_up.task,
            args=list(follow_up.args),
            retry=True,
            retry_policy=policy,
            ignore_result=True,
        )


def _count_delivery(task: Task) -> int:
    """How many times this message (this retry of this task) has been delivered. A
    redelivery after a worker died keeps the task id and the retry count."""
    key = f"salam:deliveries:{task.request.id}:{task.request.retries}"
    try:
        client = broker_client()
        count = int(client.incr(key))
        client.expire(key, DELIVERY_COUNT_TTL_S)
    except (redis.RedisError, ValueError) as exc:
        log.warning("could not count deliveries of %s: %s", task.request.id, _describe(exc))
        return 1
    return count


def broker_client() -> redis.Redis:
    """A Redis client on the broker, one per process."""
    from workers import resources

    url = str(app.conf.broker_url)
    return resources.cached(f"redis:{url}", lambda: redis.Redis.from_url(url, socket_timeout=10))


def _failed_attempt(run_id: int, question_id: int, iteration: int, reason: str) -> Attempt:
    return Attempt(
        run_id=run_id,
        question_id=question_id,
        iteration=iteration,
        prompt="",
        output="",
        error=reason,
    )


def _failed_analysis(attempt: Attempt, reason: str) -> Analysis:
    return Analysis(
        run_id=attempt.run_id,
        question_id=attempt.question_id,
        attempt_id=attempt.id,
        iteration=attempt.iteration,
        mode="feedback",
        prompt="",
        output="",
        failure=BACKEND_FAILURE,
        detail=reason,
    )


def _jittered(delay: float) -> float:
    # Chunks that failed together should not all come back in the same second.
    return delay * random.uniform(0.75, 1.25)


def _describe(exc: BaseException) -> str:
    return mask_urls_in(f"{type(exc).__name__}: {exc}")
