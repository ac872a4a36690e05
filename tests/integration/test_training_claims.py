"""Concurrent claimers — beat ticks, two beats, `run-now` — never put one training example in
two fine-tuning jobs, on SQLite (BEGIN IMMEDIATE) and PostgreSQL (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import col, select

from models import (
    TrainingExample,
    add_examples,
    claim_examples,
    session_scope,
    unclaimed_example_count,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CLAIMERS = 6
EXAMPLES = 120
MOST_PER_JOB = 7


def _free_everything(url: str) -> None:
    """Claim whatever earlier tests on this database left unclaimed, so only ours are free."""
    with session_scope(write=True, url=url) as session:
        claim_examples(session=session, minimum=1, maximum=1_000_000)


def _add(url: str, tag: str) -> None:
    with session_scope(write=True, url=url) as session:
        add_examples(
            session=session,
            examples=[
                TrainingExample(
                    prompt=f"p{n}", completion="{}", prompt_version="1", source=f"{tag}:{n}"
                )
                for n in range(EXAMPLES)
            ],
        )


def _claim_until_dry(url: str, start: threading.Barrier, minimum: int) -> list[tuple[int, ...]]:
    start.wait()
    claims: list[tuple[int, ...]] = []
    while True:
        with session_scope(write=True, url=url) as session:
            claim = claim_examples(session=session, minimum=minimum, maximum=MOST_PER_JOB)
        if claim.job_id is None:
            return claims
        claims.append(claim.example_ids)


@pytest.mark.parametrize("minimum", [1, 5])
def test_concurrent_claimers_get_disjoint_examples(database_url: str, minimum: int) -> None:
    _free_everything(database_url)
    _add(database_url, f"concurrent-{minimum}")
    start = threading.Barrier(CLAIMERS)
    with ThreadPoolExecutor(CLAIMERS) as pool:
        results = list(
            pool.map(lambda _: _claim_until_dry(database_url, start, minimum), range(CLAIMERS))
        )
    # Claimers that each found too few unlocked rows at once can all stop with a batch still
    # free (it waits for the next tick); one more claim on its own takes it.
    start = threading.Barrier(1)
    results.append(_claim_until_dry(database_url, start, minimum))
    claims = [claim for claimer in results for claim in claimer]
    claimed = Counter(example for claim in claims for example in claim)
    assert set(claimed.values()) == {1}, "an example in two jobs"
    assert all(minimum <= len(claim) <= MOST_PER_JOB for claim in claims)
    with session_scope(url=database_url) as session:
        left = unclaimed_example_count(session=session)
        jobs_by_example = dict(
            session.exec(
                select(TrainingExample.id, TrainingExample.finetune_job_id).where(
                    col(TrainingExample.id).in_(list(claimed))
                )
            ).all()
        )
    assert len(claimed) + left == EXAMPLES and left < minimum
    # every claim is exactly one job's examples
    for claim in claims:
        assert len({jobs_by_example[example] for example in claim}) == 1
    assert len({jobs_by_example[claim[0]] for claim in claims}) == len(claims)
