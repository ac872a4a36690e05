"""The `answer` step: a chunk of questions answered by the main LLM in one batched call.

Redelivery is harmless: questions already answered at this iteration are not asked again,
attempts and traces are unique, and only pending questions change state.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from models import (
    QUESTION_PENDING,
    Attempt,
    Question,
    Trace,
    analyses_at,
    attempts_at,
    questions_with_attempts,
    record_attempts,
    record_examples_of_traces,
    record_traces,
    saved_id,
    session_scope,
    settle_questions,
)
from salam.lifecycle import RunRules, next_step, successful_trace
from salam.pipeline import (
    NO_CONTEXT,
    AnswerResult,
    ExamContext,
    agent_contexts,
    answer_questions,
    retrieve_contexts,
)
from salam.prompts import PROMPT_VERSION
from salam.settings import get_settings
from salam.strategies import needs_memory
from workers import resources
from workers.memories import memory_of_runs
from workers.queues import ANALYZE_TASK, FollowUp
from workers.records import RunPlan, analysis_result, question_record, run_plan


def answer_chunk(run_id: int, question_ids: Sequence[int], iteration: int) -> list[FollowUp]:
    with session_scope() as session:
        run = run_plan(session, run_id)
        if run is None:
            return []
        rows = questions_with_attempts(
            session=session, question_ids=question_ids, iteration=iteration
        )
        questions = [question for question, _ in rows]
        todo = [q for q, answered in rows if answered is None and q.status == QUESTION_PENDING]
        contexts = question_contexts(session, run, todo, iteration) if todo else []
    attempts = ask_main_llm(run_id, todo, contexts, iteration) if todo else []
    with session_scope(write=True) as session:
        stored = _stored_attempts(session, run_id, question_ids, iteration, attempts)
        if iteration > 0:
            _record_traces(session, stored, iteration)
        pending = [q for q in questions if q.status == QUESTION_PENDING and q.id in stored]
        outcomes, mistakes = judge(run.rules, [stored[q.id] for q in pending if q.id is not None])
        settle_questions(session=session, run_id=run_id, outcomes=outcomes)
        analysed = analyses_at(
            session=session,
            question_ids=[attempt.question_id for attempt in mistakes],
            iteration=iteration,
            mode="feedback",
        )
        to_analyze = [saved_id(a) for a in mistakes if a.question_id not in analysed]
    return [FollowUp(ANALYZE_TASK, (run_id, to_analyze))] if to_analyze else []


def _stored_attempts(
    session: Session,
    run_id: int,
    question_ids: Sequence[int],
    iteration: int,
    attempts: Sequence[Attempt],
) -> dict[int, Attempt]:
    """Write the new attempts; return every stored attempt of the chunk by question id. Only
    those not written just now (an earlier delivery's) are read back."""
    new_ids = record_attempts(session=session, attempts=attempts)
    stored = {}
    for attempt in attempts:
        if attempt.question_id in new_ids:
            attempt.id = new_ids[attempt.question_id]
            stored[attempt.question_id] = attempt
    earlier = [question_id for question_id in question_ids if question_id not in stored]
    stored |= attempts_at(session=session, run_id=run_id, question_ids=earlier, iteration=iteration)
    return stored


def question_contexts(
    session: Session, run: RunPlan, questions: Sequence[Question], iteration: int
) -> list[ExamContext]:
    """What the run's mode and strategy put in front of each question."""
    records = [question_record(question) for question in questions]
    strategy = run.strategy
    if run.rules.mode == "gather":
        # A retry reads the run's own guidelines (the producer makes them guidelines only).
        if iteration == 0:
            return [NO_CONTEXT] * len(questions)
        memory = memory_of_runs(session, [run.id, *run.memory_from])
        return retrieve_contexts(records, strategy, memory)
    if strategy == "agent":
        foreseen = analyses_at(
            session=session,
            question_ids=[saved_id(q) for q in questions],
            iteration=0,
            mode="agent",
        )
        return [
            agent_contexts([analysis_result(foreseen[q.id], q)])[0]
            if q.id in foreseen
            else NO_CONTEXT
            for q in questions
        ]
    if not needs_memory(strategy):
        return [NO_CONTEXT] * len(questions)
    return retrieve_contexts(records, strategy, memory_of_runs(session, run.memory_from))


def ask_main_llm(
    run_id: int, questions: Sequence[Question], contexts: Sequence[ExamContext], iteration: int
) -> list[Attempt]:
    loaded = resources.main_llm()
    results = answer_questions(
        [question_record(question) for question in questions],
        loaded.llm,
        loaded.params,
        contexts,
        constrain=get_settings().constrain_answers,
    )
    resources.retry_if_passing(loaded, results)
    return [
        _attempt(run_id, saved_id(question), iteration, result, loaded)
        for question, result in zip(questions, results, strict=True)
    ]


def _attempt(
    run_id: int,
    question_id: int,
    iteration: int,
    result: AnswerResult,
    loaded: resources.LoadedLLM,
) -> Attempt:
    return Attempt(
        run_id=run_id,
        question_id=question_id,
        iteration=iteration,
        prompt=result.prompt,
        output=result.output,
        answer=result.answer,
        correct=result.correct,
        latency_s=result.latency_s,
        backend=loaded.backend,
        model_id=loaded.llm.model_id,
        error=result.error,
        memory_ids=list(result.source_ids),
    )


def judge(rules: RunRules, attempts: Sequence[Attempt]) -> tuple[dict[int, str], list[Attempt]]:
    """Final states of the answered questions, and the mistakes still to learn from."""
    outcomes: dict[int, str] = {}
    mistakes: list[Attempt] = []
    for attempt in attempts:
        step = next_step(rules, attempt)
        if step.action == "settle":
            outcomes[attempt.question_id] = step.state
        else:
            mistakes.append(attempt)
    return outcomes, mistakes


def _record_traces(session: Session, retries: dict[int, Attempt], iteration: int) -> None:
    """The retries' traces and, in the same transaction, the training example of each
    successful one: a successful trace never exists without its example."""
    traces = _traces(session, retries, iteration)
    record_traces(session=session, traces=traces)
    record_examples_of_traces(
        session=session,
        analysis_ids=[trace.analysis_id for trace in traces if trace.successful],
        prompt_version=PROMPT_VERSION,
    )


def _traces(session: Session, retries: dict[int, Attempt], iteration: int) -> list[Trace]:
    """Each retry says whether the guideline of the mistake before it worked."""
    analyses = analyses_at(
        session=session, question_ids=list(retries), iteration=iteration - 1, mode="feedback"
    )
    return [
        Trace(
            analysis_id=saved_id(analysis),
            retry_attempt_id=saved_id(retries[question_id]),
            successful=successful_trace(retries[question_id]),
        )
        for question_id, analysis in analyses.items()
    ]
