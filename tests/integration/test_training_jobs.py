"""Imitation learning through the queues, on SQLite and PostgreSQL: a gather's successful
retries become training examples, `salam finetune run-now` batches them into a job on the
`finetune` queue, and a job whose base model cannot be loaded fails, saying so, and hands
its examples back."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fault_lab import write_dataset
from sqlmodel import col, select

from models import (
    JOB_FAILED,
    RUN_FINISHED,
    FinetuneJob,
    Run,
    Trace,
    TrainingExample,
    get_examples,
    session_scope,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# The dummy backend reads its script from the question: wrong (C) first, right (B) on the
# retry with the study assistant's guideline; or wrong both times.
SCRIPTS = {"turns_right_1": "main=C,B", "turns_right_2": "main=C,B", "stays_wrong": "main=C"}


def _run_finished(url: str, run_id: int) -> bool:
    with session_scope(url=url) as session:
        run = session.get(Run, run_id)
    return run is not None and run.status == RUN_FINISHED


def _job(url: str, job_id: int) -> FinetuneJob:
    with session_scope(url=url) as session:
        job = session.get(FinetuneJob, job_id)
    assert job is not None
    return job


def test_successful_retries_are_batched_and_a_bad_base_model_fails_the_job(
    jobs: Any,
    database_url: str,
    workers: Callable[[dict[str, str]], Any],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    missing_model = tmp_path / "no-such-model"
    env = jobs.env(
        database_url,
        SALAM_MAX_ITERATIONS="1",
        SALAM_SA_MODEL=str(missing_model),
        SALAM_FINETUNE_DIR=str(tmp_path / "finetune"),
    )
    group = workers(env)
    group.start()
    group.start("finetune", name="finetune")
    dataset = write_dataset(tmp_path / "scripted.jsonl", SCRIPTS)
    run_id = jobs.submit(str(dataset), "--split", "all", "--mode", "gather", env=env)
    wait_until(lambda: _run_finished(database_url, run_id), 120, "gather run finished")

    with session_scope(url=database_url) as session:
        examples = get_examples(session=session, run_id=run_id)
        successful = session.exec(
            select(Trace.id).where(
                col(Trace.id).in_([e.trace_id for e in examples]), col(Trace.successful)
            )
        ).all()
    assert len(examples) == 2 == len(successful)
    assert all(e.completion and e.prompt and e.target == "(B)" for e in examples)

    queued = jobs.salam("finetune", "run-now", "--min-examples", "1", env=env)
    assert queued.returncode == 0, queued.stderr
    found = re.search(r"queued fine-tuning job (\d+) with (\d+) examples", queued.stdout)
    assert found, queued.stdout
    job_id = int(found.group(1))
    wait_until(lambda: _job(database_url, job_id).status == JOB_FAILED, 120, "job failed")

    job = _job(database_url, job_id)
    assert job.error is not None and "no-such-model" in job.error
    assert job.base_model == str(missing_model) and job.attempt == 1
    with session_scope(url=database_url) as session:
        ours = session.exec(
            select(TrainingExample).where(col(TrainingExample.run_id) == run_id)
        ).all()
    assert [example.finetune_job_id for example in ours] == [None, None]
    status = jobs.salam("finetune", "status", str(job_id), env=env)
    assert status.returncode == 0 and "failed" in status.stdout and "no-such-model" in status.stdout
