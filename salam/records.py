"""The normalised question record every loader produces and everything else consumes."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

LETTERS = string.ascii_uppercase


def option_label(position: int) -> str:
    """0 -> '(A)'."""
    return f"({LETTERS[position]})"


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    """One benchmark question.

    `prompt` is the question as the model sees it, options included ("...\\nOptions:\\n(A) x").
    `options` holds the option texts without their labels, in order; empty for free-form tasks.
    `target` is the label "(B)" for multiple choice, else the free-form answer ("8", "True").
    """

    id: str
    benchmark: str
    task: str
    index: int
    prompt: str
    target: str
    options: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_multiple_choice(self) -> bool:
        return bool(self.options)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(option_label(i) for i in range(len(self.options)))

    @property
    def target_text(self) -> str | None:
        """The text of the correct option, or None for free-form questions."""
        if not self.options or self.target not in self.labels:
            return None
        return self.options[self.labels.index(self.target)]


def make_id(benchmark: str, task: str, index: int) -> str:
    return f"{benchmark}/{task}/{index}"
