"""Training-example files, read and written.

Read: the paper's feedback files (`{"type": "text2text", "instances": [{"input", "output"}]}`)
or JSON Lines of `{"input", "output"}` (the paper's shape) or `{"prompt", "completion", ...}`
(salam's export), within the input limits that dataset files have (regular files only, at most
SALAM_MAX_INPUT_BYTES). A file is read whole before anything is stored; any bad record is a
`DataError` naming the file and the record (the instance index of a text2text file, the line
number of a JSON Lines file). An output that is not `{reason, guideline}` JSON is bad too:
the study assistant would learn to write it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, Any, Literal

from models import TrainingExample
from salam.assistant import parse_feedback_json
from salam.data.files import (
    first_line,
    json_line_object,
    numbered_lines,
    open_question_file,
    read_json_document,
)
from salam.errors import DataError
from salam.feedback_file import question_record, split_feedback_request
from salam.settings import get_settings

ExportFormat = Literal["salam", "paper"]
PAPER_PROMPT_VERSION = "paper"  # prompts written in the paper's wording, not salam's templates
Record = str | int  # where a record is: "line N" of JSON Lines, the index of an instance
SALAM_FIELDS = ("prompt", "completion", "prompt_version", "assistant_version", "source", "run_id")


def read_training_file(path: Path) -> list[TrainingExample]:
    """The file's records as unsaved examples; `source` names the file's content and the
    record, so importing the same file again adds nothing."""
    source, limit = str(path), get_settings().max_input_bytes
    with open_question_file(path, limit) as stream:
        records = list(_records(stream, source, limit))
        stream.seek(0)
        # hashed with newlines as text mode reads them, so a CRLF file keeps its source ids
        content = stream.read().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    name = f"file:{path.name}@{hashlib.sha256(content).hexdigest()[:12]}"
    return [_example(path, where, fields, f"{name}:{number}") for number, where, fields in records]


def export_line(example: TrainingExample, export_format: ExportFormat) -> str:
    """One JSON Lines line of the example."""
    if export_format == "paper":
        fields: dict[str, Any] = {"input": example.prompt, "output": example.completion}
    else:
        fields = {name: getattr(example, name) for name in SALAM_FIELDS} | {
            "question": example.question,
            "options": example.options,
            "target": example.target,
        }
    return json.dumps(fields, ensure_ascii=False)


def _records(stream: IO[bytes], source: str, limit: int) -> Iterator[tuple[int, Record, Any]]:
    """(number, where, parsed record) of a text2text document (instance index) or of JSON
    Lines (line number)."""
    lines = numbered_lines(stream, source, limit)
    first = first_line(lines, source)
    if first.error is None and not _is_document(first.value):
        for number, text in chain([(first.number, first.text)], lines):
            yield number, f"line {number}", json_line_object(number, text, source)
        return
    document = read_json_document(stream, first, lines, source, limit)
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or document.get("type") != "text2text":
        raise DataError(source, 'expected {"type": "text2text", "instances": [...]}')
    for index, instance in enumerate(instances):
        yield index, index, instance


def _is_document(value: Any) -> bool:
    """A first line that is a text2text document on its own (not one JSON Lines record)."""
    return isinstance(value, dict) and ("instances" in value or "type" in value)


Complaint = Callable[[str], DataError]


def _example(path: Path, record: Record, fields: Any, source: str) -> TrainingExample:
    def bad(problem: str) -> DataError:
        return DataError(str(path), problem, record=record)

    if not isinstance(fields, dict):
        raise bad("expected an object with input and output (or prompt and completion)")
    example = _paper_example(fields, bad) if "input" in fields else _salam_example(fields, bad)
    parsed = parse_feedback_json(example.completion)
    if parsed.feedback is None:
        raise bad(f"the output is not a {{reason, guideline}} JSON object ({parsed.failure})")
    example.source = source
    return example


def _paper_example(fields: Mapping[str, Any], bad: Complaint) -> TrainingExample:
    """`{"input", "output"}`; the question, options and target are read back out of a
    feedback prompt in the paper's wording, and left empty for any other prompt."""
    prompt, completion = _texts(fields, ("input", "output"), bad)
    example = TrainingExample(
        prompt=prompt, completion=completion, prompt_version=PAPER_PROMPT_VERSION, source=""
    )
    parts = split_feedback_request(prompt)
    if parts is not None:
        question, _answer, target = parts
        record = question_record(question, target, "imported", "", 0)
        example.question, example.options, example.target = question, list(record.options), target
    return example


def _salam_example(fields: Mapping[str, Any], bad: Complaint) -> TrainingExample:
    """`{"prompt", "completion", ...}` as `salam traces export` writes it."""
    prompt, completion = _texts(fields, ("prompt", "completion"), bad)
    options = fields.get("options")
    if options is not None and not (
        isinstance(options, list) and all(isinstance(option, str) for option in options)
    ):
        raise bad("options must be a list of strings")
    return TrainingExample(
        prompt=prompt,
        completion=completion,
        prompt_version=_optional(fields, "prompt_version", bad) or "unknown",
        assistant_version=_optional(fields, "assistant_version", bad),
        source="",
        question=_optional(fields, "question", bad),
        options=options,
        target=_optional(fields, "target", bad),
    )


def _texts(fields: Mapping[str, Any], names: Sequence[str], bad: Complaint) -> list[str]:
    values = [fields.get(name) for name in names]
    for name, value in zip(names, values, strict=True):
        if not isinstance(value, str) or not value.strip():
            raise bad(f"{name} must be a non-empty string")
    return [str(value) for value in values]


def _optional(fields: Mapping[str, Any], name: str, bad: Complaint) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        raise bad(f"{name} must be a string")
    return value
