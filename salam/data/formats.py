"""Reading a question file or folder whose format is told from its content.

Supported: BBH JSON (`{"examples": [...]}`), a JSON list of `{input, target, options}` records
(the SALAM paper's BBQ subset), original BBQ JSON Lines, and the generic JSON Lines format
described in `salam.data.generic`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from salam.data.bbh import bbh_file_drafts
from salam.data.bbq import BBQ_KEYS, bbq_drafts, bbq_sm_drafts
from salam.data.drafts import Draft
from salam.data.files import parse_json, parse_json_lines, read_text
from salam.data.generic import generic_drafts
from salam.errors import DataError

QUESTION_SUFFIXES = (".json", ".jsonl")
SUPPORTED = (
    'BBH JSON {"examples": [{"input", "target"}]}, a JSON list of {"input", "target", '
    '"options"} records, BBQ JSON Lines (context, question, ans0-ans2, label) or generic '
    "JSON Lines (question, target, options)"
)


def read_path_drafts(path: Path) -> list[Draft]:
    """Drafts from one file, or from every .json/.jsonl file directly inside a folder."""
    if not path.is_dir():
        return read_file_drafts(path, generic_benchmark=path.stem)
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in QUESTION_SUFFIXES)
    if not files:
        raise DataError(str(path), "no .json or .jsonl question files in this folder")
    return [draft for file in files for draft in read_file_drafts(file, path.name)]


def read_file_drafts(path: Path, generic_benchmark: str) -> list[Draft]:
    source, task = str(path), path.stem
    text = read_text(path)
    first = _first_line_object(text)
    if first is not None and BBQ_KEYS.issubset(first):
        named = ((f"line {number}", row) for number, row in parse_json_lines(text, source))
        return bbq_drafts(named, source=source, default_task=task)
    if first is not None and "question" in first:
        rows = parse_json_lines(text, source)
        return generic_drafts(rows, source=source, benchmark=generic_benchmark, default_task=task)
    if first is None and path.suffix == ".jsonl":
        parse_json_lines(text, source)  # raises, naming the line that is not a JSON object
    return _whole_file_drafts(parse_json(text, source), source, task, first)


def _whole_file_drafts(
    data: Any, source: str, task: str, first: dict[str, Any] | None
) -> list[Draft]:
    if isinstance(data, dict) and "examples" in data:
        return bbh_file_drafts(data, source=source, task=task)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "input" in data[0]:
        return bbq_sm_drafts(data, source=source, default_task=task)
    if isinstance(data, dict) and "instances" in data:
        problem = "this looks like study-assistant feedback data, not questions"
        raise DataError(source, problem)
    seen = f"first record has keys {sorted(first)}" if first else f"found {_shape(data)}"
    raise DataError(source, f"cannot tell the format ({seen}); expected {SUPPORTED}")


def _first_line_object(text: str) -> dict[str, Any] | None:
    """The first non-blank line as a JSON object, or None when it is not one on its own."""
    line = next(line for line in text.splitlines() if line.strip())
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _shape(data: Any) -> str:
    if isinstance(data, dict):
        return f"an object with keys {sorted(data)[:8]}"
    if isinstance(data, list):
        return "an empty list" if not data else f"a list of {type(data[0]).__name__}"
    return f"a JSON {type(data).__name__}"
