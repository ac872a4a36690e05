"""The same scripted outcomes through `salam eval` (one process) and through the queues (real
Redis, real workers, SQLite and PostgreSQL) end every question in the same state."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fault_lab import write_dataset
from sqlmodel import col, select

from models import Analysis, Question, Trace, session_scope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# (script, state it must end in) for a question whose right answer is (B). The dummy backend
# reads the script: the main LLM's output on the first try and on a retry, and what the
# study assistant does with the mistake.
SCRIPTED = {
    "right": ("main=B", "correct"),
    "wrong_then_right": ("main=C,B", "correct"),
    "wrong_twice": ("main=C", "wrong"),
    "empty_output": ("main=empty", "wrong"),
    "backend_error": ("main=error", "failed"),
    "assistant_error": ("main=C sa=error", "failed"),
    "assistant_junk": ("main=C sa=junk", "wrong"),
    "retry_error": ("main=C,error", "failed"),
}
# Questions after the scripted ones land in the test split (the last 20 % of the task); no
# script: the dummy's usual answers.
TEST_SPLIT_FILLERS = {f"filler_{n}": "" for n in range(3)}


def _queued_outcomes(url: str, run_id: int) -> dict[str, str]:
    with session_scope(url=url) as session:
        rows = session.exec(select(Question).where(Question.run_id == run_id)).all()
    return {row.qid: row.status for row in rows}


def _successful_traces(url: str, run_id: int) -> set[str]:
    with session_scope(url=url) as session:
        rows = session.exec(
            select(Question.qid)
            .join(Analysis, Analysis.question_id == Question.id)
            .join(Trace, Trace.analysis_id == Analysis.id)
            .where(Question.run_id == run_id, col(Trace.successful).is_(True))
        ).all()
    return set(rows)


def test_eval_and_the_queues_settle_every_question_alike(
    jobs: Any,
    database_url: str,
    workers: Callable[[dict[str, str]], Any],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    dataset = tmp_path / "scripted.jsonl"
    write_dataset(
        dataset, {name: script for name, (script, _) in SCRIPTED.items()} | TEST_SPLIT_FILLERS
    )
    env = jobs.env(database_url, SALAM_MAX_ITERATIONS="1")
    expected = {name: state for name, (_, state) in SCRIPTED.items()}

    evaluated = jobs.salam(
        "eval", str(dataset), "--strategies", "none", "--output", str(tmp_path / "eval"), env=env
    )
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))
    in_process = results["gather"]["question_outcomes"]
    assert in_process == expected

    workers(env).start()
    run_id = jobs.submit(str(dataset), "--split", "train", "--mode", "gather", env=env)
    wait_until(
        lambda: all(s != "pending" for s in _queued_outcomes(database_url, run_id).values()),
        120,
        "run settled",
    )
    queued = _queued_outcomes(database_url, run_id)
    assert queued == expected
    assert results["gather"]["retries_correct"] == 1
    assert _successful_traces(database_url, run_id) == {"wrong_then_right"}
