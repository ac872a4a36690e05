"""The imitation-learning tasks: beat's batching tick and the fine-tuning job. Kept apart
from the chunk tasks: neither retries, and neither settles questions on failure."""

from __future__ import annotations

import logging

from celery import Task

from salam.settings import get_settings
from workers.app import app
from workers.batching import queue_batch
from workers.finetuning import finetune_job
from workers.queues import BATCH_TASK, FINETUNE_TASK

log = logging.getLogger(__name__)


@app.task(name=BATCH_TASK)
def batch_examples() -> int | None:
    """Beat's tick: the new job's id, or None when too few examples are free."""
    settings = get_settings()
    claim = queue_batch(settings)
    if claim.job_id is None:
        log.info(
            "%d unclaimed training examples, fewer than SALAM_FINETUNE_MIN_EXAMPLES (%d)",
            len(claim.example_ids),
            settings.finetune_min_examples,
        )
    return claim.job_id


# Results are on for this task alone (the app ignores them): its progress is its Celery state,
# which Flower shows and which needs a result backend to live in.
@app.task(bind=True, name=FINETUNE_TASK, ignore_result=False, track_started=True)
def finetune(self: Task, job_id: int) -> str:
    return finetune_job(job_id, lambda meta: self.update_state(state="PROGRESS", meta=meta))
