"""`salam eval`: gather on the train split, then examine the test split, all in one process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from salam.llm import LLM, GenerationParams
from salam.memory import GuidelineMemory, MemoryEntry
from salam.pipeline import (
    AnalysisResult,
    AnswerResult,
    agent_contexts,
    analyze_mistakes,
    answer_questions,
    correct_entry,
    mistake_entry,
    predict_mistakes,
    retrieve_contexts,
)
from salam.records import QuestionRecord
from salam.report import StrategyScores, score_by_task
from salam.strategies import Strategy

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int], Callable[[int], None]]


def _no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _done: None


@dataclass(frozen=True)
class Models:
    main: LLM
    main_params: GenerationParams
    assistant: LLM | None = None
    assistant_params: GenerationParams | None = None


@dataclass
class GatherSummary:
    """What the gather phase did: how many mistakes, guidelines, and retries that then worked."""

    questions: int = 0
    first_correct: int = 0
    mistakes: int = 0
    guidelines: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    retries_correct: int = 0
    analyses: list[AnalysisResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "questions": self.questions,
            "first_correct": self.first_correct,
            "mistakes": self.mistakes,
            "guidelines": self.guidelines,
            "failures": dict(self.failures),
            "retries": self.retries,
            "retries_correct": self.retries_correct,
        }


@dataclass(frozen=True)
class ExamResult:
    strategy: Strategy
    scores: StrategyScores
    results: tuple[AnswerResult, ...]


def in_chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunked(
    items: Sequence[T],
    step: Callable[[Sequence[T]], list[R]],
    *,
    size: int,
    label: str,
    progress: Progress,
) -> list[R]:
    advance = progress(label, len(items))
    results: list[R] = []
    for chunk in in_chunks(items, size):
        results.extend(step(chunk))
        advance(len(chunk))
    return results


def gather(
    train: Sequence[QuestionRecord],
    models: Models,
    memory: GuidelineMemory,
    *,
    iterations: int = 1,
    chunk_size: int = 32,
    constrain: bool = True,
    progress: Progress = _no_progress,
) -> GatherSummary:
    """Answer the train split; every mistake goes to the study assistant, its guideline into
    memory; mistakes are retried with their retrieved guidelines up to `iterations` times."""
    summary = GatherSummary(questions=len(train))
    results = _chunked(
        train,
        lambda chunk: answer_questions(chunk, models.main, models.main_params, constrain=constrain),
        size=chunk_size,
        label="gather: answer",
        progress=progress,
    )
    by_id = {question.id: question for question in train}
    memory.add(
        [
            correct_entry(by_id[r.question_id], entry_id=f"correct:{r.question_id}")
            for r in results
            if r.correct
        ]
    )
    summary.first_correct = sum(r.correct for r in results)
    wrong = [r for r in results if not r.correct]
    summary.mistakes = len(wrong)
    for iteration in range(1, iterations + 1):
        if not wrong or models.assistant is None:
            break
        wrong = _learn_from(
            wrong, by_id, models, memory, iteration, summary, chunk_size, constrain, progress
        )
    return summary


def _learn_from(
    wrong: list[AnswerResult],
    by_id: dict[str, QuestionRecord],
    models: Models,
    memory: GuidelineMemory,
    iteration: int,
    summary: GatherSummary,
    chunk_size: int,
    constrain: bool,
    progress: Progress,
) -> list[AnswerResult]:
    """One round: analyse the mistakes, remember the guidelines, retry; return what is still
    wrong."""
    assert models.assistant is not None and models.assistant_params is not None
    assistant, assistant_params = models.assistant, models.assistant_params
    mistakes = [(by_id[r.question_id], r.answer or r.output.strip()[:200]) for r in wrong]
    analyses = _chunked(
        mistakes,
        lambda chunk: analyze_mistakes(chunk, assistant, assistant_params),
        size=chunk_size,
        label=f"gather: study assistant #{iteration}",
        progress=progress,
    )
    summary.analyses.extend(analyses)
    summary.failures.update(a.failure for a in analyses if a.failure)
    entries: list[MemoryEntry] = [
        mistake_entry(
            question, answer, analysis.guideline, entry_id=f"mistake:{question.id}:{iteration}"
        )
        for (question, answer), analysis in zip(mistakes, analyses, strict=True)
    ]
    memory.add(entries)
    guided = [by_id[a.question_id] for a in analyses if a.guideline]
    summary.guidelines += len(guided)
    # Cases would show the question's own correct answer, so a retry sees guidelines only.
    retried = _chunked(
        guided,
        lambda chunk: answer_questions(
            chunk,
            models.main,
            models.main_params,
            retrieve_contexts(chunk, "feedback_only", memory),
            constrain=constrain,
        ),
        size=chunk_size,
        label=f"gather: retry #{iteration}",
        progress=progress,
    )
    summary.retries += len(retried)
    summary.retries_correct += sum(r.correct for r in retried)
    return [r for r in retried if not r.correct]


def examine(
    test: Sequence[QuestionRecord],
    strategy: Strategy,
    models: Models,
    memory: GuidelineMemory | None,
    *,
    chunk_size: int = 32,
    constrain: bool = True,
    progress: Progress = _no_progress,
) -> ExamResult:
    """Answer the test split with what `strategy` puts in front of each question."""

    def step(chunk: Sequence[QuestionRecord]) -> list[AnswerResult]:
        if strategy == "agent":
            assert models.assistant is not None and models.assistant_params is not None
            foreseen = predict_mistakes(chunk, models.assistant, models.assistant_params)
            contexts = agent_contexts(foreseen)
        else:
            contexts = retrieve_contexts(chunk, strategy, memory)
        return answer_questions(
            chunk, models.main, models.main_params, contexts, constrain=constrain
        )

    results = _chunked(test, step, size=chunk_size, label=f"exam: {strategy}", progress=progress)
    by_id = {question.id: question for question in test}
    scores = score_by_task(
        strategy, [by_id[r.question_id].task for r in results], [r.correct for r in results]
    )
    return ExamResult(strategy, scores, tuple(results))
