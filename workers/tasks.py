"""The Celery tasks. Each takes ids, runs one step of `workers.answering` or
`workers.analyzing` (which read rows, call `salam.pipeline` and write results), then
publishes the follow-ups once those writes are committed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import kombu.exceptions
import sqlalchemy.exc
from celery import Task

from models import QUESTION_FAILED, get_attempts, session_scope, settle_questions
from salam.errors import TransientBackendError
from workers.analyzing import analyze_chunk, predict_chunk
from workers.answering import answer_chunk
from workers.app import app
from workers.queues import ANALYZE_TASK, ANSWER_TASK, PREDICT_TASK, FollowUp

log = logging.getLogger(__name__)

# Worth another go later: a busy or unreachable server, database or broker.
TRANSIENT_ERRORS = (
    TransientBackendError,
    ConnectionError,
    TimeoutError,
    sqlalchemy.exc.OperationalError,
    kombu.exceptions.OperationalError,
)


class ChunkTask(Task):
    """Retries transient errors with exponential backoff and jitter; any other failure, or
    the last retry's, settles the chunk's questions as failed."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        log.error("%s %s gave up on %s: %s", self.name, task_id, args, exc)
        try:
            fail_chunk(self.name, args)
        except Exception:
            log.exception("could not mark the questions of %s %s as failed", self.name, task_id)


def fail_chunk(task_name: str, args: Sequence[Any]) -> int:
    """Settle the chunk's pending questions as failed, so the run still finishes and the
    failure shows in its counts; returns how many changed."""
    run_id, ids = int(args[0]), [int(item) for item in args[1]]
    with session_scope(write=True) as session:
        if task_name == ANALYZE_TASK:
            ids = [
                attempt.question_id for attempt in get_attempts(session=session, attempt_ids=ids)
            ]
        return settle_questions(
            session=session, run_id=run_id, outcomes=dict.fromkeys(ids, QUESTION_FAILED)
        )


def publish(follow_ups: Sequence[FollowUp]) -> None:
    for follow_up in follow_ups:
        app.send_task(follow_up.task, args=list(follow_up.args))


@app.task(base=ChunkTask, name=ANSWER_TASK)
def answer(run_id: int, question_ids: list[int], iteration: int) -> None:
    publish(answer_chunk(run_id, question_ids, iteration))


@app.task(base=ChunkTask, name=ANALYZE_TASK)
def analyze(run_id: int, attempt_ids: list[int]) -> None:
    publish(analyze_chunk(run_id, attempt_ids))


@app.task(base=ChunkTask, name=PREDICT_TASK)
def predict(run_id: int, question_ids: list[int]) -> None:
    publish(predict_chunk(run_id, question_ids))
