"""The steps of SALAM as plain functions over records: answer, analyse, retrieve.

Both the in-process evaluation and the Celery tasks call these; nothing here knows about
queues or tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from salam.assistant import parse_feedback
from salam.grading import grade
from salam.lifecycle import BACKEND_FAILURE
from salam.llm import LLM, GenerationParams, Prompt
from salam.memory import GuidelineMemory, Hit, MemoryEntry
from salam.prompts import (
    Case,
    agent_prompt,
    answer_constraint,
    exam_prompt,
    feedback_constraint,
    feedback_prompt,
)
from salam.records import QuestionRecord
from salam.strategies import SPECS, Strategy


@dataclass(frozen=True)
class ExamContext:
    """What is put in front of one question: guidelines, past cases, and where they came from."""

    guidelines: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()
    source_ids: tuple[str, ...] = ()


NO_CONTEXT = ExamContext()


@dataclass(frozen=True)
class AnswerResult:
    question_id: str
    prompt: str
    output: str
    answer: str | None
    correct: bool
    latency_s: float
    error: str | None = None
    source_ids: tuple[str, ...] = ()
    iteration: int = 0  # 0: the first try; n: the n-th retry after feedback
    transient: bool = False  # `error` may pass: the job system retries rather than records it


@dataclass(frozen=True)
class AnalysisResult:
    """The study assistant's word on one question; `guideline` is None when it gave none usable."""

    question_id: str
    prompt: str
    output: str
    reason: str | None
    guideline: str | None
    failure: str | None = None
    detail: str = ""
    transient: bool = False  # a backend failure that may pass


def answer_questions(
    questions: Sequence[QuestionRecord],
    llm: LLM,
    params: GenerationParams,
    contexts: Sequence[ExamContext] | None = None,
    *,
    constrain: bool = True,
    iteration: int = 0,
) -> list[AnswerResult]:
    """Answer a chunk of questions in one batched call and grade each answer."""
    contexts = contexts or [NO_CONTEXT] * len(questions)
    assert len(contexts) == len(questions), "one context per question"
    texts = [
        exam_prompt(question, guidelines=context.guidelines, cases=context.cases)
        for question, context in zip(questions, contexts, strict=True)
    ]
    prompts = [
        Prompt(text, constraint=answer_constraint(question) if constrain else None)
        for question, text in zip(questions, texts, strict=True)
    ]
    completions = llm.generate(prompts, params)
    results = []
    for question, context, text, completion in zip(
        questions, contexts, texts, completions, strict=True
    ):
        graded = grade(question, completion.text)
        results.append(
            AnswerResult(
                question_id=question.id,
                prompt=text,
                output=completion.text,
                answer=graded.answer,
                correct=graded.correct and completion.ok,
                latency_s=completion.latency_s,
                error=completion.error,
                source_ids=context.source_ids,
                iteration=iteration,
                transient=completion.transient,
            )
        )
    return results


def analyze_mistakes(
    mistakes: Sequence[tuple[QuestionRecord, str]],
    assistant: LLM,
    params: GenerationParams,
) -> list[AnalysisResult]:
    """Feedback mode: the study assistant explains each (question, wrong answer) pair."""
    texts = [feedback_prompt(question, answer) for question, answer in mistakes]
    return _ask_assistant([question for question, _ in mistakes], texts, assistant, params)


def predict_mistakes(
    questions: Sequence[QuestionRecord], assistant: LLM, params: GenerationParams
) -> list[AnalysisResult]:
    """Agent mode: the study assistant foresees the likely mistake on unseen questions."""
    texts = [agent_prompt(question) for question in questions]
    return _ask_assistant(questions, texts, assistant, params)


def _ask_assistant(
    questions: Sequence[QuestionRecord],
    texts: Sequence[str],
    assistant: LLM,
    params: GenerationParams,
) -> list[AnalysisResult]:
    prompts = [Prompt(text, constraint=feedback_constraint()) for text in texts]
    completions = assistant.generate(prompts, params)
    results = []
    for question, text, completion in zip(questions, texts, completions, strict=True):
        if not completion.ok:
            results.append(
                AnalysisResult(
                    question.id,
                    text,
                    "",
                    None,
                    None,
                    failure=BACKEND_FAILURE,
                    detail=completion.error or "",
                    transient=completion.transient,
                )
            )
            continue
        parsed = parse_feedback(completion.text, question)
        feedback = parsed.feedback
        results.append(
            AnalysisResult(
                question_id=question.id,
                prompt=text,
                output=completion.text,
                reason=feedback.reason if feedback else None,
                guideline=feedback.guideline if feedback else None,
                failure=parsed.failure,
                detail=parsed.detail,
            )
        )
    return results


def passing_failures(results: Sequence[AnswerResult | AnalysisResult]) -> list[str]:
    """The errors among `results` that may pass (an overloaded or restarting server)."""
    return [
        (r.error if isinstance(r, AnswerResult) else r.detail) or "backend failure"
        for r in results
        if r.transient
    ]


def mistake_entry(
    question: QuestionRecord, answer: str, guideline: str | None, *, entry_id: str
) -> MemoryEntry:
    return MemoryEntry(
        id=entry_id,
        kind="mistake",
        question=question.prompt,
        answer=answer,
        target=question.target,
        guideline=guideline,
        task=question.task,
    )


def correct_entry(question: QuestionRecord, *, entry_id: str) -> MemoryEntry:
    return MemoryEntry(
        id=entry_id,
        kind="correct",
        question=question.prompt,
        answer=question.target,
        target=question.target,
        task=question.task,
    )


def retrieve_contexts(
    questions: Sequence[QuestionRecord],
    strategy: Strategy,
    memory: GuidelineMemory | None,
) -> list[ExamContext]:
    """The retrieved guidelines and cases for each question under a memory-based strategy."""
    group = SPECS[strategy].reads
    if memory is None or group is None:
        return [NO_CONTEXT] * len(questions)
    hits = memory.search_many([question.prompt for question in questions], group=group)
    return [context_from_hits(found, strategy) for found in hits]


def context_from_hits(hits: Sequence[Hit], strategy: Strategy) -> ExamContext:
    spec = SPECS[strategy]
    guidelines = tuple(
        hit.entry.guideline for hit in hits if spec.shows_guidelines and hit.entry.guideline
    )
    cases = tuple(
        Case(question=hit.entry.question, answer=hit.entry.target)
        for hit in hits
        if spec.shows_cases
    )
    return ExamContext(guidelines, cases, tuple(hit.entry.id for hit in hits))


def agent_contexts(analyses: Sequence[AnalysisResult]) -> list[ExamContext]:
    """Agent mode: each question gets the guideline the study assistant wrote for it."""
    return [
        ExamContext(guidelines=(analysis.guideline,)) if analysis.guideline else NO_CONTEXT
        for analysis in analyses
    ]
