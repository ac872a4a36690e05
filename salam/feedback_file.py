"""The paper's published study-assistant feedback: `{"type": "text2text", "instances": [...]}`.

Each instance is one SA request and its answer: `input` is the feedback-mode prompt (the
question with its options, "We get the answer (A) from the model while the true answer is
(B).", the request for JSON) and `output` the JSON the assistant wrote. The question, the
wrong answer and the true answer are read back out of the prompt, so the feedback can fill a
memory or be re-prompted with salam's own templates.

A file of the wrong shape is a `DataError`; an instance whose output holds no usable
guideline is skipped and reported, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salam.assistant import parse_feedback, parse_feedback_json
from salam.errors import DataError
from salam.memory import MemoryEntry
from salam.records import QuestionRecord, make_id

_REQUEST = re.compile(
    r"(?P<question>.*?)\s*\nWe get the answer (?P<answer>.*?) from the model "
    r"while the true answer is (?P<target>.*?)\.\s*\nPlease return a json",
    re.S,
)
_LABEL = re.compile(r"\(\s*([A-Z])\s*\)\.?")
_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s?(.*)$", re.M)


@dataclass(frozen=True)
class PublishedFeedback:
    """One published analysis: the question (options included), both answers, the feedback."""

    question: str
    answer: str
    target: str
    reason: str
    guideline: str

    def as_record(
        self, *, benchmark: str = "published", task: str = "", index: int = 0
    ) -> QuestionRecord:
        """The question as a record, options read back from its "(A) ..." lines."""
        return question_record(self.question, self.target, benchmark, task, index)


@dataclass(frozen=True)
class FeedbackFileResult:
    """`skipped` holds (instance index, failure) for instances without usable feedback."""

    items: list[PublishedFeedback]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def load_feedback_file(path: Path, *, reject_leaks: bool = False) -> FeedbackFileResult:
    """Read a published feedback file; with `reject_leaks`, guidelines naming the answer are
    skipped too (the published data often names an option's text)."""
    result = FeedbackFileResult(items=[])
    for index, instance in enumerate(_read_instances(path)):
        question, answer, target = _split_request(path, index, instance["input"])
        output = instance["output"]
        if reject_leaks:
            record = question_record(question, target, "published", path.stem, index)
            parsed = parse_feedback(output, record)
        else:
            parsed = parse_feedback_json(output)
        if parsed.feedback is None:
            result.skipped.append((index, parsed.failure or "unknown"))
            continue
        feedback = parsed.feedback
        result.items.append(
            PublishedFeedback(question, answer, target, feedback.reason, feedback.guideline)
        )
    return result


def question_record(
    question: str, target: str, benchmark: str, task: str, index: int
) -> QuestionRecord:
    options = tuple(text.strip() for _, text in _OPTION_LINE.findall(question))
    return QuestionRecord(
        id=make_id(benchmark, task, index),
        benchmark=benchmark,
        task=task,
        index=index,
        prompt=question,
        target=target,
        options=options,
    )


def _read_instances(path: Path) -> list[dict[str, Any]]:
    document = _read_json(path)
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or document.get("type") != "text2text":
        raise DataError(str(path), 'expected {"type": "text2text", "instances": [...]}')
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict) or not all(
            isinstance(instance.get(key), str) for key in ("input", "output")
        ):
            problem = "expected an object with string input and output"
            raise DataError(str(path), problem, record=index)
    return instances


def _read_json(path: Path) -> Any:
    """The file as one JSON value, read within the input limits (regular files only)."""
    from salam.data.files import read_json_file
    from salam.settings import get_settings

    return read_json_file(path, get_settings().max_input_bytes)


def _split_request(path: Path, index: int, prompt: str) -> tuple[str, str, str]:
    parts = split_feedback_request(prompt)
    if parts is None:
        raise DataError(str(path), "input is not a study-assistant feedback prompt", record=index)
    return parts


def split_feedback_request(prompt: str) -> tuple[str, str, str] | None:
    """(question, the model's answer, the true answer) of a feedback-mode prompt in the
    paper's wording; None for any other prompt."""
    match = _REQUEST.match(prompt)
    if match is None:
        return None
    return match["question"], _tidy_answer(match["answer"]), _tidy_answer(match["target"])


def _tidy_answer(text: str) -> str:
    """ "( A )" and "(D)." as "(A)" and "(D)"; an answer given as text stays as it is."""
    label = _LABEL.fullmatch(text.strip())
    return f"({label.group(1)})" if label else text.strip()


def published_entries(paths: Sequence[Path]) -> list[MemoryEntry]:
    """The mistakes and guidelines of published feedback files, as memory entries."""
    entries = []
    for path in paths:
        for number, item in enumerate(load_feedback_file(path).items):
            entries.append(
                MemoryEntry(
                    id=f"published:{path.name}:{number}",
                    kind="mistake",
                    question=item.question,
                    answer=item.answer,
                    target=item.target,
                    guideline=item.guideline,
                )
            )
    return entries
