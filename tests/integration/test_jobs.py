"""Gather and exam round trips through Redis and real worker processes, on SQLite and
PostgreSQL, with the dummy LLMs and the hash embedder."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from models import (
    RUN_FINISHED,
    Analysis,
    Attempt,
    Guideline,
    Question,
    Run,
    Trace,
    latest_runs,
    session_scope,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _rows(url: str, table: type, run_id: int) -> list:
    with session_scope(url=url) as session:
        return list(session.exec(select(table).where(table.run_id == run_id)).all())


def _run(url: str, run_id: int) -> Run:
    with session_scope(url=url) as session:
        run = session.get(Run, run_id)
    assert run is not None
    return run


def _assert_finished(url: str, run_id: int) -> Run:
    run = _run(url, run_id)
    assert run.status == RUN_FINISHED and run.finished_at is not None
    assert run.finished == run.total == run.correct + run.wrong + run.failed
    questions = _rows(url, Question, run_id)
    assert (
        Counter(q.status for q in questions)
        == Counter({"correct": run.correct, "wrong": run.wrong, "failed": run.failed}) - Counter()
    )
    attempts = _rows(url, Attempt, run_id)
    keys = Counter((a.question_id, a.iteration) for a in attempts)
    assert set(keys.values()) == {1}, "one attempt per question and iteration"
    return run


def test_gather_then_exam_round_trip(
    jobs: Any, database_url: str, workers: Callable[[dict[str, str]], Any]
) -> None:
    # With threshold -1 every memory entry is close enough: each exam question sees some.
    env = jobs.env(database_url, SALAM_MEMORY_THRESHOLD="-1")
    workers(env).start("llm,assistant")

    gather = jobs.salam(
        "submit", "generated", "--split", "train", "--limit", "5", "--wait", env=env
    )
    assert gather.returncode == 0, gather.stderr
    assert "first try" in gather.stdout  # the table printed after --wait
    gather_id = int(gather.stdout.split("submitted run ")[1].split()[0])
    run = _assert_finished(database_url, gather_id)
    assert run.total == 16  # 4 tasks, the first 4 of 5 questions each
    attempts = _rows(database_url, Attempt, gather_id)
    analyses = _rows(database_url, Analysis, gather_id)
    first_wrong = {a.id for a in attempts if a.iteration == 0 and not a.correct}
    assert {a.attempt_id for a in analyses} == first_wrong, "each first mistake analysed once"
    guidelines = _rows(database_url, Guideline, gather_id)
    guided = {a.id for a in analyses if a.guideline}
    assert {g.analysis_id for g in guidelines} == guided
    assert all(g.dim == 64 and len(g.embedding) == 64 * 4 for g in guidelines)
    retries = [a for a in attempts if a.iteration == 1]
    assert len(retries) == len(guided)
    with session_scope(url=database_url) as session:
        traces = session.exec(select(Trace)).all()
    assert {t.retry_attempt_id for t in traces} >= {a.id for a in retries}
    analysis_of = {a.question_id: a.id for a in analyses}
    for retry in retries:  # the retry was shown its own new guideline first
        assert retry.memory_ids[0] == f"mistake:{analysis_of[retry.question_id]}"

    exam_id = jobs.submit(
        "generated", "--split", "test", "--mode", "exam", "--strategy", "feedback",
        "--memory-from", str(gather_id), "--limit", "5", "--wait", env=env,
    )  # fmt: skip
    exam_run = _assert_finished(database_url, exam_id)
    assert exam_run.total == 4 and exam_run.memory_from == [gather_id]
    exam_attempts = _rows(database_url, Attempt, exam_id)
    assert all(a.memory_ids and a.iteration == 0 for a in exam_attempts)
    assert not _rows(database_url, Analysis, exam_id), "an exam does not analyse its mistakes"

    report = jobs.salam("report", str(gather_id), "--compare", str(exam_id), env=env)
    assert report.returncode == 0, report.stderr
    assert "feedback" in report.stdout and "gather: first try" in report.stdout
    status = jobs.salam("status", str(exam_id), env=env)
    assert f"run {exam_id}" in status.stdout and "finished" in status.stdout


def test_agent_and_correct_strategies(
    jobs: Any, sqlite_url: str, workers: Callable[[dict[str, str]], Any]
) -> None:
    env = jobs.env(sqlite_url, SALAM_MEMORY_THRESHOLD="-1")
    workers(env).start("llm,assistant")
    gather_id = jobs.submit("generated", "--split", "train", "--limit", "5", "--wait", env=env)
    agent_id = jobs.submit(
        "generated", "--split", "test", "--mode", "exam", "--strategy", "agent", "--limit", "5",
        "--wait", env=env,
    )  # fmt: skip
    _assert_finished(sqlite_url, agent_id)
    foreseen = _rows(sqlite_url, Analysis, agent_id)
    assert len(foreseen) == 4 and {a.mode for a in foreseen} == {"agent"}
    assert all(a.attempt_id is None for a in foreseen)

    has_correct = any(a.correct for a in _rows(sqlite_url, Attempt, gather_id) if a.iteration == 0)
    correct_id = jobs.submit(
        "generated", "--split", "test", "--mode", "exam", "--strategy", "correct",
        "--memory-from", str(gather_id), "--limit", "5", "--wait", env=env,
    )  # fmt: skip
    _assert_finished(sqlite_url, correct_id)
    sources = {s for a in _rows(sqlite_url, Attempt, correct_id) for s in a.memory_ids}
    assert all(source.startswith("correct:") for source in sources)
    assert bool(sources) == has_correct


def test_malformed_dataset_exits_2_and_creates_nothing(
    jobs: Any, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "broken.jsonl"
    good = {"question": "2 + 3?", "options": ["4", "5"], "target": "5"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({"question": "no target"}) + "\n")
    env = jobs.env(sqlite_url)
    before = jobs.waiting()
    result = jobs.salam("submit", str(path), env=env)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0 and str(path) in message and "record line 2" in message
    assert "Traceback" not in result.stderr
    assert jobs.waiting() == before
    with session_scope(url=sqlite_url) as session:
        assert latest_runs(session=session) == []
