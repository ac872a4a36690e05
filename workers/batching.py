"""The batching step: unclaimed training examples become a queued fine-tuning job.

Run by beat's tick and by `salam finetune run-now`; the claim itself (`models.claims`) is
atomic, so any number of these may run at once. The job's `finetune` task is published
after the claim commits; if it cannot be, the job fails and hands its examples back.
"""

from __future__ import annotations

from models import Claim, claim_examples, fail_job, session_scope
from salam.settings import Settings
from workers.app import app
from workers.queues import FINETUNE_TASK


def queue_batch(settings: Settings, *, minimum: int | None = None) -> Claim:
    """A new job for the oldest unclaimed examples, if at least `minimum` (default
    SALAM_FINETUNE_MIN_EXAMPLES) are free, with its task sent to the `finetune` queue."""
    claim = claim_batch(settings, minimum=minimum)
    if claim.job_id is not None:
        publish_job(claim.job_id)
    return claim


def claim_batch(settings: Settings, *, minimum: int | None = None) -> Claim:
    least = minimum or settings.finetune_min_examples
    with session_scope(write=True) as session:
        return claim_examples(
            session=session,
            minimum=least,
            maximum=max(least, settings.finetune_max_examples),
        )


def publish_job(job_id: int) -> None:
    try:
        app.send_task(FINETUNE_TASK, args=[job_id])
    except Exception as err:
        with session_scope(write=True) as session:
            fail_job(session=session, job_id=job_id, error=f"its task was not sent: {err}")
        raise
