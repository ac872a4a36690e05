"""The paper's table rows as named strategies: what goes in front of a test question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from salam.errors import ConfigError
from salam.memory import MemoryGroup

Strategy = Literal["none", "correct", "mistake", "feedback", "feedback_only", "agent"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


@dataclass(frozen=True)
class StrategySpec:
    """One table row: which memory group it reads (None: none) and what it shows of a hit."""

    description: str
    reads: MemoryGroup | None
    shows_cases: bool
    shows_guidelines: bool


SPECS: dict[Strategy, StrategySpec] = {
    "none": StrategySpec(
        "M: the question alone",
        reads=None,
        shows_cases=False,
        shows_guidelines=False,
    ),
    "correct": StrategySpec(
        "M w/ O_corr: similar questions answered correctly, with their answers",
        reads="correct",
        shows_cases=True,
        shows_guidelines=False,
    ),
    "mistake": StrategySpec(
        "M w/ O_err: similar past mistakes, with their correct answers",
        reads="mistake",
        shows_cases=True,
        shows_guidelines=False,
    ),
    "feedback": StrategySpec(
        "SALAM: guidelines of similar past mistakes, and those mistakes",
        reads="guided",
        shows_cases=True,
        shows_guidelines=True,
    ),
    "feedback_only": StrategySpec(
        "guidelines of similar past mistakes only",
        reads="guided",
        shows_cases=False,
        shows_guidelines=True,
    ),
    # Its guideline comes from the study assistant at test time, not from the memory.
    "agent": StrategySpec(
        "the study assistant writes a guideline for the test question itself",
        reads=None,
        shows_cases=False,
        shows_guidelines=True,
    ),
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
    return SPECS[strategy].reads is not None
