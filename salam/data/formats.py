"""Reading a question file or folder whose format is told from its content.

Supported: BBH JSON (`{"examples": [...]}`), a JSON list of `{input, target, options}` records
(the SALAM paper's BBQ subset), original BBQ JSON Lines, and the generic JSON Lines format
described in `salam.data.generic`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from salam.data.bbh import bbh_file_drafts
from salam.data.bbq import BBQ_KEYS, bbq_drafts, bbq_sm_drafts
from salam.data.drafts import Draft
from salam.data.files import (
    first_line,
    json_line_object,
    json_line_objects,
    numbered_lines,
    open_question_file,
    read_json_document,
)
from salam.data.generic import generic_drafts
from salam.errors import DataError

QUESTION_SUFFIXES = (".json", ".jsonl")
SUPPORTED = (
    'BBH JSON {"examples": [{"input", "target"}]}, a JSON list of {"input", "target", '
    '"options"} records, BBQ JSON Lines (context, question, ans0-ans2, label) or generic '
    "JSON Lines (question, target, options)"
)


def read_path_drafts(path: Path, max_bytes: int) -> Iterator[Draft]:
    """Drafts from one file, or from every .json/.jsonl file directly inside a folder, as they
    are read; no file may be larger than `max_bytes`."""
    if not path.is_dir():
        yield from read_file_drafts(path, path.stem, max_bytes)
        return
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in QUESTION_SUFFIXES)
    if not files:
        raise DataError(str(path), "no .json or .jsonl question files in this folder")
    for file in files:
        yield from read_file_drafts(file, path.name, max_bytes)


def read_file_drafts(path: Path, generic_benchmark: str, max_bytes: int) -> Iterator[Draft]:
    """Drafts from one file; JSON Lines are read and checked one line at a time."""
    source, task = str(path), path.stem
    with open_question_file(path, max_bytes) as stream:
        lines = numbered_lines(stream, source, max_bytes)
        first = first_line(lines, source)
        record = first.object
        if record is not None and (BBQ_KEYS.issubset(record) or "question" in record):
            rows = json_line_objects(chain([(first.number, first.text)], lines), source)
            yield from _json_lines_drafts(rows, record, source, generic_benchmark, task)
            return
        if record is None and path.suffix == ".jsonl":
            json_line_object(first.number, first.text, source)  # raises, naming the line
        data = read_json_document(stream, first, lines, source, max_bytes)
    yield from _whole_file_drafts(data, source, task, record)


def _json_lines_drafts(
    rows: Iterator[tuple[int, dict[str, Any]]],
    first: dict[str, Any],
    source: str,
    generic_benchmark: str,
    task: str,
) -> Iterator[Draft]:
    if BBQ_KEYS.issubset(first):
        named = ((f"line {number}", row) for number, row in rows)
        return bbq_drafts(named, source=source, default_task=task)
    return generic_drafts(rows, source=source, benchmark=generic_benchmark, default_task=task)


def _whole_file_drafts(
    data: Any, source: str, task: str, first: dict[str, Any] | None
) -> Iterator[Draft]:
    if isinstance(data, dict) and "examples" in data:
        return bbh_file_drafts(data, source=source, task=task)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "input" in data[0]:
        return bbq_sm_drafts(data, source=source, default_task=task)
    if isinstance(data, dict) and "instances" in data:
        problem = "this looks like study-assistant feedback data, not questions"
        raise DataError(source, problem)
    seen = f"first record has keys {sorted(first)}" if first else f"found {_shape(data)}"
    raise DataError(source, f"cannot tell the format ({seen}); expected {SUPPORTED}")


def _shape(data: Any) -> str:
    if isinstance(data, dict):
        return f"an object with keys {sorted(data)[:8]}"
    if isinstance(data, list):
        return "an empty list" if not data else f"a list of {type(data[0]).__name__}"
    return f"a JSON {type(data).__name__}"
