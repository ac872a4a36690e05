import pytest

from salam.errors import ConfigError
from salam.strategies import STRATEGIES, needs_memory, parse_strategies


def test_parse_keeps_the_paper_order() -> None:
    assert parse_strategies("feedback, none") == ["none", "feedback"]


@pytest.mark.parametrize("text", ["", "salam", "none,bogus"])
def test_unknown_strategies_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="choose from"):
        parse_strategies(text)


def test_every_strategy_but_none_and_agent_reads_memory() -> None:
    assert [s for s in STRATEGIES if not needs_memory(s)] == ["none", "agent"]
