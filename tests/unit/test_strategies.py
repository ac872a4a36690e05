import pytest

from salam.errors import ConfigError
from salam.memory import MEMORY_GROUPS
from salam.strategies import SPECS, STRATEGIES, needs_memory, parse_strategies


def test_parse_keeps_the_paper_order() -> None:
    assert parse_strategies("feedback, none") == ["none", "feedback"]


@pytest.mark.parametrize("text", ["", "salam", "none,bogus"])
def test_unknown_strategies_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="choose from"):
        parse_strategies(text)


def test_every_strategy_has_one_spec() -> None:
    assert tuple(SPECS) == STRATEGIES


def test_every_strategy_but_none_and_agent_reads_memory() -> None:
    assert [s for s in STRATEGIES if not needs_memory(s)] == ["none", "agent"]


def test_each_strategy_reads_the_group_the_paper_describes() -> None:
    reads = {name: spec.reads for name, spec in SPECS.items() if spec.reads}
    assert reads == {
        "correct": "correct",
        "mistake": "mistake",
        "feedback": "guided",
        "feedback_only": "guided",
    }
    assert set(reads.values()) == set(MEMORY_GROUPS)


def test_only_salam_shows_both_guidelines_and_cases() -> None:
    both = [name for name, spec in SPECS.items() if spec.shows_cases and spec.shows_guidelines]
    assert both == ["feedback"]
