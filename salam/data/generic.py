"""The generic JSON Lines format for your own questions.

One JSON object per line (blank lines are skipped), UTF-8:

    {"question": "What is 2 + 3?", "options": ["4", "5", "6"], "target": "B", "task": "sums"}
    {"question": "Is the sky blue?", "target": "Yes"}

Fields:

- `question` (string, required): the question as the model should read it.
- `target` (string or number, required): the right answer. With `options` it may be the label
  "(B)", the letter "B" or the exact text of an option; it is stored as the label "(B)".
  A single letter is always read as a label. Without `options` the question is free-form and
  the target is kept as given ("8", "True").
- `options` (list of 2-26 distinct strings, optional): the choices, in order. They are
  appended to the question as "\\nOptions:\\n(A) ...\\n(B) ...", BBH style, unless the
  question already ends with such a block, in which case the two must agree. Without an
  `options` field (or with `null`) the question is free-form, or multiple choice read from
  such a block in the question; a list with fewer than 2 choices, `[]` included, is an error.
- `task` (string, optional): the task the question belongs to; default the file name without
  its extension. Accuracy is reported per task, and train/test splits are made per task.
- `id` (string, optional): a stable id; default "<benchmark>/<task>/<index>", where the
  benchmark is the name of the file (or of the folder, when a folder is loaded).

Any other field is kept, as text, in the question's `meta`.
A bad record fails the whole file, naming the line and what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from salam.data.drafts import Draft
from salam.data.files import require_text
from salam.data.options import (
    describe_labels,
    lettered_options,
    options_block,
    render_options,
    resolve_target,
)
from salam.errors import DataError
from salam.records import LETTERS

GENERIC_KEYS = frozenset({"question", "target", "options", "task", "id"})


def generic_drafts(
    rows: Iterable[tuple[int, dict[str, Any]]], *, source: str, benchmark: str, default_task: str
) -> Iterator[Draft]:
    """Drafts from (line number, object) pairs of a generic JSON Lines file, as they come."""
    for number, row in rows:
        yield generic_draft(
            row,
            source=source,
            where=f"line {number}",
            benchmark=benchmark,
            default_task=default_task,
        )


def generic_draft(
    row: dict[str, Any], *, source: str, where: str, benchmark: str, default_task: str
) -> Draft:
    question = require_text(row, "question", source, where)
    target = require_text(row, "target", source, where).strip()
    task = require_text(row, "task", source, where) if "task" in row else default_task
    question_id = require_text(row, "id", source, where) if "id" in row else None
    meta = {key: str(value) for key, value in row.items() if key not in GENERIC_KEYS}
    options, prompt = _options_and_prompt(row, question, source, where)
    if options:
        label = resolve_target(target, options)
        if label is None:
            labels = describe_labels(len(options))
            problem = f"target {target!r} is not one of the options {labels} nor their texts"
            raise DataError(source, problem, record=where)
        target = label
    return Draft(source, where, benchmark, task, prompt, target, options, meta, question_id)


def _options_and_prompt(
    row: dict[str, Any], question: str, source: str, where: str
) -> tuple[tuple[str, ...], str]:
    in_question = lettered_options(options_block(question) or [])
    if row.get("options") is None:
        return in_question or (), question
    options = _checked_options(row["options"], source, where)
    if in_question is None:
        return options, f"{question.rstrip()}\n{render_options(options)}"
    if in_question != options:
        problem = "'options' differ from the (A), (B)... options already in the question"
        raise DataError(source, problem, record=where)
    return options, question


def _checked_options(raw: Any, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str | int) for item in raw):
        raise DataError(source, "'options' must be a list of strings", record=where)
    options = tuple(str(item).strip() for item in raw)
    if not 2 <= len(options) <= len(LETTERS):
        problem = f"'options' must hold 2 to {len(LETTERS)} choices, got {len(options)}"
        raise DataError(source, problem, record=where)
    if not all(options):
        raise DataError(source, "'options' holds an empty choice", record=where)
    if len(set(options)) != len(options):
        raise DataError(source, "'options' holds the same choice twice", record=where)
    return options
