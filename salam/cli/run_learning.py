"""`salam run`'s imitation-learning stage, between gather and exam: the successful feedback
of the gather becomes a fine-tuning job on the `finetune` queue (the same claim beat makes),
and the exam waits for it, so a promoted study assistant is the one the agent strategy uses.
With too few examples it says so and goes on."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from salam.settings import Settings

POLL_S = 2.0


def learn_from_gather(settings: Settings, *, quiet: bool, check: Callable[[], None]) -> str:
    """Claim the free training examples into a job and wait for it; returns what happened."""
    from models import session_scope, unclaimed_example_count
    from workers.batching import queue_batch

    with session_scope() as session:
        free = unclaimed_example_count(session=session)
    claim = queue_batch(settings)
    if claim.job_id is None:
        return (
            f"imitation learning: {free} training examples (successful feedback), fewer than "
            f"the {settings.finetune_min_examples} a job needs (SALAM_FINETUNE_MIN_EXAMPLES): "
            "no fine-tuning, the study assistant stays as it is"
        )
    return _wait_for_job(claim.job_id, len(claim.example_ids), quiet=quiet, check=check)


def _wait_for_job(job_id: int, examples: int, *, quiet: bool, check: Callable[[], None]) -> str:
    from models import JOB_ENDED, get_job, session_scope

    last = ""
    while True:
        with session_scope() as session:
            job = get_job(session=session, job_id=job_id)
        assert job is not None, f"job {job_id} was claimed"
        if job.status in JOB_ENDED:
            break
        line = f"fine-tuning job {job_id} ({examples} examples): {job.status}, step {job.step}"
        line += f"/{job.total_steps}" if job.total_steps else ""
        line += f", loss {job.loss:.3f}" if job.loss is not None else ""
        if not quiet and line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        check()
        time.sleep(POLL_S)
    outcome = job.decision or job.error or ""
    return f"fine-tuning job {job_id} ({examples} examples): {job.status}" + (
        f"; {outcome}" if outcome else ""
    )
