"""Chunks of ids onto the queues. Called only after the rows they name are committed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import kombu.exceptions
import redis

from salam.errors import BrokerUnavailable
from workers.app import app
from workers.queues import ANALYZE_TASK, ANSWER_TASK, PREDICT_TASK

# How long a publisher keeps trying a broker that does not answer before it says so.
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.5, "interval_step": 1, "interval_max": 2}


def in_chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def publish_answers(run_id: int, question_ids: Sequence[int], iteration: int, size: int) -> int:
    return _publish(
        ANSWER_TASK, [(run_id, chunk, iteration) for chunk in in_chunks(question_ids, size)]
    )


def publish_predictions(run_id: int, question_ids: Sequence[int], size: int) -> int:
    return _publish(PREDICT_TASK, [(run_id, chunk) for chunk in in_chunks(question_ids, size)])


def publish_analyses(run_id: int, attempt_ids: Sequence[int], size: int) -> int:
    return _publish(ANALYZE_TASK, [(run_id, chunk) for chunk in in_chunks(attempt_ids, size)])


def _publish(task: str, argument_lists: Sequence[tuple[Any, ...]]) -> int:
    """Send the tasks over one broker connection; returns how many were sent."""
    if not argument_lists:
        return 0
    try:
        with app.producer_or_acquire() as producer:
            for arguments in argument_lists:
                app.send_task(
                    task,
                    args=list(arguments),
                    producer=producer,
                    retry=True,
                    retry_policy=PUBLISH_RETRY,
                    # Results live in the database; subscribing to one would also tie the
                    # publisher to the result backend.
                    ignore_result=True,
                )
    except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as err:
        raise BrokerUnavailable(f"cannot reach the broker {app.conf.broker_url} ({err})") from err
    return len(argument_lists)
