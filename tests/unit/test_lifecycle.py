"""The question life cycle: every event, and where each one leads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import pytest

from salam.lifecycle import (
    BACKEND_FAILURE,
    TRANSITIONS,
    Event,
    RunRules,
    classify,
    next_step,
    stated_answer,
    successful_trace,
)


@dataclass(frozen=True)
class Answered:
    iteration: int = 0
    correct: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Analysed:
    guideline: str | None = None
    failure: str | None = None


GATHER = RunRules("gather", max_iterations=1)
EXAM = RunRules("exam", max_iterations=0)
AGENT = RunRules("exam", max_iterations=0, predicts=True)


def test_every_event_has_a_transition() -> None:
    assert set(TRANSITIONS) == set(get_args(Event))
    for event, transition in TRANSITIONS.items():
        settles = transition.action == "settle"
        assert settles == (transition.state != "pending"), event


@pytest.mark.parametrize(
    ("rules", "answer", "analysis", "foreseen", "event", "action", "state", "iteration"),
    [
        (GATHER, None, None, False, "unseen", "answer", "pending", 0),
        (AGENT, None, None, False, "unforeseen", "predict", "pending", 0),
        (AGENT, None, None, True, "unseen", "answer", "pending", 0),
        (GATHER, Answered(error="HTTP 503"), None, False, "answer_failed", "settle", "failed", 0),
        (GATHER, Answered(correct=True), None, False, "answered_right", "settle", "correct", 0),
        (EXAM, Answered(), None, False, "out_of_tries", "settle", "wrong", 0),
        (GATHER, Answered(iteration=1), None, False, "out_of_tries", "settle", "wrong", 1),
        (GATHER, Answered(), None, False, "answered_wrong", "analyze", "pending", 0),
        (
            GATHER,
            Answered(),
            Analysed(failure=BACKEND_FAILURE),
            False,
            "analysis_failed",
            "settle",
            "failed",
            0,
        ),
        (GATHER, Answered(), Analysed(failure="leak"), False, "unguided", "settle", "wrong", 0),
        (
            GATHER,
            Answered(),
            Analysed(guideline="Read again."),
            False,
            "guided",
            "answer",
            "pending",
            1,
        ),
        (
            GATHER,
            Answered(iteration=1, correct=True),
            None,
            False,
            "answered_right",
            "settle",
            "correct",
            1,
        ),
    ],
)
def test_next_step(
    rules: RunRules,
    answer: Answered | None,
    analysis: Analysed | None,
    foreseen: bool,
    event: str,
    action: str,
    state: str,
    iteration: int,
) -> None:
    step = next_step(rules, answer, analysis, foreseen=foreseen)
    assert (step.event, step.action, step.state, step.iteration) == (
        event,
        action,
        state,
        iteration,
    )


def test_a_backend_error_wins_over_a_lucky_grade() -> None:
    # A backend that failed may still leave text that grades right; it is not an answer.
    assert classify(GATHER, Answered(correct=True, error="timeout")) == "answer_failed"


def test_more_iterations_keep_a_wrong_retry_going() -> None:
    rules = RunRules("gather", max_iterations=2)
    assert next_step(rules, Answered(iteration=1)).action == "analyze"
    assert next_step(rules, Answered(iteration=2)).state == "wrong"


def test_only_a_right_retry_is_a_successful_trace() -> None:
    assert successful_trace(Answered(iteration=1, correct=True))
    assert not successful_trace(Answered(iteration=0, correct=True))
    assert not successful_trace(Answered(iteration=1, correct=False))


def test_rules_of_a_stored_run() -> None:
    assert RunRules.of("exam", 0, "agent") == AGENT
    assert RunRules.of("gather", 1, "feedback_only") == GATHER
    with pytest.raises(ValueError, match="unknown run mode"):
        RunRules.of("train", 0, "none")


@pytest.mark.parametrize(
    ("answer", "output", "stated"),
    [
        ("(B)", "The answer is (B).", "(B)"),
        (None, "  I am not sure.  ", "I am not sure."),
        (None, "", "nothing (an empty response)"),
        (None, "x" * 300, "x" * 200),
    ],
)
def test_stated_answer(answer: str | None, output: str, stated: str) -> None:
    assert stated_answer(answer, output) == stated
