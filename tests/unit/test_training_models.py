"""Training examples, claims, fine-tuning job states and assistant versions, on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import update
from sqlmodel import col
from training_rows import FEEDBACK, imported_examples, retried_mistakes

from models import (
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    AssistantVersion,
    JobResult,
    Progress,
    activate_version,
    active_version,
    add_version,
    cancel_job,
    claim_examples,
    complete_job,
    fail_job,
    get_examples,
    get_job,
    record_examples_of_traces,
    record_progress,
    roll_back_version,
    session_scope,
    start_job,
    unclaimed_example_count,
    use_base_model,
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'salam.db'}"


def _claim(url: str, minimum: int = 1, maximum: int = 100) -> tuple[int | None, tuple[int, ...]]:
    with session_scope(write=True, url=url) as session:
        claim = claim_examples(session=session, minimum=minimum, maximum=maximum)
    return claim.job_id, claim.example_ids


def test_each_successful_trace_is_one_example_however_often_it_is_written(url: str) -> None:
    run_id, analysis_ids = retried_mistakes(url, 3, right=2)
    with session_scope(write=True, url=url) as session:
        again = record_examples_of_traces(
            session=session, analysis_ids=analysis_ids, prompt_version="1"
        )
    with session_scope(url=url) as session:
        examples = get_examples(session=session, run_id=run_id)
    assert again == 0
    assert len(examples) == 2
    first = examples[0]
    assert first.completion == FEEDBACK and first.prompt.startswith("SA prompt")
    assert first.prompt_version == "1" and first.assistant_version == "v0"
    assert first.source == f"trace:{first.trace_id}" and first.finetune_job_id is None
    assert first.target == "(A)" and first.options and first.question is not None


def test_a_claim_takes_the_oldest_free_examples_up_to_the_maximum(url: str) -> None:
    imported_examples(url, 5)
    job_id, ids = _claim(url, minimum=2, maximum=3)
    assert job_id is not None and len(ids) == 3
    with session_scope(url=url) as session:
        job = get_job(session=session, job_id=job_id)
        claimed = get_examples(session=session, job_id=job_id)
        free = unclaimed_example_count(session=session)
    assert job is not None and job.status == JOB_QUEUED and job.example_count == 3
    # The oldest free examples: the first three written.
    assert [example.id for example in claimed] == list(ids) == [1, 2, 3]
    assert free == 2
    second, rest = _claim(url, minimum=2, maximum=3)
    assert second is not None and set(rest).isdisjoint(ids) and len(rest) == 2


def test_below_the_minimum_a_claim_changes_nothing(url: str) -> None:
    imported_examples(url, 2)
    job_id, ids = _claim(url, minimum=3)
    assert job_id is None and len(ids) == 2
    with session_scope(url=url) as session:
        assert unclaimed_example_count(session=session) == 2
        assert get_job(session=session, job_id=1) is None


def _started_job(url: str, examples: int = 3) -> tuple[int, int]:
    imported_examples(url, examples)
    job_id, _ = _claim(url)
    assert job_id is not None
    with session_scope(write=True, url=url) as session:
        attempt = start_job(session=session, job_id=job_id, base_model="base")
    assert attempt == 1
    return job_id, attempt


def test_a_restarted_job_belongs_to_its_newest_attempt(url: str) -> None:
    job_id, first = _started_job(url)
    with session_scope(write=True, url=url) as session:
        second = start_job(session=session, job_id=job_id, base_model="base")
    assert second == 2
    with session_scope(write=True, url=url) as session:
        stale = record_progress(
            session=session, job_id=job_id, attempt=first, progress=Progress(5, 10, 1.5)
        )
        fresh = record_progress(
            session=session, job_id=job_id, attempt=2, progress=Progress(1, 10, 2.5)
        )
        lost_failure = fail_job(session=session, job_id=job_id, attempt=first, error="x")
    with session_scope(url=url) as session:
        job = get_job(session=session, job_id=job_id)
    assert (stale, fresh, lost_failure) == (False, True, False)
    assert job is not None and job.status == JOB_RUNNING
    assert (job.step, job.total_steps, job.loss, job.attempt) == (1, 10, 2.5, 2)


def test_a_failed_job_hands_its_examples_back(url: str) -> None:
    job_id, attempt = _started_job(url)
    with session_scope(write=True, url=url) as session:
        assert fail_job(session=session, job_id=job_id, attempt=attempt, error="no such model")
    with session_scope(url=url) as session:
        job = get_job(session=session, job_id=job_id)
        free = unclaimed_example_count(session=session)
    assert job is not None and job.status == JOB_FAILED and job.error == "no such model"
    assert job.finished_at is not None and free == 3


def test_a_cancelled_job_releases_its_examples_and_its_worker_loses_it(url: str) -> None:
    job_id, attempt = _started_job(url)
    with session_scope(write=True, url=url) as session:
        assert cancel_job(session=session, job_id=job_id)
        assert not cancel_job(session=session, job_id=job_id)
        owned = record_progress(
            session=session, job_id=job_id, attempt=attempt, progress=Progress(3)
        )
        restarted = start_job(session=session, job_id=job_id, base_model="base")
    with session_scope(url=url) as session:
        job = get_job(session=session, job_id=job_id)
        free = unclaimed_example_count(session=session)
    assert not owned and restarted is None
    assert job is not None and job.status == JOB_CANCELLED and free == 3


def test_a_completed_job_keeps_what_training_produced(url: str) -> None:
    job_id, attempt = _started_job(url)
    result = JobResult("/adapters/1", {"held_out_loss_after": 1.0}, 1234, "/logs/1", "promoted")
    with session_scope(write=True, url=url) as session:
        assert complete_job(session=session, job_id=job_id, attempt=attempt, result=result)
        assert not complete_job(session=session, job_id=job_id, attempt=attempt, result=result)
    with session_scope(url=url) as session:
        job = get_job(session=session, job_id=job_id)
        claimed = get_examples(session=session, job_id=job_id)
    assert job is not None and job.status == JOB_SUCCEEDED
    assert (job.trained_tokens, job.adapter_path, job.metrics) == (
        1234,
        "/adapters/1",
        {"held_out_loss_after": 1.0},
    )
    assert len(claimed) == 3  # a succeeded job keeps its examples: they were trained on


def _versions(url: str, *names: str) -> None:
    with session_scope(write=True, url=url) as session:
        for name in names:
            add_version(
                session=session,
                version=AssistantVersion(name=name, base_model="b", adapter_path=f"/a/{name}"),
            )


def _active(url: str) -> str | None:
    with session_scope(url=url) as session:
        version = active_version(session=session)
    return version.name if version else None


def test_rollback_walks_back_through_the_promotions(url: str) -> None:
    _versions(url, "v1", "v2", "v3")
    assert _active(url) is None
    for name in ("v1", "v2", "v3"):
        with session_scope(write=True, url=url) as session:
            activate_version(session=session, name=name)
    assert _active(url) == "v3"
    walked = []
    for _ in range(3):
        with session_scope(write=True, url=url) as session:
            retired, now = roll_back_version(session=session)
        walked.append((retired.name, now.name if now else None))
    assert walked == [("v3", "v2"), ("v2", "v1"), ("v1", None)]
    with session_scope(write=True, url=url) as session, pytest.raises(LookupError):
        roll_back_version(session=session)


def test_promoting_an_unknown_version_or_the_base_model(url: str) -> None:
    _versions(url, "v1")
    with session_scope(write=True, url=url) as session:
        with pytest.raises(LookupError):
            activate_version(session=session, name="v9")
        activate_version(session=session, name="v1")
    with session_scope(write=True, url=url) as session:
        previous = use_base_model(session=session)
    assert previous is not None and previous.name == "v1" and _active(url) is None


def test_the_database_refuses_a_second_active_version(url: str) -> None:
    _versions(url, "v1", "v2")
    both = (
        update(AssistantVersion)
        .where(col(AssistantVersion.name).in_(["v1", "v2"]))
        .values(active=True)
    )
    with pytest.raises(sqlalchemy.exc.IntegrityError), session_scope(write=True, url=url) as s:
        s.execute(both)
