"""Questions as read from files, before they get their per-task index and id.

Loaders emit drafts; `number_drafts` numbers them within each (benchmark, task) across all
files of one load, so a task spread over several files keeps counting, and one duplicate id
anywhere fails the whole load with both places named.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from salam.errors import DataError
from salam.records import QuestionRecord, make_id


@dataclass(frozen=True, slots=True)
class Draft:
    source: str
    record: str
    benchmark: str
    task: str
    prompt: str
    target: str
    options: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)
    id: str | None = None


def number_drafts(drafts: Iterable[Draft]) -> list[QuestionRecord]:
    counts: Counter[tuple[str, str]] = Counter()
    first_seen: dict[str, Draft] = {}
    questions = []
    for draft in drafts:
        key = (draft.benchmark, draft.task)
        index = counts[key]
        counts[key] += 1
        question_id = draft.id or make_id(draft.benchmark, draft.task, index)
        if question_id in first_seen:
            earlier = first_seen[question_id]
            problem = f"duplicate id '{question_id}' (first in {earlier.source}, {earlier.record})"
            raise DataError(draft.source, problem, record=draft.record)
        first_seen[question_id] = draft
        questions.append(
            QuestionRecord(
                id=question_id,
                benchmark=draft.benchmark,
                task=draft.task,
                index=index,
                prompt=draft.prompt,
                target=draft.target,
                options=draft.options,
                meta=draft.meta,
            )
        )
    return questions
