"""Unclaimed training examples handed to a new fine-tuning job, atomically.

One transaction creates the job and marks the examples with it, with a conditional UPDATE
(`WHERE finetune_job_id IS NULL`), so two claimers — two beat processes, overlapping ticks,
`salam finetune run-now` racing the schedule — never put one example in two jobs:

- PostgreSQL: the rows are picked by `SELECT … FOR UPDATE SKIP LOCKED`, so a concurrent
  claimer takes other rows instead of waiting for these;
- SQLite: the caller's session began with BEGIN IMMEDIATE (`session_scope(write=True)`), so
  claimers run one after the other.

Fewer examples than the minimum: the transaction is rolled back and nothing happens.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from models.training_tables import FinetuneJob

_CLAIM = {
    # A materialized CTE picks the rows once: as `id IN (SELECT … LIMIT …)` the planner may
    # rescan the subquery for every row (a nested-loop semi-join), and every rescan locks and
    # returns more rows, so the LIMIT would not hold.
    "postgresql": text(
        "WITH picked AS MATERIALIZED ("
        "  SELECT id FROM training_examples WHERE finetune_job_id IS NULL"
        "  ORDER BY id LIMIT :most FOR UPDATE SKIP LOCKED"
        ") "
        "UPDATE training_examples SET finetune_job_id = :job FROM picked "
        "WHERE training_examples.id = picked.id AND training_examples.finetune_job_id IS NULL "
        "RETURNING training_examples.id"
    ),
    # SQLite evaluates the IN list once; the write lock keeps other claimers out meanwhile.
    "sqlite": text(
        "UPDATE training_examples SET finetune_job_id = :job "
        "WHERE finetune_job_id IS NULL AND id IN ("
        "  SELECT id FROM training_examples WHERE finetune_job_id IS NULL"
        "  ORDER BY id LIMIT :most"
        ") RETURNING id"
    ),
}


@dataclass(frozen=True)
class Claim:
    """What a claim did: the new job's id and its examples, or None and how many there were."""

    job_id: int | None
    example_ids: tuple[int, ...]


def claim_examples(*, session: Session, minimum: int, maximum: int) -> Claim:
    """Create a queued job holding up to `maximum` unclaimed examples, oldest first, if at
    least `minimum` are free. Runs in the caller's write transaction and, when there are too
    few, rolls it back. The caller publishes the job only after the commit."""
    assert 1 <= minimum <= maximum, f"bad batch bounds {minimum}..{maximum}"
    dialect = session.get_bind().dialect.name
    if dialect not in _CLAIM:
        raise NotImplementedError(f"claims cover sqlite and postgresql, not {dialect}")
    job = FinetuneJob()
    session.add(job)
    session.flush()
    claimed = session.connection().execute(_CLAIM[dialect], {"job": job.id, "most": maximum})
    ids = tuple(sorted(int(row[0]) for row in claimed))
    if len(ids) < minimum:
        session.rollback()
        return Claim(None, ids)
    job.example_count = len(ids)
    session.flush()
    return Claim(job.id, ids)
