"""The Celery configuration every process shares, and the task options, without a broker."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from salam.errors import BackendUnavailable, TransientBackendError
from salam.settings import Settings
from workers.app import celery_config, make_app
from workers.chunk_runs import TRANSIENT_ERRORS
from workers.queues import (
    ANALYZE_TASK,
    ANSWER_TASK,
    PREDICT_TASK,
    QUEUES,
    parse_queue_names,
    queue_lengths,
)
from workers.tasks import ChunkTask, analyze, answer, predict


def test_one_configuration_for_every_process() -> None:
    config = celery_config(Settings(broker_url="redis://broker:6379/2", visibility_timeout=9000))
    assert config["broker_url"] == config["result_backend"] == "redis://broker:6379/2"
    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    for options in ("broker_transport_options", "result_backend_transport_options"):
        assert config[options]["visibility_timeout"] == 9000
    assert [queue.name for queue in config["task_queues"]] == list(QUEUES)
    assert config["task_routes"][ANSWER_TASK] == {"queue": "llm"}
    assert config["task_routes"][ANALYZE_TASK] == config["task_routes"][PREDICT_TASK]
    assert config["task_routes"][ANALYZE_TASK] == {"queue": "assistant"}


def test_time_limits_come_from_settings() -> None:
    app = make_app(Settings(task_soft_time_limit=50, task_time_limit=60, visibility_timeout=90))
    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (50, 60)


def test_a_visibility_timeout_shorter_than_a_task_is_refused() -> None:
    with pytest.raises(ValidationError, match="SALAM_VISIBILITY_TIMEOUT"):
        Settings(task_time_limit=3600, visibility_timeout=60)


def test_chunk_tasks_retry_only_transient_errors() -> None:
    for task in (answer, analyze, predict):
        assert isinstance(task, ChunkTask)
    assert issubclass(BackendUnavailable, TransientBackendError)
    assert TransientBackendError in TRANSIENT_ERRORS and ConnectionError in TRANSIENT_ERRORS
    assert not any(issubclass(ValueError, kind) for kind in TRANSIENT_ERRORS)


def test_queue_names_are_checked() -> None:
    assert parse_queue_names("llm, assistant") == ["llm", "assistant"]
    with pytest.raises(ValueError, match="unknown queue"):
        parse_queue_names("llm,gpu")


class _FakePipeline:
    def __init__(self, lengths: dict[str, int]) -> None:
        self.lengths = lengths
        self.keys: list[str] = []

    def llen(self, key: str) -> None:
        self.keys.append(key)

    def execute(self) -> list[int]:
        return [self.lengths.get(key, 0) for key in self.keys]


class _FakeRedis:
    def __init__(self, lengths: dict[str, int]) -> None:
        self.lengths = lengths

    def pipeline(self) -> _FakePipeline:
        return _FakePipeline(self.lengths)


def test_queue_lengths_add_up_the_priority_lists() -> None:
    lengths = {"llm": 3, "llm\x06\x163": 2, "assistant": 1}
    assert queue_lengths(_FakeRedis(lengths)) == {"llm": 5, "assistant": 1, "finetune": 0}
