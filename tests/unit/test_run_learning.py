"""`salam run`'s imitation-learning stage: it waits for every job that trains on the gather's
feedback, beat's included, and says so when there was too little feedback for one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from training_rows import retried_mistakes, training_database

from models import (
    JobResult,
    claim_examples,
    complete_job,
    get_job,
    jobs_training_on_run,
    session_scope,
    start_job,
)
from salam.cli import run_learning
from salam.settings import get_settings


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(run_learning, "POLL_S", 0.0)
    yield from training_database(tmp_path, monkeypatch, SALAM_FINETUNE_MIN_EXAMPLES="4")


def _beat_claims(count: int) -> tuple[int, int]:
    """What beat's schedule does mid-gather: a job for `count` examples, started by a worker;
    returns (job id, attempt)."""
    with session_scope(write=True) as session:
        job_id = claim_examples(session=session, minimum=count, maximum=count).job_id
    assert job_id is not None
    with session_scope(write=True) as session:
        attempt = start_job(session=session, job_id=job_id, base_model="")
    assert attempt is not None
    return job_id, attempt


def test_the_exam_waits_for_the_job_beat_started_on_the_gathers_feedback(url: str) -> None:
    run_id, _ = retried_mistakes(url, 5)
    job_id, attempt = _beat_claims(4)  # one example left: too few for another job
    checks: list[str] = []

    def worker_finishes() -> None:  # called while salam run waits
        checks.append("waited")
        result = JobResult("adapter", {}, 100, None, "promoted over v0")
        with session_scope(write=True) as session:
            complete_job(session=session, job_id=job_id, attempt=attempt, result=result)

    said = run_learning.learn_from_gather(get_settings(), run_id, quiet=True, check=worker_finishes)
    assert said == f"fine-tuning job {job_id} (4 examples): succeeded; promoted over v0"
    assert checks == ["waited"]
    with session_scope() as session:
        job = get_job(session=session, job_id=job_id)
    assert job is not None and job.status == "succeeded"


def test_too_little_feedback_is_said(url: str) -> None:
    run_id, _ = retried_mistakes(url, 3)
    said = run_learning.learn_from_gather(get_settings(), run_id, quiet=True, check=lambda: None)
    assert said.startswith("imitation learning: 3 training examples (successful feedback)")
    assert "fewer than the 4 a job needs" in said


def test_a_runs_jobs_are_those_holding_its_examples(url: str) -> None:
    earlier_run, _ = retried_mistakes(url, 4)
    earlier_job, _ = _beat_claims(4)
    run_id, _ = retried_mistakes(url, 4)
    job_id, _ = _beat_claims(4)
    with session_scope() as session:
        assert jobs_training_on_run(session=session, run_id=run_id) == [job_id]
        assert jobs_training_on_run(session=session, run_id=earlier_run) == [earlier_job]
