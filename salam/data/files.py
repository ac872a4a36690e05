"""Reading JSON and JSON Lines files so that every problem becomes a DataError naming the place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from salam.errors import DataError


def read_text(path: Path) -> str:
    """The file as UTF-8 text (a leading byte-order mark is tolerated); never empty."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(source, f"cannot read the file ({err.strerror or err})") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problem = f"not UTF-8 text: byte 0x{raw[err.start]:02x} at line {line}; save it as UTF-8"
        raise DataError(source, problem) from err
    if not text.strip():
        raise DataError(source, "the file is empty")
    return text


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        problem = f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        raise DataError(source, problem) from err


def parse_json_lines(text: str, source: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; each line must hold one JSON object."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            problem = f"invalid JSON at column {err.colno}: {err.msg}"
            raise DataError(source, problem, record=where) from err
        if not isinstance(value, dict):
            problem = f"expected a JSON object, got {type(value).__name__}"
            raise DataError(source, problem, record=where)
        records.append((number, value))
    return records


def require_text(record: Mapping[str, Any], key: str, source: str, where: str) -> str:
    """A non-empty string field; numbers are accepted and written as text (targets like 8)."""
    if key not in record or record[key] is None:
        raise DataError(source, f"missing '{key}'", record=where)
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        problem = f"'{key}' must be a string, got {type(value).__name__}"
        raise DataError(source, problem, record=where)
    text = str(value)
    if not text.strip():
        raise DataError(source, f"'{key}' is empty", record=where)
    return text


def require_object(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        problem = f"expected a JSON object, got {type(value).__name__}"
        raise DataError(source, problem, record=where)
    return value
