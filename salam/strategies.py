"""The paper's table rows as named strategies: what goes in front of a test question."""

from __future__ import annotations

from typing import Literal, get_args

from salam.errors import ConfigError
from salam.memory import Source

Strategy = Literal["none", "correct", "mistake", "feedback", "feedback_only", "agent"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)

DESCRIPTIONS: dict[Strategy, str] = {
    "none": "M: the question alone",
    "correct": "M w/ O_corr: similar questions answered correctly, with their answers",
    "mistake": "M w/ O_err: similar past mistakes, with their correct answers",
    "feedback": "SALAM: guidelines of similar past mistakes, and those mistakes",
    "feedback_only": "guidelines of similar past mistakes only",
    "agent": "the study assistant writes a guideline for the test question itself",
}

# Which memory entries each strategy reads, and what it shows of them.
SHOWS_CASES: dict[Strategy, bool] = {
    "none": False,
    "correct": True,
    "mistake": True,
    "feedback": True,
    "feedback_only": False,
    "agent": False,
}
SHOWS_GUIDELINES: dict[Strategy, bool] = {
    "none": False,
    "correct": False,
    "mistake": False,
    "feedback": True,
    "feedback_only": True,
    "agent": True,
}


# The memory entries a strategy retrieves; None: it retrieves nothing.
MEMORY_SOURCE: dict[Strategy, Source | None] = {
    "none": None,
    "correct": "correct",
    "mistake": "mistake",
    "feedback": "feedback",
    "feedback_only": "feedback_only",
    "agent": None,
}


def parse_strategies(text: str) -> list[Strategy]:
    """'none,feedback' -> ['none', 'feedback']; unknown names are a ConfigError."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise ConfigError(
            f"unknown strategy {', '.join(unknown) or '(none given)'}: "
            f"choose from {', '.join(STRATEGIES)}"
        )
    return [name for name in STRATEGIES if name in names]


def needs_memory(strategy: Strategy) -> bool:
    return MEMORY_SOURCE[strategy] is not None
