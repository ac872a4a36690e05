"""The worker steps without Celery: SQLite, scripted LLMs, the hash embedder. Each step is
also run twice, as a redelivered task would be."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from models import (
    QUESTION_FAILED,
    RUN_FINISHED,
    Analysis,
    Attempt,
    Guideline,
    Question,
    Run,
    Trace,
    get_run,
    question_ids,
    session_scope,
    use_database,
)
from producers import submit as submit_module
from producers.submit import Submission, submit_questions
from salam.data import generate_benchmark
from salam.embedding import HashEmbedder
from salam.llm import LLM, Completion, GenerationParams, Prompt
from salam.settings import Settings
from workers import resources
from workers.analyzing import analyze_chunk, predict_chunk
from workers.answering import answer_chunk
from workers.chunk_runs import fail_chunk
from workers.queues import ANALYZE_TASK, ANSWER_TASK

HINT = "Count each step once more"


class ScriptedMain(LLM):
    """Right only when a guideline is in front of the question: the guidelines 'work'."""

    name = "scripted"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    @property
    def model_id(self) -> str:
        return "scripted-main"

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[Completion]:
        self.prompts.extend(prompt.text for prompt in prompts)
        return [Completion(self._answer(prompt)) for prompt in prompts]

    @staticmethod
    def _answer(prompt: Prompt) -> str:
        assert prompt.constraint is not None
        target = _TARGETS[prompt.text.split("\nThe correct answer is ")[-2].split("\n\n")[-1]]
        if HINT in prompt.text:
            return target
        return next(choice for choice in prompt.constraint.choices if choice != target)


class ScriptedAssistant(LLM):
    name = "scripted"

    def __init__(self, output: str | None = None) -> None:
        self.calls = 0
        self.output = output or json.dumps({"reason": "it rushed", "guideline": HINT})

    @property
    def model_id(self) -> str:
        return "scripted-sa"

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[Completion]:
        self.calls += len(prompts)
        return [Completion(self.output) for _ in prompts]


QUESTIONS = generate_benchmark(per_task=2)
_TARGETS = {question.prompt: question.target for question in QUESTIONS}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'salam.db'}"
    use_database(url)
    yield url
    use_database(None)


@pytest.fixture
def llms(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    made = {"main": ScriptedMain(), "sa": ScriptedAssistant()}
    params = GenerationParams()
    monkeypatch.setattr(
        resources, "main_llm", lambda: resources.LoadedLLM(made["main"], params, "scripted")
    )
    monkeypatch.setattr(
        resources, "assistant_llm", lambda: resources.LoadedLLM(made["sa"], params, "scripted")
    )
    embedder = HashEmbedder()
    monkeypatch.setattr(resources, "embedder", lambda: embedder)
    monkeypatch.setattr(resources, "embedder_id", lambda: "hash")
    monkeypatch.setattr(resources, "_holder", {})  # memories of earlier tests stay there
    monkeypatch.setattr(submit_module, "publish_answers", lambda *args: 0)
    monkeypatch.setattr(submit_module, "publish_predictions", lambda *args: 0)
    return made


def _submit(mode: str = "gather", strategy: str | None = None, memory: tuple[int, ...] = ()) -> int:
    submission = Submission("generated", mode=mode, strategy=strategy, memory_from=memory)  # type: ignore[arg-type]
    return submit_questions(submission, QUESTIONS, Settings(max_iterations=1))


def _ids(run_id: int) -> list[int]:
    with session_scope() as session:
        return question_ids(session=session, run_id=run_id)


def _all(table: type, run_id: int) -> list[Any]:
    with session_scope() as session:
        return list(session.exec(select(table).where(table.run_id == run_id)).all())


def _run(run_id: int) -> Run:
    with session_scope() as session:
        run = get_run(session=session, run_id=run_id)
    assert run is not None
    return run


def _gather(run_id: int) -> None:
    """A whole gather run, each step run twice as redelivered tasks would be."""
    follow_ups = answer_chunk(run_id, _ids(run_id), 0)
    assert answer_chunk(run_id, _ids(run_id), 0) == follow_ups
    [analyze] = follow_ups
    assert analyze.task == ANALYZE_TASK
    [retry] = analyze_chunk(*analyze.args)
    assert analyze_chunk(*analyze.args) == [retry]
    assert retry.task == ANSWER_TASK and retry.args == (run_id, _ids(run_id), 1)
    assert answer_chunk(*retry.args) == []
    assert answer_chunk(*retry.args) == []


def test_a_gather_run_learns_from_every_mistake_once(database: str, llms: dict[str, Any]) -> None:
    run_id = _submit()
    _gather(run_id)
    run = _run(run_id)
    assert run.status == RUN_FINISHED and run.correct == run.total == len(QUESTIONS)
    attempts = _all(Attempt, run_id)
    assert len(attempts) == 2 * len(QUESTIONS)  # wrong first, right with the guideline
    assert llms["sa"].calls == len(QUESTIONS), "the redelivered analyze asked nobody"
    assert len(llms["main"].prompts) == 2 * len(QUESTIONS)
    analyses = _all(Analysis, run_id)
    guidelines = _all(Guideline, run_id)
    assert len(analyses) == len(guidelines) == len(QUESTIONS)
    assert {g.text for g in guidelines} == {HINT} and {g.dim for g in guidelines} == {64}
    with session_scope() as session:
        traces = session.exec(select(Trace)).all()
    assert len(traces) == len(QUESTIONS) and all(trace.successful for trace in traces)
    own = {a.question_id: f"mistake:{a.id}" for a in analyses}
    for retry in (a for a in attempts if a.iteration == 1):
        assert retry.memory_ids[0] == own[retry.question_id]


def test_feedback_without_a_guideline_ends_the_question_wrong(
    database: str, llms: dict[str, Any]
) -> None:
    llms["sa"] = ScriptedAssistant(output="I cannot say.")
    run_id = _submit()
    [analyze] = answer_chunk(run_id, _ids(run_id), 0)
    assert analyze_chunk(*analyze.args) == []
    run = _run(run_id)
    assert run.status == RUN_FINISHED and run.wrong == run.total
    assert _all(Guideline, run_id) == [] and len(_all(Analysis, run_id)) == len(QUESTIONS)


def test_an_exam_reads_the_memory_of_the_gather_run(database: str, llms: dict[str, Any]) -> None:
    gather_id = _submit()
    _gather(gather_id)
    exam_id = _submit(mode="exam", strategy="feedback_only", memory=(gather_id,))
    assert answer_chunk(exam_id, _ids(exam_id), 0) == []
    run = _run(exam_id)
    assert run.status == RUN_FINISHED and run.correct == run.total  # the same questions
    mistakes = {f"mistake:{a.id}" for a in _all(Analysis, gather_id)}
    assert all(set(a.memory_ids) <= mistakes and a.memory_ids for a in _all(Attempt, exam_id))
    assert _all(Analysis, exam_id) == []


def test_an_agent_exam_answers_with_the_assistants_foresight(
    database: str, llms: dict[str, Any]
) -> None:
    exam_id = _submit(mode="exam", strategy="agent")
    [answer] = predict_chunk(exam_id, _ids(exam_id))
    assert predict_chunk(exam_id, _ids(exam_id)) == [answer]
    assert llms["sa"].calls == len(QUESTIONS)
    assert answer_chunk(*answer.args) == []
    assert predict_chunk(exam_id, _ids(exam_id)) == [], "nothing left to answer"
    assert {a.mode for a in _all(Analysis, exam_id)} == {"agent"}
    assert _run(exam_id).correct == len(QUESTIONS)


def test_a_chunk_given_up_fails_only_its_pending_questions(
    database: str, llms: dict[str, Any]
) -> None:
    run_id = _submit(mode="exam")
    ids = _ids(run_id)
    answer_chunk(run_id, ids[:2], 0)
    assert fail_chunk(ANSWER_TASK, [run_id, ids[:4], 0], "server gone") == 2
    assert fail_chunk(ANSWER_TASK, [run_id, ids[:4], 0], "server gone") == 0
    run = _run(run_id)
    assert (run.wrong, run.failed, run.finished) == (2, 2, 4)
    assert answer_chunk(run_id, ids[:4], 0) == []  # failed questions are not answered later
    errors = sorted((a.question_id, a.error) for a in _all(Attempt, run_id) if a.error)
    assert errors == [(ids[2], "server gone"), (ids[3], "server gone")], "the reason is kept"
    with session_scope() as session:
        states = {q: session.get(Question, q).status for q in ids[2:4]}  # type: ignore[union-attr]
    assert set(states.values()) == {QUESTION_FAILED}
