"""`salam submit --resume RUN`: requeue only what is unfinished, each question at its next
step, as read from what was written. Work still in a queue may be done twice; its rows are
not (every write is idempotent)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from models import (
    PendingQuestion,
    Run,
    get_run,
    pending_questions,
    saved_id,
    session_scope,
    settle_questions,
)
from producers.publishing import publish_analyses, publish_answers, publish_predictions
from salam.errors import ConfigError
from salam.lifecycle import RunRules, next_step


@dataclass
class ResumePlan:
    """What each pending question needs next."""

    answers: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    analyses: list[int] = field(default_factory=list)  # attempt ids
    predictions: list[int] = field(default_factory=list)  # question ids
    settle: dict[int, str] = field(default_factory=dict)  # question id -> final state

    @property
    def requeued(self) -> int:
        answers = sum(len(ids) for ids in self.answers.values())
        return answers + len(self.analyses) + len(self.predictions)


def plan_resume(run: Run, pending: Sequence[PendingQuestion]) -> ResumePlan:
    plan = ResumePlan()
    rules = RunRules.of(run.mode, run.max_iterations, run.strategy)
    for question in pending:
        _plan_question(rules, question, plan)
    return plan


def _plan_question(rules: RunRules, question: PendingQuestion, plan: ResumePlan) -> None:
    attempt = question.last_attempt
    step = next_step(rules, attempt, question.last_analysis, foreseen=question.foreseen)
    if step.action == "settle":
        plan.settle[question.question_id] = step.state
    elif step.action == "predict":
        plan.predictions.append(question.question_id)
    elif step.action == "analyze":
        assert attempt is not None, "only an answered question is analysed"
        plan.analyses.append(saved_id(attempt))
    else:
        plan.answers[step.iteration].append(question.question_id)


def resume(run_id: int, chunk_size: int) -> ResumePlan:
    """Settle what is already decided, requeue the rest; returns the plan carried out."""
    with session_scope(write=True) as session:
        run = get_run(session=session, run_id=run_id)
        if run is None:
            raise ConfigError(f"there is no run {run_id}")
        plan = plan_resume(run, pending_questions(session=session, run_id=run_id))
        settle_questions(session=session, run_id=run_id, outcomes=plan.settle)
    for iteration, question_ids in sorted(plan.answers.items()):
        publish_answers(run_id, question_ids, iteration, chunk_size)
    if plan.analyses:
        publish_analyses(run_id, plan.analyses, chunk_size)
    if plan.predictions:
        publish_predictions(run_id, plan.predictions, chunk_size)
    return plan
