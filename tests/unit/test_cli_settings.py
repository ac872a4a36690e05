"""Bad settings stop a command with one line naming the variable, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from salam.cli import main
from salam.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SALAM_CHUNK_SIZE", "0", "SALAM_CHUNK_SIZE: Input should be greater than or equal to 1"),
        ("SALAM_VISIBILITY_TIMEOUT", "60", "SALAM_VISIBILITY_TIMEOUT (60 s) must exceed"),
    ],
)
def test_bad_setting_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("salam: error: bad settings: ") and message in err
    assert len(err.strip().splitlines()) == 1
