"""Named datasets, presets, local lookup and the HF hub fallback, all offline."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from salam.data import (
    BBH_SALAM_TASKS,
    BBH_TASKS,
    DEFAULT_DATASET,
    describe_datasets,
    hub,
    load_questions,
    loader,
)
from salam.data.registry import FILE_DATASETS, PRESETS
from salam.errors import DataError
from salam.settings import get_settings

BBH_EXAMPLE = {"input": "Sarcastic?\nOptions:\n(A) yes\n(B) no", "target": "(A)"}


def test_describe_datasets_lists_every_name_on_one_line() -> None:
    described = dict(describe_datasets())
    assert {"generated", "bbh", "bbh-salam", "bbq", "bbq-salam", "bbq-sm"} <= set(described)
    assert DEFAULT_DATASET == "generated"
    assert all(text and "\n" not in text for text in described.values())


def test_presets_select_tasks_of_their_dataset() -> None:
    for preset in PRESETS.values():
        assert set(preset.tasks) <= set(FILE_DATASETS[preset.dataset].tasks), preset.name
    assert len(BBH_SALAM_TASKS) == 16
    assert len(BBH_TASKS) == 27


def test_nested_layout_and_task_order(tmp_path: Path) -> None:
    (tmp_path / "bbh").mkdir()
    for task in ("snarks", "hyperbaton"):
        (tmp_path / "bbh" / f"{task}.json").write_text(json.dumps({"examples": [BBH_EXAMPLE] * 5}))
    questions = load_questions("bbh-salam", data_dir=tmp_path, tasks=["snarks", "hyperbaton"])
    # the preset's order, not the order asked in
    assert [q.task for q in questions][::5] == ["hyperbaton", "snarks"]
    assert questions[0].id == "bbh/hyperbaton/0"


def test_missing_files_and_no_hub_says_what_where_and_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(repo: str, config: str, split: str) -> list[dict[str, Any]]:
        raise hub.HubUnavailable("https://huggingface.co cannot be reached")

    monkeypatch.setattr(loader, "fetch_rows", unavailable)
    with pytest.raises(DataError) as caught:
        load_questions("bbh", data_dir=tmp_path, tasks=["snarks"])
    message = str(caught.value)
    assert message.startswith("bbh: no local bbh files for snarks")
    assert f"bbh/{{task}}.json or {{task}}.json under {tmp_path}" in message
    assert "lukaemon/bbh is not available: https://huggingface.co cannot be reached" in message
    assert "SALAM_DATA_DIR" in message


def test_dataset_without_hub_copy(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_questions("bbq-salam", data_dir=tmp_path, tasks=["Age"])
    assert "not on the HF hub" in caught.value.problem
    assert "SALAM_DATA_DIR" in caught.value.problem


def test_missing_data_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data folder does not exist"):
        load_questions("bbh", data_dir=tmp_path / "nope")


def test_hub_rows_become_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bbq_row = {
        "context": "C.", "question": "Q?", "ans0": "x", "ans1": "y", "ans2": "z", "label": 2,
        "category": "Age", "context_condition": "ambig",
    }  # fmt: skip
    rows: dict[str, list[dict[str, Any]]] = {
        "lukaemon/bbh": [BBH_EXAMPLE, BBH_EXAMPLE],
        "heegyu/bbq": [bbq_row],
    }
    asked = []

    def fake_fetch(repo: str, config: str, split: str) -> list[dict[str, Any]]:
        asked.append((repo, config, split))
        return rows[repo]

    monkeypatch.setattr(loader, "fetch_rows", fake_fetch)
    bbh = load_questions("bbh", data_dir=tmp_path, tasks=["snarks"])
    bbq = load_questions("bbq", data_dir=tmp_path, tasks=["Age"])
    assert asked == [("lukaemon/bbh", "snarks", "test"), ("heegyu/bbq", "Age", "test")]
    assert [q.id for q in bbh] == ["bbh/snarks/0", "bbh/snarks/1"]
    assert bbh[0].options == ("yes", "no")
    assert (bbq[0].target, bbq[0].meta["context_condition"]) == ("(C)", "ambig")


def test_bad_hub_rows_name_the_hub_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "fetch_rows", lambda repo, config, split: [{"input": "x"}])
    with pytest.raises(DataError) as caught:
        load_questions("bbh", data_dir=tmp_path, tasks=["snarks"])
    assert caught.value.source == "hf://datasets/lukaemon/bbh/snarks"
    assert caught.value.record == "examples[0]"


def test_fetch_without_the_datasets_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(hub.HubUnavailable, match="'datasets' package is not installed"):
        hub.fetch_rows("lukaemon/bbh", "snarks", "test")


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(hub.HubUnavailable, match=r"http://127\.0\.0\.1:9 cannot be reached"):
        hub.probe_hub()
    assert time.monotonic() - started < hub.PROBE_TIMEOUT_S + 1


def test_data_dir_defaults_to_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "snarks.json").write_text(json.dumps({"examples": [BBH_EXAMPLE]}))
    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    monkeypatch.setattr(loader, "get_settings", lambda: settings)
    assert [q.id for q in load_questions("bbh", tasks=["snarks"])] == ["bbh/snarks/0"]
