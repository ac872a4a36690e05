"""The `finetune` step's bookkeeping around a stand-in trainer: success makes a version (and
promotes it when it is better), failure and cancellation hand the examples back, a restart
after a dead worker takes the job over."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from training_rows import imported_examples, training_database

from models import (
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    FinetuneJob,
    TrainingExample,
    cancel_job,
    get_job,
    list_versions,
    session_scope,
    start_job,
    unclaimed_example_count,
)
from salam.cli.finetune import job_details
from salam.errors import FinetuneError
from salam.settings import get_settings
from workers import finetuning, training
from workers.assistant_version import active_assistant
from workers.batching import claim_batch

BETTER = {
    "valid_json_share_before": 0.25,
    "valid_json_share_after": 0.75,
    "held_out_loss_before": 2.0,
    "held_out_loss_after": 1.5,
}
Trainer = Callable[[str, Sequence[TrainingExample], Path, training.ProgressCallback], Any]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from training_database(
        tmp_path,
        monkeypatch,
        SALAM_FINETUNE_DIR=str(tmp_path / "finetune"),
        SALAM_SA_MODEL="/models/base",
        SALAM_FINETUNE_MIN_EXAMPLES="2",
    )


def _trainer(metrics: dict[str, float], steps: int = 2) -> Trainer:
    def train(
        base: str, examples: Sequence[TrainingExample], out: Path, progress: Any
    ) -> training.TrainingOutcome:
        assert base == "/models/base" and out.is_dir() and len(examples) == 3
        for step in range(1, steps + 1):
            update = {"step": step, "total_steps": steps, "loss": 3.0 / step, "epoch": 0.5 * step}
            progress(update)
        (out / "adapter").mkdir()
        return training.TrainingOutcome(out / "adapter", metrics, 4096, out / "log.jsonl")

    return train


def _job(url: str) -> int:
    imported_examples(url, 3)
    claim = claim_batch(get_settings())
    assert claim.job_id is not None
    return claim.job_id


def _read(job_id: int) -> FinetuneJob:
    with session_scope() as session:
        job = get_job(session=session, job_id=job_id)
    assert job is not None
    return job


def _free() -> int:
    with session_scope() as session:
        return unclaimed_example_count(session=session)


def test_a_better_adapter_becomes_the_active_version(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "train_adapter", _trainer(BETTER))
    job_id = _job(url)
    reported: list[dict[str, Any]] = []
    assert finetuning.finetune_job(job_id, reported.append) == JOB_SUCCEEDED
    job = _read(job_id)
    assert job.status == JOB_SUCCEEDED and job.trained_tokens == 4096
    assert (job.step, job.loss, job.base_model) == (2, 1.5, "/models/base")
    assert job.decision is not None and job.decision.startswith("promoted over v0")
    assert [r["step"] for r in reported] == [1, 2] and reported[0]["job_id"] == job_id
    assistant = active_assistant()
    assert assistant.name == f"v{job_id}" and assistant.adapter_path == job.adapter_path
    assert Path(str(job.adapter_path)).parent.name == "attempt-1"


def test_a_worse_adapter_is_kept_as_an_inactive_version(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "train_adapter", _trainer(BETTER | {"valid_json_share_after": 0}))
    job_id = _job(url)
    assert finetuning.finetune_job(job_id, lambda _: None) == JOB_SUCCEEDED
    with session_scope() as session:
        versions = list_versions(session=session)
    assert [(v.name, v.active) for v in versions] == [(f"v{job_id}", False)]
    assert active_assistant().name == "v0" and active_assistant().adapter_path is None


def test_a_failing_trainer_fails_the_job_and_frees_its_examples(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> training.TrainingOutcome:
        raise FinetuneError("base model /models/base: no such folder")

    monkeypatch.setattr(training, "train_adapter", broken)
    job_id = _job(url)
    with pytest.raises(FinetuneError):
        finetuning.finetune_job(job_id, lambda _: None)
    job = _read(job_id)
    assert job.status == JOB_FAILED and job.error == "base model /models/base: no such folder"
    assert _free() == 3


def test_cancelling_a_running_job_stops_it_at_its_next_progress_report(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _job(url)
    monkeypatch.setattr(finetuning, "PROGRESS_EVERY_S", 0.0)

    def cancelled_midway(
        base: str, examples: Sequence[TrainingExample], out: Path, progress: Any
    ) -> training.TrainingOutcome:
        progress({"step": 1, "loss": 2.0})
        with session_scope(write=True) as session:
            cancel_job(session=session, job_id=job_id)
        progress({"step": 2, "loss": 1.0})  # raises: the job is no longer this attempt's
        raise AssertionError("training went on after the job was cancelled")

    monkeypatch.setattr(training, "train_adapter", cancelled_midway)
    assert finetuning.finetune_job(job_id, lambda _: None) == "lost"
    assert _read(job_id).status == JOB_CANCELLED and _free() == 3


def test_progress_is_written_every_few_seconds_and_at_the_last_step(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finetuning, "PROGRESS_EVERY_S", 2.0)
    job_id = _job(url)
    with session_scope(write=True) as session:
        attempt = start_job(session=session, job_id=job_id, base_model="/models/base")
    assert attempt is not None
    now = [0.0]
    reports: list[int] = []
    write = finetuning._progress_writer(
        job_id, attempt, lambda update: reports.append(update["step"]), clock=lambda: now[0]
    )
    for step in range(1, 11):  # a step every half second
        write({"step": step, "total_steps": 10, "loss": 1.0})
        now[0] += 0.5
    assert reports == [1, 5, 9, 10]
    assert _read(job_id).step == 10


def test_a_redelivered_job_whose_worker_died_is_restarted(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "train_adapter", _trainer(BETTER))
    job_id = _job(url)
    with session_scope(write=True) as session:  # the first delivery's worker died mid-job
        start_job(session=session, job_id=job_id, base_model="/models/base")
    assert _read(job_id).status == JOB_RUNNING
    assert finetuning.finetune_job(job_id, lambda _: None) == JOB_SUCCEEDED
    job = _read(job_id)
    assert job.attempt == 2 and Path(str(job.adapter_path)).parent.name == "attempt-2"
    assert finetuning.finetune_job(job_id, lambda _: None) == "ended"  # a late duplicate


def test_a_job_whose_worker_keeps_dying_is_failed(url: str) -> None:
    job_id = _job(url)
    for _ in range(finetuning.MAX_ATTEMPTS):
        with session_scope(write=True) as session:
            start_job(session=session, job_id=job_id, base_model="/models/base")
    assert finetuning.finetune_job(job_id, lambda _: None) == JOB_FAILED
    job = _read(job_id)
    assert job.error is not None and "worker died" in job.error and _free() == 3


def test_a_job_without_examples_fails_clearly(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = _job(url)
    with session_scope(write=True) as session:
        cancel_job(session=session, job_id=job_id)
        session.add(FinetuneJob(example_count=0))
    assert finetuning.finetune_job(job_id + 1, lambda _: None) == JOB_FAILED
    assert _read(job_id + 1).error == "the job has no training examples"


def test_status_names_the_base_model_once_a_worker_has_it(url: str) -> None:
    job_id = _job(url)
    assert job_details(_read(job_id))[1] == "  base model: not started yet"
    with session_scope(write=True) as session:  # a worker on the default: the bundled model
        start_job(session=session, job_id=job_id, base_model="")
    assert job_details(_read(job_id))[1] == "  base model: bundled SmolLM2-135M-Instruct"
