"""The study assistant's steps: `analyze` (feedback on mistakes, gather mode) and `predict`
(a guideline for an unseen test question, agent strategy)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sqlmodel import Session

from models import (
    QUESTION_PENDING,
    Analysis,
    Attempt,
    Guideline,
    Question,
    analyses_at,
    analyses_of_attempts,
    attempts_at,
    get_attempts,
    get_questions,
    record_analyses,
    record_guidelines,
    saved_id,
    session_scope,
    settle_questions,
)
from salam.embedding import vector_to_bytes
from salam.lifecycle import Step, next_step, stated_answer
from salam.pipeline import AnalysisResult, analyze_mistakes, predict_mistakes
from workers import resources
from workers.queues import ANSWER_TASK, FollowUp
from workers.records import question_record, run_plan


def analyze_chunk(run_id: int, attempt_ids: Sequence[int]) -> list[FollowUp]:
    """Feedback on each wrong attempt; a guideline is stored with its embedding, and each
    question moves on as `salam.lifecycle` says (a retry with its guideline, or a final state)."""
    with session_scope() as session:
        run = run_plan(session, run_id)
        if run is None:
            return []
        attempts = get_attempts(session=session, attempt_ids=attempt_ids)
        questions = _by_id(get_questions(session=session, question_ids=_question_ids(attempts)))
        done = analyses_of_attempts(session=session, attempt_ids=attempt_ids)
    todo = [
        attempt
        for attempt in attempts
        if attempt.id not in done and questions[attempt.question_id].status == QUESTION_PENDING
    ]
    analyses, vectors = _feedback(run_id, todo, questions) if todo else ([], {})
    with session_scope(write=True) as session:
        record_analyses(session=session, analyses=analyses)
        stored = analyses_of_attempts(session=session, attempt_ids=attempt_ids)
        record_guidelines(
            session=session,
            guidelines=[
                _guideline(stored[attempt_id], questions[stored[attempt_id].question_id], vector)
                for attempt_id, vector in vectors.items()
                if stored[attempt_id].guideline
            ],
        )
        steps = [
            (attempt, next_step(run.rules, attempt, stored[saved_id(attempt)]))
            for attempt in attempts
            if saved_id(attempt) in stored
        ]
        settle_questions(
            session=session,
            run_id=run_id,
            outcomes={a.question_id: s.state for a, s in steps if s.action == "settle"},
        )
        return _retries(session, run_id, steps)


def _feedback(
    run_id: int, attempts: Sequence[Attempt], questions: dict[int, Question]
) -> tuple[list[Analysis], dict[int, np.ndarray]]:
    loaded = resources.assistant_llm()
    rows = [questions[attempt.question_id] for attempt in attempts]
    results = analyze_mistakes(
        [
            (question_record(row), stated_answer(attempt.answer, attempt.output))
            for row, attempt in zip(rows, attempts, strict=True)
        ],
        loaded.llm,
        loaded.params,
    )
    resources.retry_if_passing(loaded, results)
    # The memory key is the question text, so its vector does not depend on the feedback.
    keys = resources.embedder().encode([row.prompt for row in rows])
    analyses = [
        _analysis(run_id, saved_id(row), attempt, result, loaded)
        for row, attempt, result in zip(rows, attempts, results, strict=True)
    ]
    vectors = {saved_id(attempt): keys[i] for i, attempt in enumerate(attempts)}
    return analyses, vectors


def _retries(
    session: Session, run_id: int, steps: Sequence[tuple[Attempt, Step]]
) -> list[FollowUp]:
    """An `answer` task per iteration for the guided mistakes not retried yet."""
    by_iteration: dict[int, list[int]] = defaultdict(list)
    for attempt, step in steps:
        if step.action == "answer":
            by_iteration[step.iteration].append(attempt.question_id)
    follow_ups = []
    for iteration, question_ids in sorted(by_iteration.items()):
        retried = attempts_at(
            session=session, run_id=run_id, question_ids=question_ids, iteration=iteration
        )
        waiting = [question_id for question_id in question_ids if question_id not in retried]
        if waiting:
            follow_ups.append(FollowUp(ANSWER_TASK, (run_id, waiting, iteration)))
    return follow_ups


def predict_chunk(run_id: int, question_ids: Sequence[int]) -> list[FollowUp]:
    """Agent strategy: the study assistant foresees each question's likely mistake; the
    questions are then answered with its guideline."""
    with session_scope() as session:
        questions = get_questions(session=session, question_ids=question_ids)
        done = analyses_at(session=session, question_ids=question_ids, iteration=0, mode="agent")
    todo = [q for q in questions if q.id not in done and q.status == QUESTION_PENDING]
    if todo:
        loaded = resources.assistant_llm()
        results = predict_mistakes(
            [question_record(question) for question in todo], loaded.llm, loaded.params
        )
        resources.retry_if_passing(loaded, results)
        analyses = [
            _analysis(run_id, saved_id(question), None, result, loaded)
            for question, result in zip(todo, results, strict=True)
        ]
        with session_scope(write=True) as session:
            record_analyses(session=session, analyses=analyses)
    with session_scope() as session:
        answered = attempts_at(
            session=session, run_id=run_id, question_ids=question_ids, iteration=0
        )
    waiting = [
        saved_id(q) for q in questions if q.status == QUESTION_PENDING and q.id not in answered
    ]
    return [FollowUp(ANSWER_TASK, (run_id, waiting, 0))] if waiting else []


def _analysis(
    run_id: int,
    question_id: int,
    attempt: Attempt | None,
    result: AnalysisResult,
    loaded: resources.LoadedLLM,
) -> Analysis:
    return Analysis(
        run_id=run_id,
        question_id=question_id,
        attempt_id=attempt.id if attempt else None,
        iteration=attempt.iteration if attempt else 0,
        mode="feedback" if attempt else "agent",
        prompt=result.prompt,
        output=result.output,
        reason=result.reason,
        guideline=result.guideline,
        failure=result.failure,
        detail=result.detail,
        model_id=loaded.llm.model_id,
        assistant_version=loaded.version,
    )


def _guideline(analysis: Analysis, question: Question, vector: np.ndarray) -> Guideline:
    return Guideline(
        analysis_id=saved_id(analysis),
        run_id=analysis.run_id,
        text=analysis.guideline or "",
        key=question.prompt,
        embedding=vector_to_bytes(vector),
        dim=int(vector.shape[0]),
        embedder_id=resources.embedder_id(),
    )


def _question_ids(attempts: Sequence[Attempt]) -> list[int]:
    return sorted({attempt.question_id for attempt in attempts})


def _by_id(questions: Sequence[Question]) -> dict[int, Question]:
    return {saved_id(question): question for question in questions}
