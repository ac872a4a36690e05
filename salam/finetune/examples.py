"""Training examples and the held-out slice that judges a fine-tuned study assistant."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from salam.records import QuestionRecord


@dataclass(frozen=True)
class TrainingExample:
    """One successful feedback: the SA prompt as sent (before any chat template) and the output
    that turned the wrong answer into a right one. `question`, when known, lets the held-out
    check reject outputs that leak the true answer."""

    prompt: str
    completion: str
    question: QuestionRecord | None = None

    @property
    def group(self) -> str:
        """Examples about the same question land on the same side of the split."""
        return self.question.id if self.question is not None else self.prompt


Item = TypeVar("Item")


def split_held_out(
    items: Sequence[Item], groups: Sequence[str], fraction: float, seed: int
) -> tuple[list[Item], list[Item]]:
    """(train, held out): whole groups drawn at random (by `seed`) while they fit in `fraction`
    of the items; at least one item when there are two or more, never all of them.

    A question seen in training would flatter the held-out scores, hence whole groups; when
    one group holds everything, single items are held out instead.
    """
    assert len(items) == len(groups), "one group name per item"
    if len(items) < 2:
        return list(items), []
    wanted = min(max(1, round(fraction * len(items))), len(items) - 1)
    by_group: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        by_group.setdefault(group, []).append(index)
    if len(by_group) == 1:
        by_group = {str(index): [index] for index in range(len(items))}
    names = sorted(by_group)
    random.Random(seed).shuffle(names)
    held: set[int] = set()
    for name in names:
        if len(held) + len(by_group[name]) <= wanted:
            held.update(by_group[name])
    if not held:
        # every group is larger than the share wanted: hold out one whole group anyway
        held.update(by_group[names[0]])
    train = [item for index, item in enumerate(items) if index not in held]
    held_out = [item for index, item in enumerate(items) if index in held]
    return train, held_out
