"""`salam run`'s imitation-learning stage, between gather and exam: the successful feedback
of the gather becomes a fine-tuning job on the `finetune` queue (the same claim beat makes),
and the exam waits for it and for any job beat started on the gather's feedback meanwhile, so
a promoted study assistant is the one the agent strategy uses. With too few examples it says
so and goes on."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from salam.settings import Settings

POLL_S = 2.0


def learn_from_gather(
    settings: Settings, run_id: int, *, quiet: bool, check: Callable[[], None]
) -> str:
    """Claim the free training examples into a job, then wait for every job that trains on
    the gather's examples: beat's schedule may have started some while the gather ran.
    Returns what happened."""
    from models import jobs_training_on_run, session_scope, unclaimed_example_count
    from workers.batching import queue_batch

    claim = queue_batch(settings)
    with session_scope() as session:
        job_ids = jobs_training_on_run(session=session, run_id=run_id)
        free = unclaimed_example_count(session=session)
    if claim.job_id is not None and claim.job_id not in job_ids:
        job_ids.append(claim.job_id)  # the free examples it took were all older runs'
    if not job_ids:
        return (
            f"imitation learning: {free} training examples (successful feedback), fewer than "
            f"the {settings.finetune_min_examples} a job needs (SALAM_FINETUNE_MIN_EXAMPLES): "
            "no fine-tuning, the study assistant stays as it is"
        )
    return "; ".join(_wait_for_job(job_id, quiet=quiet, check=check) for job_id in job_ids)


def _wait_for_job(job_id: int, *, quiet: bool, check: Callable[[], None]) -> str:
    from models import JOB_ENDED, get_job, session_scope

    last = ""
    while True:
        with session_scope() as session:
            job = get_job(session=session, job_id=job_id)
        assert job is not None, f"job {job_id} was claimed"
        if job.status in JOB_ENDED:
            break
        line = f"fine-tuning job {job_id} ({job.example_count} examples): {job.status}"
        line += f", step {job.step}"
        line += f"/{job.total_steps}" if job.total_steps else ""
        line += f", loss {job.loss:.3f}" if job.loss is not None else ""
        if not quiet and line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        check()
        time.sleep(POLL_S)
    outcome = job.decision or job.error or ""
    return f"fine-tuning job {job_id} ({job.example_count} examples): {job.status}" + (
        f"; {outcome}" if outcome else ""
    )
