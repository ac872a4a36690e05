"""Named datasets and presets: where their files live locally and on the HF hub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salam.data.bbh import BBH_SALAM_TASKS, BBH_TASKS, bbh_drafts, bbh_file_drafts
from salam.data.bbq import BBQ_CATEGORIES, bbq_drafts, bbq_sm_drafts
from salam.data.drafts import Draft
from salam.data.files import (
    json_line_objects,
    numbered_lines,
    open_question_file,
    read_json_file,
)
from salam.data.generated import GENERATED_TASKS

GENERATED = "generated"
DEFAULT_DATASET = GENERATED


@dataclass(frozen=True)
class HubCopy:
    repo: str
    split: str
    to_drafts: Callable[[list[dict[str, Any]], str, str], Iterator[Draft]]  # rows, source, task


@dataclass(frozen=True)
class FileDataset:
    """A dataset stored as one file per task; `layouts` are tried in order under the data dir.
    `read(path, max_bytes)` gives the drafts of one task file as they are read."""

    name: str
    description: str
    tasks: tuple[str, ...]
    layouts: tuple[str, ...]
    read: Callable[[Path, int], Iterator[Draft]]
    hub: HubCopy | None = None


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    dataset: str
    tasks: tuple[str, ...]


def _read_bbh(path: Path, max_bytes: int) -> Iterator[Draft]:
    data = read_json_file(path, max_bytes)
    return bbh_file_drafts(data, source=str(path), task=path.stem)


def _read_bbq(path: Path, max_bytes: int) -> Iterator[Draft]:
    source = str(path)
    with open_question_file(path, max_bytes) as stream:
        rows = json_line_objects(numbered_lines(stream, source, max_bytes), source)
        named = ((f"line {number}", row) for number, row in rows)
        yield from bbq_drafts(named, source=source, default_task=path.stem)


def _read_bbq_sm(path: Path, max_bytes: int) -> Iterator[Draft]:
    data = read_json_file(path, max_bytes)
    return bbq_sm_drafts(data, source=str(path), default_task=path.stem)


def _bbh_rows(rows: list[dict[str, Any]], source: str, task: str) -> Iterator[Draft]:
    return bbh_drafts(rows, source=source, task=task)


def _bbq_rows(rows: list[dict[str, Any]], source: str, task: str) -> Iterator[Draft]:
    named = ((f"row {i}", row) for i, row in enumerate(rows))
    return bbq_drafts(named, source=source, default_task=task)


FILE_DATASETS = {
    dataset.name: dataset
    for dataset in (
        FileDataset(
            "bbh",
            "BIG-Bench Hard, all 27 tasks (original JSON; hub: lukaemon/bbh)",
            BBH_TASKS,
            ("bbh/{task}.json", "{task}.json"),
            _read_bbh,
            HubCopy("lukaemon/bbh", "test", _bbh_rows),
        ),
        FileDataset(
            "bbq",
            "BBQ bias benchmark, 11 categories, every question (JSON Lines; hub: heegyu/bbq)",
            BBQ_CATEGORIES,
            ("bbq/{task}.jsonl", "{task}.jsonl"),
            _read_bbq,
            HubCopy("heegyu/bbq", "test", _bbq_rows),
        ),
        FileDataset(
            "bbq-sm",
            "the SALAM paper's BBQ sample, 11 categories x 250 (local files only)",
            BBQ_CATEGORIES,
            ("salam/bbq_sm/{task}.json", "bbq_sm/{task}.json", "{task}.json"),
            _read_bbq_sm,
        ),
    )
}

PRESETS = {
    preset.name: preset
    for preset in (
        Preset(
            "bbh-salam",
            "the paper's BBH setting: 16 multiple-choice tasks, split 200/50",
            "bbh",
            BBH_SALAM_TASKS,
        ),
        Preset(
            "bbq-salam",
            "the paper's BBQ setting: bbq-sm, 11 categories, split 200/50",
            "bbq-sm",
            BBQ_CATEGORIES,
        ),
    )
}


def describe_datasets() -> list[tuple[str, str]]:
    """(name, one-line description) of everything `load_questions` accepts."""
    generated = (
        GENERATED,
        f"generated multiple-choice questions, offline ({', '.join(GENERATED_TASKS)}); default",
    )
    named = [(d.name, d.description) for d in FILE_DATASETS.values()]
    presets = [(p.name, p.description) for p in PRESETS.values()]
    path = (
        "PATH",
        "a file or folder: BBH JSON, BBQ JSON Lines, bbq_sm JSON lists or generic JSON Lines",
    )
    return [generated, *presets, *named, path]


def known_names() -> list[str]:
    return [GENERATED, *PRESETS, *FILE_DATASETS]
