"""The Celery app. Every process that touches the broker imports this one configuration:
workers, producers (`salam submit`), beat and Flower, so they agree on the visibility timeout
and the queues.

    celery -A workers.app worker -Q llm -c 1
    celery -A workers.app worker -Q assistant -c 1
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from salam.settings import Settings, get_settings
from workers.queues import LLM_QUEUE, ROUTES, declared_queues
from workers.schedule import beat_schedule

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def broker_url(settings: Settings) -> str:
    return settings.broker_url or DEFAULT_BROKER_URL


def celery_config(settings: Settings) -> dict[str, Any]:
    broker = broker_url(settings)
    transport = {
        # Redis hands an unacknowledged message to another worker after this many seconds,
        # so it must outlast the longest task or a slow chunk would be answered twice.
        "visibility_timeout": settings.visibility_timeout,
        # Look for such messages every 10 s (kombu's default is every 100 s), so the chunk
        # of a killed worker comes back soon after the visibility timeout.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": broker,
        "result_backend": settings.result_backend or broker,
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_queues": declared_queues(),
        "task_default_queue": LLM_QUEUE,
        "task_routes": ROUTES,
        "task_create_missing_queues": False,
        # A chunk is acknowledged once written; a worker that dies mid-chunk hands it back.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        # Results live in the database; nothing waits on a Celery result.
        "task_ignore_result": True,
        # Task events cost a third of a chunk's time on small chunks. Off by default: Flower
        # switches them on in every worker while it runs (its --enable_events, on by default).
        "worker_send_task_events": False,
        "include": ["workers.tasks", "workers.training_tasks"],
        "beat_schedule": beat_schedule(settings),
    }


def make_app(settings: Settings) -> Celery:
    celery = Celery("salam")
    celery.config_from_object(celery_config(settings))
    return celery


def use_broker(broker: str, *, result_backend: str | None = None) -> None:
    """Point this process's app at another broker before it first connects (`salam run`)."""
    app.conf.update(broker_url=broker, result_backend=result_backend or broker)


app = make_app(get_settings())
