"""Reading the study assistant's output: a `{reason, guideline}` JSON, found and checked.

Models wrap JSON in prose and code fences, use single quotes, leave trailing commas, change
the case of keys or add keys of their own; all of that is accepted. The first balanced
`{...}` that parses (leniently) and has a guideline wins; failing that, quoted
`"reason": "..."` / `"guideline": "..."` pairs are picked out of the text (an unclosed object),
and failing that the first object that parses at all is reported as missing its guideline.
Nothing here raises on model output: a result either has feedback or names its failure.

A guideline is what reaches the main model at examination time, so it must not give the
answer away. `reveals_answer` rejects one that names the true option: its label in parentheses
("(B)") or stated as the answer ("option B", "the answer is B", "choose B"), or the true
option's text as whole words when that text is distinctive (two words or more, or five
characters or more, and not contained in another option; "Yes" or "No" alone would flag
harmless advice). A free-form
target is revealed by its own text as whole words (numbers below twenty also as words);
a verdict target (True/False, Yes/No, valid/invalid) only when stated as the answer, and a
one-character target is not checked. The reason is checked the same way: it never reaches the
main model, but it is stored with the guideline and becomes imitation-learning data, and an
assistant trained on reasons that name the answer learns to name it.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from salam.grading import (
    NUMBER_UNITS,
    VERDICTS,
    contains_phrase,
    fold_text,
    normalize_answer,
    target_label,
)
from salam.guideline_checks import REJECTED_GUIDELINE, guideline_problem
from salam.records import QuestionRecord

NO_JSON = "no_json"
MISSING_GUIDELINE = "missing_guideline"
EMPTY_GUIDELINE = "empty_guideline"
LEAK = "leak"

# Bounds that keep the lenient parsers cheap on runaway output; the assistant's JSON is far
# smaller (512 new tokens by default).
_MAX_OUTPUT_CHARS = 20_000
_MAX_BRACES = 64


@dataclass(frozen=True)
class Feedback:
    reason: str
    guideline: str


@dataclass(frozen=True)
class ParsedFeedback:
    """Exactly one of `feedback` and `failure` is set; `detail` says more about a failure."""

    feedback: Feedback | None
    failure: str | None
    detail: str = ""


def parse_feedback(output: str, record: QuestionRecord) -> ParsedFeedback:
    """The feedback in `output`, rejected with LEAK when its guideline or its reason gives the
    answer away, and with REJECTED_GUIDELINE when it talks to the model about its prompt or
    names an answer label (`salam.guideline_checks`)."""
    parsed = parse_feedback_json(output)
    feedback = parsed.feedback
    if feedback is None:
        return parsed
    for field, text in (("guideline", feedback.guideline), ("reason", feedback.reason)):
        if reveals_answer(text, record):
            return ParsedFeedback(None, LEAK, f"{field} reveals the answer: {text}")
    # Guidelines are pasted into other questions' prompts: none may steer the model off them.
    problem = guideline_problem(feedback.guideline, feedback.reason or "", record.labels)
    if problem is not None:
        return ParsedFeedback(None, REJECTED_GUIDELINE, problem)
    return parsed


def parse_feedback_json(output: str) -> ParsedFeedback:
    """The `{reason, guideline}` in `output`, without looking at the question."""
    text = output[:_MAX_OUTPUT_CHARS]
    fields = _first_object(text)
    if fields is None or "guideline" not in _lowercase_keys(fields):
        fields = _quoted_fields(text) or fields
    if fields is None:
        return ParsedFeedback(None, NO_JSON, "no JSON object in the output")
    return _feedback_from(fields)


def _feedback_from(fields: dict[str, Any]) -> ParsedFeedback:
    keyed = _lowercase_keys(fields)
    if "guideline" not in keyed:
        return ParsedFeedback(None, MISSING_GUIDELINE, f"keys: {sorted(keyed)}")
    guideline = _as_text(keyed["guideline"])
    if not guideline:
        return ParsedFeedback(None, EMPTY_GUIDELINE, "the guideline is empty")
    return ParsedFeedback(Feedback(_as_text(keyed.get("reason")), guideline), None)


def _lowercase_keys(fields: dict[Any, Any]) -> dict[str, Any]:
    keyed = {str(key).strip().lower(): value for key, value in fields.items()}
    if "guideline" not in keyed and "guidelines" in keyed:
        keyed["guideline"] = keyed["guidelines"]
    return keyed


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(text for text in map(_as_text, value) if text)
    if isinstance(value, dict):
        return _as_text(list(value.values()))
    return str(value).strip()


# --- finding the object ----------------------------------------------------------------------


def _first_object(text: str) -> dict[str, Any] | None:
    """The first object with a guideline, else the first object at all ("{}" in prose)."""
    first = None
    for found in _objects(text):
        if "guideline" in _lowercase_keys(found):
            return found
        first = found if first is None else first
    return first


def _objects(text: str) -> Iterator[dict[str, Any]]:
    """Every balanced `{...}` that parses to an object, outer ones before those inside."""
    starts = [match.start() for match in re.finditer(r"\{", text)][:_MAX_BRACES]
    for start in starts:
        end = _balanced_end(text, start)
        found = _load_lenient(text[start : end + 1]) if end is not None else None
        if isinstance(found, dict):
            yield found


def _balanced_end(text: str, start: int) -> int | None:
    """Index of the brace closing the one at `start`; braces inside "strings" don't count.

    Single quotes are not tracked: in model prose they are mostly apostrophes.
    """
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


_TRAILING_COMMA = re.compile(r",\s*([}\]])")
# A single-quoted string: opened after { [ , or :, closed by a quote followed by , : } or ],
# so apostrophes inside ("didn't") stay part of it.
_SINGLE_QUOTED = re.compile(
    r"(?<=[{\[,:])(\s*)'((?:[^'\\]|\\.|'(?!\s*[,:}\]]))*)'(?=\s*[,:}\]])", re.S
)


def _load_lenient(candidate: str) -> Any:
    repaired = _TRAILING_COMMA.sub(r"\1", candidate)
    for attempt in (candidate, repaired, _TRAILING_COMMA.sub(r"\1", _double_quoted(candidate))):
        try:
            return json.loads(attempt, strict=False)
        except ValueError:
            continue
    try:
        return ast.literal_eval(repaired)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _double_quoted(candidate: str) -> str:
    def requote(match: re.Match[str]) -> str:
        inner = match.group(2).replace("\\'", "'")
        return match.group(1) + '"' + re.sub(r'(?<!\\)"', r"\"", inner) + '"'

    return _SINGLE_QUOTED.sub(requote, candidate)


_QUOTED_FIELD = re.compile(
    r"""["']?(?P<key>reason|guidelines?)["']?\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)\"""", re.I
)


