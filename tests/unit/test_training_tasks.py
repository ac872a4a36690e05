"""Beat's batching entry, the routes of the imitation-learning tasks, and the batching tick
publishing a job only when it claimed one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from training_rows import imported_examples, training_database

from models import JOB_FAILED, get_job, session_scope, unclaimed_example_count
from salam.settings import Settings, get_settings
from workers import batching
from workers.app import app, celery_config
from workers.queues import BATCH_TASK, FINETUNE_QUEUE, FINETUNE_TASK, LLM_QUEUE, ROUTES
from workers.schedule import BATCH_ENTRY, beat_schedule
from workers.training_tasks import batch_examples, finetune


def test_beat_ticks_the_batcher_every_interval_and_zero_turns_it_off() -> None:
    entry = beat_schedule(Settings(finetune_interval=120))[BATCH_ENTRY]
    assert entry == {"task": BATCH_TASK, "schedule": 120.0}
    assert BATCH_ENTRY not in beat_schedule(Settings(finetune_interval=0))
    assert BATCH_ENTRY in celery_config(Settings())["beat_schedule"]


def test_the_tick_runs_on_an_always_served_queue_and_training_on_its_own() -> None:
    assert ROUTES[BATCH_TASK] == {"queue": LLM_QUEUE}
    assert ROUTES[FINETUNE_TASK] == {"queue": FINETUNE_QUEUE}
    assert "workers.training_tasks" in celery_config(Settings())["include"]
    # progress lives in the task's state, so this task keeps results though the app does not
    assert finetune.ignore_result is False and finetune.track_started is True
    assert app.conf.task_ignore_result is True


def test_batch_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="SALAM_FINETUNE_MIN_EXAMPLES"):
        Settings(finetune_min_examples=10, finetune_max_examples=5)


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from training_database(tmp_path, monkeypatch, SALAM_FINETUNE_MIN_EXAMPLES="3")


def test_the_tick_publishes_a_job_only_when_enough_examples_are_free(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args: sent.append((name, args)))
    imported_examples(url, 2)
    assert batch_examples() is None and sent == []
    imported_examples(url, 1, start=2)
    job_id = batch_examples()
    assert job_id is not None and sent == [(FINETUNE_TASK, [job_id])]


def test_a_job_whose_task_cannot_be_sent_fails_and_frees_its_examples(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(name: str, args: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broker_down)
    imported_examples(url, 3)
    with pytest.raises(ConnectionError):
        batching.queue_batch(get_settings())
    with session_scope() as session:
        job = get_job(session=session, job_id=1)
        free = unclaimed_example_count(session=session)
    assert job is not None and job.status == JOB_FAILED and free == 3
    assert job.error is not None and "broker down" in job.error
