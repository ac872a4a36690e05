"""BIG-Bench Hard in its original format: `{"examples": [{"input": ..., "target": ...}]}`.

Multiple-choice tasks end their input with "Options:\\n(A) ...": the option texts are parsed out,
the prompt is kept as it is and the target is the label "(B)". Other tasks are free-form
(targets like "True", "8", "valid"); their "Options:\\n- Yes\\n- No" choices, when present, go
into `meta["choices"]`, one per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from salam.data.drafts import Draft
from salam.data.files import require_object, require_text
from salam.data.options import (
    dashed_options,
    describe_labels,
    lettered_options,
    looks_like_label,
    options_block,
    resolve_target,
)
from salam.errors import DataError

BENCHMARK = "bbh"

BBH_TASKS = (
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
)

# The 16 multiple-choice tasks of the SALAM paper (Wang & Li, 2023), in its order.
BBH_SALAM_TASKS = (
    "date_understanding",
    "disambiguation_qa",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "snarks",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
)


def bbh_file_drafts(data: Any, *, source: str, task: str) -> Iterator[Draft]:
    """Drafts from a parsed BBH file (a dict with an "examples" list)."""
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise DataError(source, 'expected a JSON object with an "examples" list (BBH format)')
    if not data["examples"]:
        raise DataError(source, 'the "examples" list is empty')
    return bbh_drafts(data["examples"], source=source, task=task)


def bbh_drafts(examples: Iterable[Any], *, source: str, task: str) -> Iterator[Draft]:
    """Drafts from BBH examples, read from a file or from hub rows, as they come."""
    return (
        bbh_draft(example, source=source, where=f"examples[{position}]", task=task)
        for position, example in enumerate(examples)
    )


def bbh_draft(example: Any, *, source: str, where: str, task: str) -> Draft:
    example = require_object(example, source, where)
    prompt = require_text(example, "input", source, where)
    target = require_text(example, "target", source, where).strip()
    block = options_block(prompt) or []
    options = lettered_options(block)
    if options:
        label = resolve_target(target, options)
        if label is not None:
            return Draft(source, where, BENCHMARK, task, prompt, label, options)
        if _split_at_commas(target, options):
            meta = {"note": "options split at the commas of the answer upstream; kept free-form"}
            return Draft(source, where, BENCHMARK, task, prompt, target, meta=meta)
        problem = f"target {target!r} is not one of the options {describe_labels(len(options))}"
        raise DataError(source, problem, record=where)
    if looks_like_label(target):
        problem = f"target {target!r} is an option label but the input has no (A), (B)... options"
        raise DataError(source, problem, record=where)
    meta = {}
    choices = dashed_options(block)
    if choices is not None:
        if target not in choices:
            problem = f"target {target!r} is not one of the choices {list(choices)}"
            raise DataError(source, problem, record=where)
        meta["choices"] = "\n".join(choices)
    return Draft(source, where, BENCHMARK, task, prompt, target, meta=meta)


def _split_at_commas(target: str, options: tuple[str, ...]) -> bool:
    """True for a known upstream defect: the answer "Monsters, Inc" became options "Monsters"
    and "Inc". Such questions stay, as free-form ones, so that indices and the paper's 200/50
    split match the original file."""
    parts = tuple(part.strip() for part in target.split(","))
    if len(parts) < 2:
        return False
    return any(options[i : i + len(parts)] == parts for i in range(len(options)))
