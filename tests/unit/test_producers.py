"""Submitting and resuming without a broker: what is stored, what would be published."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models import (
    QUESTION_CORRECT,
    QUESTION_FAILED,
    QUESTION_WRONG,
    Analysis,
    Attempt,
    PendingQuestion,
    Run,
    get_run,
    latest_runs,
    question_ids,
    session_scope,
    settle_questions,
    use_database,
)
from producers import submit as submit_module
from producers.submit import Submission, submit, submit_questions
from salam.data import generate_benchmark
from salam.errors import ConfigError, DataError
from salam.settings import Settings
from workers import recovery as resume_module
from workers.recovery import plan_resume


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'salam.db'}"
    use_database(url)
    yield url
    use_database(None)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Records what would go to the broker, and checks the run is committed by then."""
    sent: list[tuple[str, Any]] = []

    def record(kind: str) -> Any:
        def publish(run_id: int, ids: list[int], *rest: int) -> int:
            with session_scope() as session:  # a fresh session sees only committed rows
                assert get_run(session=session, run_id=run_id) is not None
            sent.append((kind, (run_id, list(ids), *rest)))
            return 1

        return publish

    monkeypatch.setattr(submit_module, "publish_answers", record("answer"))
    monkeypatch.setattr(submit_module, "publish_predictions", record("predict"))
    monkeypatch.setattr(resume_module, "publish_answers", record("answer"))
    monkeypatch.setattr(resume_module, "publish_analyses", record("analyze"))
    monkeypatch.setattr(resume_module, "publish_predictions", record("predict"))
    return sent


def _runs() -> list[Run]:
    with session_scope() as session:
        return latest_runs(session=session)


def test_submit_stores_run_and_questions_then_publishes_chunks(
    database: str, published: list[tuple[str, Any]]
) -> None:
    questions = generate_benchmark(per_task=3)
    run_id = submit_questions(
        Submission("generated", chunk_size=5), questions, Settings(max_iterations=2)
    )
    with session_scope() as session:
        run = get_run(session=session, run_id=run_id)
        ids = question_ids(session=session, run_id=run_id)
    assert run is not None and run.total == len(questions) == len(ids)
    assert (run.mode, run.strategy, run.max_iterations) == ("gather", "feedback_only", 2)
    assert "api_key" not in run.settings and run.settings["chunk_size"] == 16
    assert published == [("answer", (run_id, ids, 0, 5))]


def test_an_agent_exam_starts_on_the_assistant(
    database: str, published: list[tuple[str, Any]]
) -> None:
    exam = Submission("generated", split="test", mode="exam", strategy="agent")
    run_id = submit_questions(exam, generate_benchmark(per_task=1), Settings())
    assert [kind for kind, _ in published] == ["predict"]
    with session_scope() as session:
        run = get_run(session=session, run_id=run_id)
    assert run is not None and run.max_iterations == 0


def test_bad_data_creates_nothing_and_publishes_nothing(
    database: str, published: list[tuple[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "mine.jsonl"
    good = {"question": "2 + 3?", "options": ["4", "5"], "target": "5"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({"question": "x"}) + "\n")
    with pytest.raises(DataError) as caught:
        submit(Submission(str(path)), Settings())
    assert str(path) in str(caught.value) and caught.value.record is not None
    assert _runs() == [] and published == []


def test_repeated_question_ids_are_bad_data(
    database: str, published: list[tuple[str, Any]]
) -> None:
    twice = generate_benchmark(per_task=1) * 2
    with pytest.raises(DataError, match="more than once"):
        submit_questions(Submission("generated"), twice, Settings())
    assert _runs() == [] and published == []


@pytest.mark.parametrize(
    ("submission", "problem"),
    [
        (Submission("generated", mode="exam", strategy="feedback"), "--memory-from"),
        (Submission("generated", mode="exam", strategy="mistake", memory_from=(42,)), "no run"),
        (Submission("generated", strategy="none"), "--strategy is for exams"),
        (Submission("generated", mode="exam", strategy="guess"), "unknown strategy"),  # type: ignore[arg-type]
        (Submission("generated", chunk_size=0), "at least 1"),
    ],
)
def test_submissions_that_cannot_work_are_refused(
    database: str, published: list[tuple[str, Any]], submission: Submission, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        submit_questions(submission, generate_benchmark(per_task=1), Settings())
    assert _runs() == [] and published == []


def test_memory_must_come_from_a_gather_run(
    database: str, published: list[tuple[str, Any]]
) -> None:
    questions = generate_benchmark(per_task=1)
    exam_id = submit_questions(Submission("generated", mode="exam"), questions, Settings())
    exam = Submission("generated", mode="exam", strategy="feedback", memory_from=(exam_id,))
    with pytest.raises(ConfigError, match="needs gather runs"):
        submit_questions(exam, questions, Settings())


def _gather_run(max_iterations: int = 1, strategy: str = "feedback_only") -> Run:
    return Run(
        id=1,
        dataset="d",
        split="train",
        mode="gather",
        strategy=strategy,
        max_iterations=max_iterations,
    )


def _pending(
    question_id: int,
    attempt: Attempt | None = None,
    analysis: Analysis | None = None,
    foreseen: bool = False,
) -> PendingQuestion:
    return PendingQuestion(question_id, attempt, analysis, foreseen)


def _attempt(iteration: int = 0, correct: bool = False, error: str | None = None) -> Attempt:
    return Attempt(
        id=100 + iteration,
        run_id=1,
        question_id=1,
        iteration=iteration,
        prompt="",
        output="",
        correct=correct,
        error=error,
    )


def test_resume_picks_each_questions_next_step() -> None:
    analysed = Analysis(run_id=1, question_id=4, prompt="", output="", detail="", guideline="g")
    unguided = Analysis(run_id=1, question_id=5, prompt="", output="", detail="")
    plan = plan_resume(
        _gather_run(),
        [
            _pending(1),
            _pending(2, _attempt(correct=True)),
            _pending(3, _attempt()),
            _pending(4, _attempt(), analysed),
            _pending(5, _attempt(), unguided),
            _pending(6, _attempt(iteration=1)),
            _pending(7, _attempt(error="timeout")),
        ],
    )
    assert dict(plan.answers) == {0: [1], 1: [4]}
    assert plan.analyses == [100]
    assert plan.settle == {
        2: QUESTION_CORRECT,
        5: QUESTION_WRONG,
        6: QUESTION_WRONG,
        7: QUESTION_FAILED,
    }
    assert plan.requeued == 3


def test_resume_of_an_agent_exam_asks_the_assistant_first() -> None:
    run = Run(id=1, dataset="d", split="test", mode="exam", strategy="agent")
    plan = plan_resume(run, [_pending(1), _pending(2, foreseen=True), _pending(3, _attempt())])
    assert plan.predictions == [1]
    assert dict(plan.answers) == {0: [2]}
    assert plan.settle == {3: QUESTION_WRONG}


def test_resume_requeues_only_unfinished_questions(
    database: str, published: list[tuple[str, Any]]
) -> None:
    run_id = submit_questions(Submission("generated"), generate_benchmark(per_task=2), Settings())
    with session_scope(write=True) as session:
        ids = question_ids(session=session, run_id=run_id)
        settle_questions(session=session, run_id=run_id, outcomes={ids[0]: QUESTION_CORRECT})
    published.clear()
    plan = resume_module.resume(run_id, chunk_size=100)
    assert plan.requeued == len(ids) - 1
    assert published == [("answer", (run_id, ids[1:], 0, 100))]
    with pytest.raises(ConfigError, match="no run"):
        resume_module.resume(run_id + 1, chunk_size=100)
