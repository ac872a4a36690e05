"""Queue and task names, the routes between them, and queue lengths as Redis keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kombu.entity import Queue

LLM_QUEUE = "llm"
ASSISTANT_QUEUE = "assistant"
FINETUNE_QUEUE = "finetune"
QUEUES = (LLM_QUEUE, ASSISTANT_QUEUE, FINETUNE_QUEUE)

ANSWER_TASK = "salam.answer"
ANALYZE_TASK = "salam.analyze"
PREDICT_TASK = "salam.predict"
# The tasks that carry (run id, ids...) of questions; their messages name the run first.
CHUNK_TASKS = (ANSWER_TASK, ANALYZE_TASK, PREDICT_TASK)
WATCHDOG_TASK = "salam.watchdog"
BATCH_TASK = "salam.batch_examples"
FINETUNE_TASK = "salam.finetune"

ROUTES = {
    ANSWER_TASK: {"queue": LLM_QUEUE},
    ANALYZE_TASK: {"queue": ASSISTANT_QUEUE},
    PREDICT_TASK: {"queue": ASSISTANT_QUEUE},
    # The batching tick takes milliseconds and must not wait behind a training job of an hour
    # on `finetune`. `llm` is the queue every deployment serves (no run moves without it), so
    # the tick always runs; behind a long backlog of chunks it runs late, which only delays a
    # batch, and piled-up ticks are harmless: a claim with too few free examples does nothing.
    BATCH_TASK: {"queue": LLM_QUEUE},
    # The same reasoning: a tick of milliseconds, on the queue every deployment serves.
    WATCHDOG_TASK: {"queue": LLM_QUEUE},
    FINETUNE_TASK: {"queue": FINETUNE_QUEUE},
}


@dataclass(frozen=True)
class FollowUp:
    """The next task a step asks for, published by the Celery task after its writes commit."""

    task: str
    args: tuple[Any, ...]


def declared_queues() -> tuple[Queue, ...]:
    return tuple(Queue(name, routing_key=name) for name in QUEUES)


def parse_queue_names(text: str) -> list[str]:
    """'llm,assistant' -> ['llm', 'assistant']; unknown names raise ValueError."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise ValueError(
            f"unknown queue {', '.join(unknown) or '(none given)'}: choose from {', '.join(QUEUES)}"
        )
    return names


def queue_lengths(redis_client: object, names: Sequence[str] = QUEUES) -> dict[str, int]:
    """Messages waiting per queue (not those a worker holds unacknowledged).

    Kombu keeps a Redis queue as a list named after it, with one extra list per priority
    step when priorities are used; all of them are counted.
    """
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    separator = Channel.sep
    pipeline = redis_client.pipeline()  # type: ignore[attr-defined]
    for name in names:
        for step in PRIORITY_STEPS:
            pipeline.llen(f"{name}{separator}{step}" if step else name)
    counts = iter(pipeline.execute())
    return {name: sum(next(counts) for _ in PRIORITY_STEPS) for name in names}
