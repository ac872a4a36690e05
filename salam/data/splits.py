"""Train/test splits per task, as the paper makes them: the first 80 % train, the rest test."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from salam.errors import ConfigError
from salam.records import QuestionRecord

SplitName = Literal["train", "test", "all"]
SPLIT_NAMES: tuple[SplitName, ...] = ("train", "test", "all")


@dataclass(frozen=True)
class Split:
    train: list[QuestionRecord]
    test: list[QuestionRecord]

    def part(self, name: SplitName) -> list[QuestionRecord]:
        """One side of the split, or both ("all": train questions first)."""
        if name == "all":
            return [*self.train, *self.test]
        return list(self.train if name == "train" else self.test)


def split_questions(questions: Sequence[QuestionRecord], train_fraction: float = 0.8) -> Split:
    """Per task, the first `train_fraction` of its questions (rounded down) go to train.

    250 questions give 200/50. Both lists keep the input order.
    """
    if not 0.0 <= train_fraction <= 1.0:
        raise ConfigError(f"train fraction must be between 0 and 1, got {train_fraction}")
    sizes = Counter((question.benchmark, question.task) for question in questions)
    seen: Counter[tuple[str, str]] = Counter()
    train: list[QuestionRecord] = []
    test: list[QuestionRecord] = []
    for question in questions:
        key = (question.benchmark, question.task)
        # the epsilon keeps 250 * 0.8 at 200 whatever the float rounding
        in_train = seen[key] < math.floor(sizes[key] * train_fraction + 1e-9)
        (train if in_train else test).append(question)
        seen[key] += 1
    return Split(train=train, test=test)


def first_per_task(questions: Sequence[QuestionRecord], count: int) -> list[QuestionRecord]:
    """The first `count` questions of each task, in the input order."""
    seen: Counter[tuple[str, str]] = Counter()
    kept = []
    for question in questions:
        key = (question.benchmark, question.task)
        if seen[key] < count:
            kept.append(question)
        seen[key] += 1
    return kept
