"""The life cycle of one question, written once: what was last written for it decides what
happens next.

    unseen ──► answer (or, agent strategy: predict, then answer)
    answer ──► backend error ─► failed
           ├─► right ─────────► correct      (a right retry makes its guideline's trace successful)
           ├─► wrong, no tries left (exam, or gather at max iterations) ─► wrong
           └─► wrong ─────────► analyze
    analyze ─► backend error ─► failed
            ├─► no usable guideline ─► wrong
            └─► guideline ───► answer again at the next iteration

The in-process evaluation, the workers and `submit --resume` all ask `next_step`; none of
them decides on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from salam.strategies import Strategy

State = Literal["pending", "correct", "wrong", "failed"]
FinalState = Literal["correct", "wrong", "failed"]
Mode = Literal["gather", "exam"]
Action = Literal["answer", "predict", "analyze", "settle"]
# `failure` of an analysis whose backend gave no output (the others say why the output was
# unusable).
BACKEND_FAILURE = "backend"
# A retry reads guidelines only: cases would show the question's own correct answer.
RETRY_STRATEGY: Strategy = "feedback_only"
Event = Literal[
    "unseen",
    "unforeseen",
    "answer_failed",
    "answered_right",
    "answered_wrong",
    "out_of_tries",
    "analysis_failed",
    "unguided",
    "guided",
]


@dataclass(frozen=True)
class Transition:
    """What an event leads to: an action, and for `settle` the final state."""

    action: Action
    state: State = "pending"
    next_iteration: bool = False  # `answer` at the iteration after the last attempt's


TRANSITIONS: dict[Event, Transition] = {
    "unseen": Transition("answer"),
    "unforeseen": Transition("predict"),
    "answer_failed": Transition("settle", "failed"),
    "answered_right": Transition("settle", "correct"),
    "out_of_tries": Transition("settle", "wrong"),
    "answered_wrong": Transition("analyze"),
    "analysis_failed": Transition("settle", "failed"),
    "unguided": Transition("settle", "wrong"),
    "guided": Transition("answer", next_iteration=True),
}


@dataclass(frozen=True)
class RunRules:
    """What of a run the life cycle depends on."""

    mode: Mode
    max_iterations: int
    predicts: bool = False  # the agent strategy: the study assistant speaks first

    @classmethod
    def of(cls, mode: str, max_iterations: int, strategy: str) -> RunRules:
        """The rules of a stored run."""
        if mode not in ("gather", "exam"):
            raise ValueError(f"unknown run mode {mode!r}")
        checked: Mode = "gather" if mode == "gather" else "exam"
        return cls(checked, max_iterations, predicts=strategy == "agent")


class AnswerFacts(Protocol):
    """The last answer written for a question (an Attempt row, or an in-process result)."""

    @property
    def iteration(self) -> int: ...
    @property
    def correct(self) -> bool: ...
    @property
    def error(self) -> str | None: ...  # set when the backend gave no answer


class AnalysisFacts(Protocol):
    """The study assistant's feedback on that answer (an Analysis row, or a result)."""

    @property
    def guideline(self) -> str | None: ...  # None when no usable guideline came out
    @property
    def failure(self) -> str | None: ...


@dataclass(frozen=True)
class Step:
    event: Event
    action: Action
    state: State
    iteration: int  # for `answer`: the iteration to answer at; else the last attempt's


def classify(
    rules: RunRules,
    answer: AnswerFacts | None,
    analysis: AnalysisFacts | None = None,
    *,
    foreseen: bool = False,
) -> Event:
    """The event that what was written for a question amounts to."""
    if answer is None:
        return "unforeseen" if rules.predicts and not foreseen else "unseen"
    if answer.error is not None:
        return "answer_failed"
    if answer.correct:
        return "answered_right"
    if rules.mode != "gather" or answer.iteration >= rules.max_iterations:
        return "out_of_tries"
    if analysis is None:
        return "answered_wrong"
    if analysis.failure == BACKEND_FAILURE:
        return "analysis_failed"
    return "guided" if analysis.guideline else "unguided"


def next_step(
    rules: RunRules,
    answer: AnswerFacts | None,
    analysis: AnalysisFacts | None = None,
    *,
    foreseen: bool = False,
) -> Step:
    """What happens next to a question, given the last answer and analysis written for it."""
    event = classify(rules, answer, analysis, foreseen=foreseen)
    transition = TRANSITIONS[event]
    iteration = answer.iteration if answer is not None else 0
    if transition.next_iteration:
        iteration += 1
    return Step(event, transition.action, transition.state, iteration)


def successful_trace(answer: AnswerFacts) -> bool:
    """A retry answered right: the guideline before it worked."""
    return answer.iteration > 0 and answer.correct and answer.error is None


def stated_answer(answer: str | None, output: str) -> str:
    """What the study assistant is told the model answered: the extracted option, else the
    start of the raw output, else that there was none."""
    return answer or output.strip()[:200] or "nothing (an empty response)"
