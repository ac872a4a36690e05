"""The two phases of SALAM in one process: gather on the train split, examine the test split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from salam.lifecycle import (
    RETRY_STRATEGY,
    FinalState,
    RunRules,
    Step,
    next_step,
    stated_answer,
    successful_trace,
)
from salam.llm import LLM, GenerationParams
from salam.memory import GuidelineMemory
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


def no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _done: None


@dataclass(frozen=True)
class Models:
    main: LLM
    main_params: GenerationParams
    assistant: LLM | None = None
    assistant_params: GenerationParams | None = None


@dataclass
class GatherSummary:
    """What the gather phase did: how many mistakes, guidelines, and retries that then worked,
    and where each question ended (its final state, as the job system would store it)."""

    questions: int = 0
    first_correct: int = 0
    mistakes: int = 0
    guidelines: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    retries_correct: int = 0
    analyses: list[AnalysisResult] = field(default_factory=list)
    outcomes: dict[str, FinalState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "questions": self.questions,
            "first_correct": self.first_correct,
            "mistakes": self.mistakes,
            "guidelines": self.guidelines,
            "failures": dict(self.failures),
            "retries": self.retries,
            "retries_correct": self.retries_correct,
            "outcomes": dict(Counter(self.outcomes.values())),
            "question_outcomes": self.outcomes,
        }

    def describe(self) -> str:
        failures = ", ".join(f"{k} {v}" for k, v in self.failures.items()) or "none"
        failed = Counter(self.outcomes.values())["failed"]
        return (
            f"gather: {self.questions} questions, {self.first_correct} right first time, "
            f"{self.mistakes} mistakes -> {self.guidelines} guidelines (rejected: {failures}); "
            f"retries {self.retries_correct}/{self.retries} right"
            + (f"; {failed} failed (backend errors)" if failed else "")
        )


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
    progress: Progress = no_progress,
) -> GatherSummary:
    """Answer the train split; every mistake goes to the study assistant, its guideline into
    memory; mistakes are retried with their retrieved guidelines up to `iterations` times.
    Each question moves as `salam.lifecycle` says, exactly as in the job system."""
    rules = RunRules("gather", iterations if models.assistant is not None else 0)
    summary = GatherSummary(questions=len(train))
    by_id = {question.id: question for question in train}
    answers = _answer(train, models, 0, None, chunk_size, constrain, progress)
    memory.add(
        [
            correct_entry(by_id[r.question_id], entry_id=f"correct:{r.question_id}")
            for r in answers
            if r.correct
        ]
    )
    summary.first_correct = sum(r.correct for r in answers)
    summary.mistakes = sum(r.error is None and not r.correct for r in answers)
    while answers:
        wrong = _settle(summary, [(r, next_step(rules, r)) for r in answers])
        if not wrong:
            break
        retry = _learn_from(wrong, by_id, models, memory, rules, summary, chunk_size, progress)
        iteration = wrong[0].iteration + 1
        answers = _answer(retry, models, iteration, memory, chunk_size, constrain, progress)
        summary.retries += len(answers)
        summary.retries_correct += sum(successful_trace(r) for r in answers)
    return summary


def _answer(
    questions: Sequence[QuestionRecord],
    models: Models,
    iteration: int,
    memory: GuidelineMemory | None,
    chunk_size: int,
    constrain: bool,
    progress: Progress,
) -> list[AnswerResult]:
    """One pass of the main LLM; a retry (iteration > 0) reads the guidelines in memory."""

    def step(chunk: Sequence[QuestionRecord]) -> list[AnswerResult]:
        contexts = retrieve_contexts(chunk, RETRY_STRATEGY, memory) if iteration else None
        return answer_questions(
            chunk,
            models.main,
            models.main_params,
            contexts,
            constrain=constrain,
            iteration=iteration,
        )

    label = f"gather: retry #{iteration}" if iteration else "gather: answer"
    return _chunked(questions, step, size=chunk_size, label=label, progress=progress)


def _settle(summary: GatherSummary, steps: Sequence[tuple[T, Step]]) -> list[T]:
    """Record the final states among `steps`; return the items that go on."""
    going_on = []
    for item, step in steps:
        if step.action == "settle":
            summary.outcomes[_question_id(item)] = _final(step)
        else:
            going_on.append(item)
    return going_on


def _learn_from(
    wrong: list[AnswerResult],
    by_id: dict[str, QuestionRecord],
    models: Models,
    memory: GuidelineMemory,
    rules: RunRules,
    summary: GatherSummary,
    chunk_size: int,
    progress: Progress,
) -> list[QuestionRecord]:
    """One round: analyse the mistakes and remember the guidelines; return the questions to
    retry."""
    assert models.assistant is not None and models.assistant_params is not None
    assistant, assistant_params = models.assistant, models.assistant_params
    iteration = wrong[0].iteration
    mistakes = [(by_id[r.question_id], stated_answer(r.answer, r.output)) for r in wrong]
    analyses = _chunked(
        mistakes,
        lambda chunk: analyze_mistakes(chunk, assistant, assistant_params),
        size=chunk_size,
        label=f"gather: study assistant #{iteration + 1}",
        progress=progress,
    )
    summary.analyses.extend(analyses)
    summary.failures.update(a.failure for a in analyses if a.failure)
    memory.add(
        [
            mistake_entry(
                question, answer, analysis.guideline, entry_id=f"mistake:{question.id}:{iteration}"
            )
            for (question, answer), analysis in zip(mistakes, analyses, strict=True)
        ]
    )
    steps = [(a, next_step(rules, r, a)) for r, a in zip(wrong, analyses, strict=True)]
    guided = _settle(summary, steps)
    summary.guidelines += len(guided)
    return [by_id[analysis.question_id] for analysis in guided]


def _question_id(item: object) -> str:
    assert isinstance(item, (AnswerResult, AnalysisResult)), "a result of one question"
    return item.question_id


def _final(step: Step) -> FinalState:
    assert step.state != "pending", f"{step.event} settles a question"
    return step.state


def examine(
    test: Sequence[QuestionRecord],
    strategy: Strategy,
    models: Models,
    memory: GuidelineMemory | None,
    *,
    chunk_size: int = 32,
    constrain: bool = True,
    progress: Progress = no_progress,
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
        strategy,
        [by_id[r.question_id].task for r in results],
        [r.correct for r in results],
        [r.question_id for r in results],
    )
    return ExamResult(strategy, scores, tuple(results))
