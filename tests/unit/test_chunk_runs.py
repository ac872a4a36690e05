"""How a chunk task retries, gives up and refuses a poison chunk (no broker, no database:
the task, the step and the failure write are stand-ins)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy.exc
from celery.exceptions import Retry

from salam.errors import BackendUnavailable
from workers import chunk_runs
from workers.chunk_runs import RetryBudget, run_chunk
from workers.queues import FollowUp


@dataclass
class FakeTask:
    retries: int = 0
    name: str = "salam.answer"
    retried: list[float] = field(default_factory=list)

    @property
    def request(self) -> SimpleNamespace:
        return SimpleNamespace(id="task-1", retries=self.retries)

    def retry(self, *, exc: BaseException, countdown: float, max_retries: None) -> Retry:
        self.retried.append(countdown)
        return Retry(exc=exc, when=countdown)


@pytest.fixture
def given_up(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Failures recorded by the chunk (instead of writing them); one delivery each."""
    recorded: list[tuple[str, str]] = []
    monkeypatch.setattr(
        chunk_runs, "fail_chunk", lambda name, args, reason: recorded.append((name, reason)) or 1
    )
    monkeypatch.setattr(chunk_runs, "_count_delivery", lambda task: 1)
    monkeypatch.setattr(chunk_runs, "publish", lambda follow_ups, budget_s: None)
    return recorded


def failing(exc: BaseException) -> Any:
    def step(*_args: object) -> list[FollowUp]:
        raise exc

    return step


def test_the_budget_doubles_waits_until_they_add_up_to_it() -> None:
    budget = RetryBudget(30, first_delay_s=2, max_delay_s=60)
    assert [budget.delay(n) for n in range(5)] == [2, 4, 8, 16, None]
    capped = RetryBudget(600, first_delay_s=2, max_delay_s=60)
    delays = [capped.delay(n) for n in range(20)]
    spent = [d for d in delays if d is not None]
    assert max(spent) == 60 and sum(spent) == pytest.approx(600)


def test_a_transient_error_is_retried_within_the_budget(given_up: list[tuple[str, str]]) -> None:
    task = FakeTask(retries=0)
    with pytest.raises(Retry):
        run_chunk(task, failing(BackendUnavailable("http://llm", "cannot connect")), (1, [2], 0))  # type: ignore[arg-type]
    assert len(task.retried) == 1 and 1.0 <= task.retried[0] <= 3.0
    assert given_up == []


def test_a_spent_budget_fails_the_chunk_with_the_reason(
    given_up: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALAM_RETRY_BUDGET", "10")
    chunk_runs.get_settings.cache_clear()
    try:
        run_chunk(FakeTask(retries=10), failing(ConnectionError("refused")), (1, [2], 0))  # type: ignore[arg-type]
    finally:
        chunk_runs.get_settings.cache_clear()
    [(name, reason)] = given_up
    assert name == "salam.answer" and reason.startswith("still failing after 10 s")


def test_a_bug_fails_the_chunk_and_still_raises(given_up: list[tuple[str, str]]) -> None:
    with pytest.raises(KeyError):
        run_chunk(FakeTask(), failing(KeyError("missing")), (1, [2], 0))  # type: ignore[arg-type]
    assert given_up == [("salam.answer", "KeyError: 'missing'")]


def test_a_chunk_delivered_too_often_is_failed_without_running(
    given_up: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunk_runs, "_count_delivery", lambda task: 4)
    ran: list[Sequence[object]] = []
    run_chunk(FakeTask(), lambda *args: ran.append(args) or [], (1, [2], 0))  # type: ignore[arg-type]
    assert ran == []
    [(_, reason)] = given_up
    assert reason.startswith("delivered 4 times")


def test_a_failure_that_cannot_be_written_retries_instead_of_acknowledging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def database_down(*_args: object) -> int:
        raise sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("server closed"))

    monkeypatch.setattr(chunk_runs, "fail_chunk", database_down)
    monkeypatch.setattr(chunk_runs, "_count_delivery", lambda task: 1)
    task = FakeTask()
    with pytest.raises(Retry):
        run_chunk(task, failing(ValueError("bad")), (1, [2], 0))  # type: ignore[arg-type]
    assert task.retried == [RetryBudget(0).max_delay_s]


def test_given_up_chunks_log_no_password(
    given_up: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    error = ValueError("Error connecting to redis://:s3cret@broker:6379/0")
    with caplog.at_level(logging.ERROR, logger="workers.chunk_runs"), pytest.raises(ValueError):
        run_chunk(FakeTask(), failing(error), (1, [2], 0))  # type: ignore[arg-type]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "gave up" in logged
    assert "s3cret" not in logged and "redis://:***@broker" in logged
