"""Passwords in URLs never reach output, logs or stored settings."""

from __future__ import annotations

from typing import Any

import pytest

from salam.doctor import CheckResult, check_broker, check_database, format_checks
from salam.errors import BackendUnavailable, ConfigError
from salam.masking import mask_url, mask_urls_in
from salam.settings import Settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:s3cret@broker:6379/0", "redis://:***@broker:6379/0"),
        ("redis://app:s3cret@broker:6379/0", "redis://app:***@broker:6379/0"),
        ("rediss://app:p@ss:w0rd@broker/0", "rediss://app:***@broker/0"),
        (
            "postgresql+psycopg2://salam:pw@db:5432/salam",
            "postgresql+psycopg2://salam:***@db:5432/salam",
        ),
        ("https://user:tok@llm.example/v1", "https://user:***@llm.example/v1"),
        ("redis://broker:6379/0?password=s3cret&db=1", "redis://broker:6379/0?password=***&db=1"),
        ("http://llm:8080/v1?api_key=abc", "http://llm:8080/v1?api_key=***"),
        # nothing secret: unchanged
        ("redis://broker:6379/0", "redis://broker:6379/0"),
        ("postgresql://salam@db/salam", "postgresql://salam@db/salam"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("sqlite:////tmp/salam.db", "sqlite:////tmp/salam.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_every_url_in_a_message_is_masked_and_the_rest_kept() -> None:
    text = (
        "cannot reach redis://:one@a:6379/0 nor 'http://u:two@b/v1' "
        "(mail admin@example.com, see https://docs.example/x?y=1)"
    )
    masked = mask_urls_in(text)
    assert "one" not in masked and "two" not in masked
    assert "redis://:***@a:6379/0" in masked and "'http://u:***@b/v1'" in masked
    assert "admin@example.com" in masked and "https://docs.example/x?y=1" in masked


def test_errors_naming_a_url_are_masked() -> None:
    unreachable = BackendUnavailable("http://u:s3cret@llm:8080", "cannot connect")
    assert "s3cret" not in str(unreachable) and "http://u:***@llm:8080" in str(unreachable)
    bad = ConfigError("server URL 'ftp://u:s3cret@llm' must start with http://")
    assert "s3cret" not in str(bad)


def test_doctor_shows_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        broker_url="redis://:s3cret@127.0.0.1:1/0",
        database_url="postgresql+psycopg2://salam:s3cret@127.0.0.1:1/salam",
    )
    rows = [check_broker(settings), check_database(settings)]
    rows.append(CheckResult("llm", "http://u:s3cret@llm", False, "http://u:s3cret@llm refused"))
    table = format_checks(rows)
    assert "s3cret" not in table
    assert "redis://:***@127.0.0.1:1/0" in table


def test_the_stored_settings_snapshot_holds_no_password() -> None:
    from producers.submit import recorded_settings

    settings = Settings(
        main_backend="openai",
        main_url="https://u:s3cret@llm.example/v1",
        sa_backend="tgi",
        sa_url="http://sa:8080?token=s3cret",
        broker_url="redis://:s3cret@broker/0",
        api_key="s3cret",
    )
    snapshot: dict[str, Any] = recorded_settings(settings)
    assert "s3cret" not in repr(snapshot)
    assert snapshot["main_url"] == "https://u:***@llm.example/v1"
    assert snapshot["sa_url"] == "http://sa:8080?token=***"
    assert "broker_url" not in snapshot and "api_key" not in snapshot
