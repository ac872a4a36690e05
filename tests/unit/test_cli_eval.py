"""`salam eval` end to end: bad input, the dummy backend, and the real bundled model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from salam.cli import main
from salam.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def use_dummy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALAM_MAIN_BACKEND", "dummy")
    monkeypatch.setenv("SALAM_SA_BACKEND", "dummy")
    monkeypatch.setenv("SALAM_EMBEDDER", "hash")


def test_bad_dataset_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"question": "2+2?", "target": "4"}\n{"question": "x?"\n', encoding="utf-8")
    code = main(["eval", str(bad), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("salam: error: ") and "mine.jsonl" in err and "line 2" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unknown_strategy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--strategies", "salam", "--output", str(tmp_path)]) == 2
    assert "choose from none, correct" in capsys.readouterr().err


def test_eval_on_the_dummy_backend_writes_table_json_and_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_dummy(monkeypatch)
    code = main(
        [
            "-q",
            "eval",
            "generated",
            "--limit",
            "10",
            "--strategies",
            "none,feedback,agent",
            "--output",
            str(tmp_path),
            "--verbose",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "gather: 32 questions" in out
    document = json.loads((tmp_path / "results.json").read_text())
    assert [row["label"] for row in document["strategies"]] == ["none", "feedback", "agent"]
    assert all(row["questions"] == 8 for row in document["strategies"])
    assert document["main_model"] == "dummy"
    assert (tmp_path / "accuracy.png").stat().st_size > 1000


@pytest.mark.model
def test_eval_with_the_real_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SALAM_SA_MAX_NEW_TOKENS", "80")
    code = main(
        [
            "-q",
            "eval",
            "generated",
            "--limit",
            "5",
            "--tasks",
            "arithmetic,ordering",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 0
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["main_model"].startswith("SmolLM2-135M-Instruct")
    assert document["gather"]["questions"] == 8
    answers = document["answers"]["feedback"]
    assert len(answers) == 2
    assert all(answer["answer"] in {"(A)", "(B)", "(C)", "(D)"} for answer in answers)
