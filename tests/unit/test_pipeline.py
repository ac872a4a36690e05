"""The SALAM steps and the in-process evaluation, on the dummy backend and the hash embedder."""

from __future__ import annotations

import pytest

from salam.data import generate_benchmark, split_questions
from salam.embedding import HashEmbedder
from salam.evaluation import Models, examine, gather
from salam.llm import GenerationParams
from salam.llm.dummy import DummyLLM
from salam.memory import GuidelineMemory
from salam.pipeline import (
    AnalysisResult,
    agent_contexts,
    analyze_mistakes,
    answer_questions,
    mistake_entry,
    retrieve_contexts,
)
from salam.strategies import STRATEGIES

QUESTIONS = generate_benchmark(seed=1, per_task=10)


def models() -> Models:
    return Models(DummyLLM(seed=3), GenerationParams(), DummyLLM(seed=4), GenerationParams())


def memory() -> GuidelineMemory:
    return GuidelineMemory(HashEmbedder(), top_k=3, threshold=0.5)


def test_answers_are_graded_against_the_target() -> None:
    results = answer_questions(QUESTIONS, DummyLLM(seed=3), GenerationParams())
    assert [r.question_id for r in results] == [q.id for q in QUESTIONS]
    for question, result in zip(QUESTIONS, results, strict=True):
        assert result.answer in question.labels
        assert result.correct == (result.answer == question.target)
        assert result.prompt.startswith(question.prompt)
    # a constant-picking model would be right on about a quarter; the hash spreads its picks
    assert 0 < sum(r.correct for r in results) < len(results)


def test_analysis_gives_a_guideline_for_each_mistake() -> None:
    mistakes = [(q, "(A)") for q in QUESTIONS[:5]]
    analyses = analyze_mistakes(mistakes, DummyLLM(), GenerationParams())
    assert [a.question_id for a in analyses] == [q.id for q in QUESTIONS[:5]]
    assert all(a.guideline and a.failure is None for a in analyses)
    assert all("We get the answer (A)" not in a.guideline for a in analyses if a.guideline)


def test_retrieval_finds_the_questions_own_guideline_first() -> None:
    store = memory()
    question = QUESTIONS[0]
    store.add([mistake_entry(question, "(A)", "Check each step.", entry_id="m1")])
    [context] = retrieve_contexts([question], "feedback", store)
    assert context.guidelines == ("Check each step.",)
    assert [case.answer for case in context.cases] == [question.target]
    assert context.source_ids == ("m1",)
    [only_guidelines] = retrieve_contexts([question], "feedback_only", store)
    assert only_guidelines.cases == ()
    [nothing] = retrieve_contexts([question], "none", store)
    assert nothing.guidelines == () and nothing.cases == ()


def test_retrieved_guidelines_reach_the_prompt() -> None:
    store = memory()
    question = QUESTIONS[0]
    store.add([mistake_entry(question, "(A)", "Add before you multiply.", entry_id="m1")])
    contexts = retrieve_contexts([question], "feedback_only", store)
    [result] = answer_questions([question], DummyLLM(), GenerationParams(), contexts)
    assert "Add before you multiply." in result.prompt
    assert result.prompt.endswith(question.prompt + "\nThe correct answer is ")
    assert result.source_ids == ("m1",)


def test_agent_contexts_skip_missing_guidelines() -> None:
    analyses = [
        AnalysisResult("q1", "p", "o", "r", "g1"),
        AnalysisResult("q2", "p", "o", None, None, failure="no_json"),
    ]
    first, second = agent_contexts(analyses)
    assert first.guidelines == ("g1",)
    assert second.guidelines == ()


def test_gather_fills_memory_and_counts_retries() -> None:
    split = split_questions(QUESTIONS)
    store = memory()
    summary = gather(split.train, models(), store, iterations=2, chunk_size=7)
    assert summary.questions == len(split.train)
    assert summary.first_correct + summary.mistakes == summary.questions
    assert summary.guidelines == summary.retries
    assert 0 <= summary.retries_correct <= summary.retries
    mistakes = sum(1 for a in summary.analyses)
    assert len(store) == summary.first_correct + mistakes


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_examines_every_test_question(strategy: str) -> None:
    split = split_questions(QUESTIONS)
    store = memory()
    gather(split.train, models(), store)
    exam = examine(split.test, strategy, models(), store, chunk_size=5)  # type: ignore[arg-type]
    assert len(exam.results) == len(split.test)
    assert exam.scores.answered == len(split.test)
    assert {s.task for s in exam.scores.tasks} == {q.task for q in split.test}
