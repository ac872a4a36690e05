"""BBQ, the bias benchmark: its original JSON Lines files and the SALAM paper's 250-per-category
subset (`bbq_sm/*.json`).

Original rows (context, question, ans0..ans2, label, category, ...) become the prompt
"{context} {question}\\nOptions:\\n(A) {ans0}\\n(B) {ans1}\\n(C) {ans2}" with target "(A)".."(C)",
task = category. The subset's records already carry that prompt as `input`, the target as
"(A)" and the options as "(A) Not known"; their labels are stripped from the option texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from salam.data.drafts import Draft
from salam.data.files import require_object, require_text
from salam.data.options import (
    describe_labels,
    lettered_options,
    options_block,
    render_options,
    resolve_target,
)
from salam.errors import DataError
from salam.records import option_label

BBQ_BENCHMARK = "bbq"
BBQ_SM_BENCHMARK = "bbq-sm"

BBQ_CATEGORIES = (
    "Age",
    "Disability_status",
    "Gender_identity",
    "Nationality",
    "Physical_appearance",
    "Race_ethnicity",
    "Race_x_SES",
    "Race_x_gender",
    "Religion",
    "SES",
    "Sexual_orientation",
)

BBQ_KEYS = frozenset({"context", "question", "ans0", "ans1", "ans2", "label"})
_ANSWER_KEYS = ("ans0", "ans1", "ans2")
_META_KEYS = ("context_condition", "question_polarity", "question_index", "example_id")


def bbq_drafts(
    rows: Iterable[tuple[str, Any]], *, source: str, default_task: str
) -> Iterator[Draft]:
    """Drafts from (record name, row) pairs of original BBQ data, from a file or the hub."""
    for where, row in rows:
        yield bbq_draft(row, source=source, where=where, default_task=default_task)


def bbq_draft(row: Any, *, source: str, where: str, default_task: str) -> Draft:
    row = require_object(row, source, where)
    context = require_text(row, "context", source, where)
    question = require_text(row, "question", source, where)
    options = tuple(require_text(row, key, source, where).strip() for key in _ANSWER_KEYS)
    label = row.get("label")
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < len(options):
        raise DataError(source, f"'label' must be 0, 1 or 2, got {label!r}", record=where)
    prompt = f"{context.strip()} {question.strip()}\n{render_options(options)}"
    task = str(row.get("category") or default_task)
    return Draft(
        source, where, BBQ_BENCHMARK, task, prompt, option_label(label), options, _bbq_meta(row)
    )


def _bbq_meta(row: dict[str, Any]) -> dict[str, str]:
    meta = {key: str(row[key]) for key in _META_KEYS if row.get(key) is not None}
    answer_info = row.get("answer_info")
    if isinstance(answer_info, dict):
        for position, key in enumerate(_ANSWER_KEYS):
            info = answer_info.get(key)
            if isinstance(info, list) and "unknown" in info:
                meta["unknown_option"] = option_label(position)
    return meta


def bbq_sm_drafts(data: Any, *, source: str, default_task: str) -> Iterator[Draft]:
    """Drafts from the paper's subset: a JSON list of {input, target, options, category, ...}."""
    if not isinstance(data, list) or not data:
        raise DataError(source, "expected a non-empty JSON list of question records")
    return (
        bbq_sm_draft(record, source=source, where=f"[{position}]", default_task=default_task)
        for position, record in enumerate(data)
    )


def bbq_sm_draft(record: Any, *, source: str, where: str, default_task: str) -> Draft:
    record = require_object(record, source, where)
    prompt = require_text(record, "input", source, where)
    target = require_text(record, "target", source, where)
    options = _labelled_options(record, prompt, source, where)
    label = resolve_target(target, options)
    if label is None:
        problem = f"target {target!r} is not one of the options {describe_labels(len(options))}"
        raise DataError(source, problem, record=where)
    task = str(record.get("category") or default_task)
    meta = {key: str(record[key]) for key in _META_KEYS if record.get(key) is not None}
    return Draft(source, where, BBQ_SM_BENCHMARK, task, prompt, label, options, meta)


def _labelled_options(
    record: dict[str, Any], prompt: str, source: str, where: str
) -> tuple[str, ...]:
    """Option texts from `options` ("(A) Not known", ...) or, without it, from the prompt."""
    raw = record.get("options")
    if raw is None:
        parsed = lettered_options(options_block(prompt) or [])
        if not parsed:
            problem = "no 'options' and no (A), (B)... options in the input"
            raise DataError(source, problem, record=where)
        return parsed
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise DataError(source, "'options' must be a list of strings", record=where)
    parsed = lettered_options(raw)
    if not parsed:
        problem = "'options' must read (A) ..., (B) ..., in order"
        raise DataError(source, problem, record=where)
    return parsed
