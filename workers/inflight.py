"""What the broker holds for each run: chunks waiting in a queue, and chunks delivered to a
worker but not yet acknowledged (running, prefetched, or waiting out a retry countdown).

Read straight from kombu's Redis layout: a list per queue (plus one per priority step), and
the `unacked` hash (delivery tag -> [message, exchange, routing key]) with the
`unacked_index` sorted set (delivery tag -> delivery time).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import kombu.exceptions
import redis
from celery import Celery

from workers.queues import CHUNK_TASKS, QUEUES

UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"


@dataclass(frozen=True)
class HeldChunk:
    """One chunk message the broker holds."""

    task_id: str
    task: str
    run_id: int
    queue: str
    delivery_tag: str | None = None  # set while delivered and unacknowledged
    delivered_at: float | None = None


def queued_chunks(client: redis.Redis) -> list[HeldChunk]:
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    found = []
    for queue in QUEUES:
        for step in PRIORITY_STEPS:
            key = f"{queue}{Channel.sep}{step}" if step else queue
            found.extend(_chunks(client.lrange(key, 0, -1), queue))
    return found


def unacked_chunks(client: redis.Redis) -> list[HeldChunk]:
    scored: list[tuple[Any, float]] = client.zrange(UNACKED_INDEX, 0, -1, withscores=True)  # type: ignore[assignment]
    delivered = dict(scored)
    found = []
    for tag, raw in client.hgetall(UNACKED).items():
        payload, _exchange, routing_key = json.loads(raw)
        for chunk in _chunks([json.dumps(payload)], str(routing_key)):
            name = tag.decode() if isinstance(tag, bytes) else str(tag)
            found.append(
                HeldChunk(
                    chunk.task_id, chunk.task, chunk.run_id, chunk.queue, name, delivered.get(tag)
                )
            )
    return found


def runs_in_flight(client: redis.Redis) -> set[int]:
    """Runs with at least one chunk queued or delivered and unacknowledged."""
    return {chunk.run_id for chunk in [*queued_chunks(client), *unacked_chunks(client)]}


def orphaned(
    chunks: Iterable[HeldChunk], live_task_ids: Collection[str], *, older_than_s: float
) -> list[HeldChunk]:
    """Unacknowledged chunks that no live worker holds, delivered over `older_than_s` ago:
    their worker died, and Redis would only hand them back after the visibility timeout."""
    cutoff = time.time() - older_than_s
    return [
        chunk
        for chunk in chunks
        if chunk.delivery_tag is not None
        and chunk.task_id not in live_task_ids
        and (chunk.delivered_at or 0.0) < cutoff
    ]


def requeue(client: redis.Redis, chunk: HeldChunk) -> bool:
    """Move an orphaned chunk from `unacked` back to the front of its queue, as kombu does
    after the visibility timeout; False when it was acknowledged or moved meanwhile."""
    assert chunk.delivery_tag is not None, "only a delivered chunk can be requeued"
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(UNACKED)  # type: ignore[no-untyped-call]
                raw = pipe.hget(UNACKED, chunk.delivery_tag)
                if raw is None:
                    pipe.unwatch()
                    return False
                payload, _exchange, routing_key = json.loads(raw)
                payload.setdefault("headers", {})["redelivered"] = True
                pipe.multi()
                pipe.hdel(UNACKED, chunk.delivery_tag)
                pipe.zrem(UNACKED_INDEX, chunk.delivery_tag)
                pipe.rpush(str(routing_key), json.dumps(payload))
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def _chunks(raw_messages: Iterable[bytes | str], queue: str) -> list[HeldChunk]:
    found = []
    for raw in raw_messages:
        message = json.loads(raw)
        headers: dict[str, Any] = message.get("headers") or {}
        if headers.get("task") not in CHUNK_TASKS:
            continue
        args = _arguments(message)
        if args and isinstance(args[0], int):
            found.append(HeldChunk(str(headers.get("id")), str(headers["task"]), args[0], queue))
    return found


def _arguments(message: dict[str, Any]) -> list[Any]:
    body = message.get("body", "")
    if (message.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    try:
        args, _kwargs, _embed = json.loads(body)
    except (ValueError, TypeError):
        return []
    return list(args)


def live_task_ids(app: Celery, timeout_s: float = 5.0) -> set[str] | None:
    """Ids of the tasks that live workers hold (running, prefetched, or scheduled for a
    retry); None when the question could not be asked (no broker)."""
    try:
        inspect = app.control.inspect(timeout=timeout_s)
        replies = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    except (OSError, kombu.exceptions.OperationalError):
        return None
    ids = set()
    for reply in replies:
        for tasks in (reply or {}).values():
            for task in tasks:
                ids.add(str(task.get("id") or (task.get("request") or {}).get("id")))
    return ids
