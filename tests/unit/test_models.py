"""The data functions on SQLite: every write tolerates being done twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from models import (
    QUESTION_CORRECT,
    QUESTION_FAILED,
    QUESTION_PENDING,
    QUESTION_WRONG,
    RUN_FINISHED,
    Analysis,
    Attempt,
    Guideline,
    Question,
    Run,
    Trace,
    analyses_of_attempts,
    attempts_at,
    create_run,
    final_outcomes,
    first_try_outcomes,
    get_run,
    new_first_try_correct,
    new_mistakes,
    pending_questions,
    question_ids,
    record_analyses,
    record_attempts,
    record_guidelines,
    record_traces,
    run_activity,
    session_scope,
    settle_questions,
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'salam.db'}"


def _question(index: int, task: str = "arithmetic") -> dict[str, Any]:
    return {
        "qid": f"generated/{task}/{index}",
        "benchmark": "generated",
        "task": task,
        "index": index,
        "prompt": f"What is {index} + 1?\nOptions:\n(A) {index + 1}\n(B) {index}",
        "options": [str(index + 1), str(index)],
        "target": "(A)",
        "meta": {},
    }


def _new_run(url: str, count: int = 3, mode: str = "gather") -> tuple[int, list[int]]:
    with session_scope(write=True, url=url) as session:
        run = Run(
            dataset="generated",
            split="train",
            mode=mode,
            strategy="feedback_only",
            max_iterations=1,
        )
        run_id = int(
            create_run(session=session, run=run, questions=[_question(i) for i in range(count)]).id
            or 0
        )
        return run_id, question_ids(session=session, run_id=run_id)


def _attempt(run_id: int, question_id: int, iteration: int = 0, correct: bool = False) -> Attempt:
    return Attempt(
        run_id=run_id,
        question_id=question_id,
        iteration=iteration,
        prompt="p",
        output="(B)",
        answer="(B)",
        correct=correct,
        memory_ids=["mistake:1"],
    )


def test_a_run_stores_its_questions_pending(url: str) -> None:
    run_id, ids = _new_run(url, count=4)
    with session_scope(url=url) as session:
        run = get_run(session=session, run_id=run_id)
        pending = pending_questions(session=session, run_id=run_id)
    assert run is not None and run.total == 4 and run.finished == 0
    assert [p.question_id for p in pending] == ids
    assert all(p.last_attempt is None for p in pending)


def test_recording_attempts_twice_keeps_one_per_question_and_iteration(url: str) -> None:
    run_id, ids = _new_run(url)
    for _ in range(2):
        with session_scope(write=True, url=url) as session:
            record_attempts(session=session, attempts=[_attempt(run_id, q) for q in ids])
    with session_scope(write=True, url=url) as session:
        record_attempts(session=session, attempts=[_attempt(run_id, ids[0], iteration=1)])
    with session_scope(url=url) as session:
        first = attempts_at(session=session, run_id=run_id, question_ids=ids, iteration=0)
        activity = run_activity(session=session, run_id=run_id)
    assert sorted(first) == ids
    assert activity.attempts == 4 and activity.retries == 1
    assert first[ids[0]].memory_ids == ["mistake:1"]


def test_settling_counts_each_question_once_and_finishes_the_run(url: str) -> None:
    run_id, ids = _new_run(url)
    outcomes = {ids[0]: QUESTION_CORRECT, ids[1]: QUESTION_WRONG}
    with session_scope(write=True, url=url) as session:
        assert settle_questions(session=session, run_id=run_id, outcomes=outcomes) == 2
    with session_scope(write=True, url=url) as session:
        assert settle_questions(session=session, run_id=run_id, outcomes=outcomes) == 0
        # a final state is final: a later verdict does not move the question
        assert (
            settle_questions(session=session, run_id=run_id, outcomes={ids[0]: QUESTION_FAILED})
            == 0
        )
    with session_scope(url=url) as session:
        run = get_run(session=session, run_id=run_id)
    assert run is not None
    assert (run.finished, run.correct, run.wrong, run.failed) == (2, 1, 1, 0)
    assert run.status != RUN_FINISHED
    with session_scope(write=True, url=url) as session:
        settle_questions(session=session, run_id=run_id, outcomes={ids[2]: QUESTION_FAILED})
    with session_scope(url=url) as session:
        run = get_run(session=session, run_id=run_id)
        outcomes_read = sorted(
            state for _, _, state in final_outcomes(session=session, run_id=run_id)
        )
    assert run is not None and run.status == RUN_FINISHED and run.finished_at is not None
    assert outcomes_read == [QUESTION_CORRECT, QUESTION_FAILED, QUESTION_WRONG]


def test_analyses_guidelines_and_traces_are_written_once(url: str) -> None:
    run_id, ids = _new_run(url, count=1)
    with session_scope(write=True, url=url) as session:
        record_attempts(session=session, attempts=[_attempt(run_id, ids[0])])
    with session_scope(url=url) as session:
        attempt = attempts_at(session=session, run_id=run_id, question_ids=ids, iteration=0)[ids[0]]
    for guideline in ("check the sum", "a second opinion"):
        with session_scope(write=True, url=url) as session:
            record_analyses(
                session=session,
                analyses=[
                    Analysis(
                        run_id=run_id,
                        question_id=ids[0],
                        attempt_id=attempt.id,
                        prompt="sa",
                        output="{}",
                        guideline=guideline,
                        detail="",
                    )
                ],
            )
            analysis = analyses_of_attempts(session=session, attempt_ids=[int(attempt.id or 0)])
            analysis_id = int(analysis[int(attempt.id or 0)].id or 0)
            record_guidelines(
                session=session,
                guidelines=[
                    Guideline(
                        analysis_id=analysis_id,
                        run_id=run_id,
                        text=guideline,
                        key="k",
                        embedding=b"\0" * 8,
                        dim=2,
                        embedder_id="hash",
                    )
                ],
            )
            record_attempts(session=session, attempts=[_attempt(run_id, ids[0], 1, True)])
            retry = attempts_at(session=session, run_id=run_id, question_ids=ids, iteration=1)
            record_traces(
                session=session,
                traces=[
                    Trace(
                        analysis_id=analysis_id,
                        retry_attempt_id=int(retry[ids[0]].id or 0),
                        successful=True,
                    )
                ],
            )
    with session_scope(url=url) as session:
        activity = run_activity(session=session, run_id=run_id)
        mistakes = new_mistakes(session=session, run_ids=[run_id], known_ids=set())
    assert (activity.analyses, activity.guidelines, activity.successful_traces) == (1, 1, 1)
    assert [m.guideline for m in mistakes] == ["check the sum"]
    assert mistakes[0].embedding == b"\0" * 8 and mistakes[0].answer == "(B)"


def test_memory_rows_are_found_by_what_is_not_known_yet(url: str) -> None:
    run_id, ids = _new_run(url)
    with session_scope(write=True, url=url) as session:
        record_attempts(
            session=session,
            attempts=[
                _attempt(run_id, ids[0], correct=True),
                _attempt(run_id, ids[1], correct=True),
                _attempt(run_id, ids[2], correct=False),
            ],
        )
    with session_scope(url=url) as session:
        everything = new_first_try_correct(session=session, run_ids=[run_id], known_ids=set())
        rest = new_first_try_correct(
            session=session, run_ids=[run_id], known_ids={everything[0][0]}
        )
        firsts = first_try_outcomes(session=session, run_id=run_id)
    assert [question.id for _, question in everything] == ids[:2]
    assert [question.id for _, question in rest] == ids[1:2]
    assert sorted(correct for _, _, correct in firsts) == [False, True, True]


def test_pending_questions_show_their_last_attempt_and_analysis(url: str) -> None:
    run_id, ids = _new_run(url, count=2)
    with session_scope(write=True, url=url) as session:
        record_attempts(session=session, attempts=[_attempt(run_id, ids[0])])
        attempt = attempts_at(session=session, run_id=run_id, question_ids=ids, iteration=0)
        record_analyses(
            session=session,
            analyses=[
                Analysis(
                    run_id=run_id,
                    question_id=ids[0],
                    attempt_id=attempt[ids[0]].id,
                    prompt="sa",
                    output="",
                    detail="",
                    guideline="g",
                )
            ],
        )
    with session_scope(url=url) as session:
        pending = {p.question_id: p for p in pending_questions(session=session, run_id=run_id)}
    assert pending[ids[0]].last_attempt is not None
    assert pending[ids[0]].last_analysis is not None
    assert pending[ids[0]].last_analysis.guideline == "g"
    assert pending[ids[1]].last_attempt is None
    with session_scope(url=url) as session:
        question = session.get(Question, ids[1])
    assert question is not None and question.status == QUESTION_PENDING
