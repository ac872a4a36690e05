"""The README documents every setting and the two set-up commands."""

from pathlib import Path

from salam.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [
        f"SALAM_{name.upper()}"
        for name in Settings.model_fields
        if f"SALAM_{name.upper()}" not in text
    ]
    assert missing == []


def test_readme_names_the_two_commands_ci_relies_on() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