def _quoted_fields(text: str) -> dict[str, Any] | None:
    """`"guideline": "..."` pairs in text no parser accepts (an unclosed or broken object)."""
    fields: dict[str, Any] = {}
    for match in _QUOTED_FIELD.finditer(text):
        fields.setdefault(match.group("key").lower(), _unescape(match.group("value")))
    return fields or None


def _unescape(value: str) -> str:
    try:
        return str(json.loads(f'"{value}"', strict=False))
    except ValueError:
        return value


# --- leaks ---------------------------------------------------------------------------------------

_STATING = (
    r"(?i:\b(?:answer|option|choice|choose|select|pick|letter)\b"
    r"(?:\s+(?:is|was|would\s+be|should\s+be|will\s+be))?\s*[:=]?\s*[\"']?)"
)


def reveals_answer(text: str, record: QuestionRecord) -> bool:
    """Whether `text` gives away the true answer of `record` (see the module docstring)."""
    if record.is_multiple_choice:
        return _names_label(text, record) or _names_option_text(text, record)
    return _names_free_form(text, record.target)


def _names_label(text: str, record: QuestionRecord) -> bool:
    label = target_label(record)
    if label is None:
        return False
    letter = re.escape(label[1])
    # Upper case only: "(a)", "(b)" in a guideline are usually list markers.
    parenthesised = re.search(r"\(\s*" + letter + r"\s*\)", text)
    stated = re.search(_STATING + r"\(?" + letter + r"\b", text)
    return bool(parenthesised or stated)


def _names_option_text(text: str, record: QuestionRecord) -> bool:
    label = target_label(record)
    if label is None:
        return False
    option = fold_text(record.options[record.labels.index(label)])
    others = [fold_text(other) for other in record.options if fold_text(other) != option]
    distinctive = (len(option.split()) >= 2 or len(option) >= 5) and not any(
        option in other for other in others
    )
    return distinctive and contains_phrase(fold_text(text), option)


def _names_free_form(text: str, target: str) -> bool:
    expected = normalize_answer(target)
    if expected in VERDICTS:
        return re.search(_STATING + re.escape(expected) + r"\b", text, re.I) is not None
    if len(expected.replace(" ", "")) <= 1 and not expected.isdigit():
        return False
    folded = fold_text(text)
    if re.fullmatch(r"-?\d+", expected):
        return _names_number(folded, int(expected))
    return contains_phrase(folded, fold_text(target)) or contains_phrase(folded, expected)


def _names_number(folded: str, number: int) -> bool:
    digits = re.search(r"(?<![\w.])" + re.escape(str(number)) + r"(?![\w]|\.\d)", folded)
    word = _number_word(number)
    return bool(digits) or (word is not None and contains_phrase(folded, word))


def _number_word(number: int) -> str | None:
    if 0 <= number < len(NUMBER_UNITS):
        return NUMBER_UNITS[number]
    return None
