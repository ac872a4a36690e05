"""The BBH way of writing choices into a prompt: "question\\nOptions:\\n(A) x\\n(B) y"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from salam.records import LETTERS, option_label

OPTIONS_HEADER = "Options:"
_LETTERED = re.compile(r"\(([A-Z])\) ?(.*)")
_LABEL = re.compile(r"\(([A-Z])\)")


def options_block(prompt: str) -> list[str] | None:
    """The lines after the last "Options:" line, or None when the prompt has no such block."""
    lines = prompt.split("\n")
    for position in range(len(lines) - 1, -1, -1):
        if lines[position].strip() == OPTIONS_HEADER:
            block = lines[position + 1 :]
            while block and not block[-1].strip():
                block.pop()
            return block
    return None


def lettered_options(lines: Sequence[str]) -> tuple[str, ...] | None:
    """Texts of "(A) x" lines labelled A, B, C... in order; None if any line breaks the pattern."""
    texts = []
    for position, line in enumerate(lines):
        match = _LETTERED.fullmatch(line.strip())
        if match is None or match.group(1) != LETTERS[position]:
            return None
        texts.append(match.group(2).strip())
    return tuple(texts) if texts else None


def dashed_options(lines: Sequence[str]) -> tuple[str, ...] | None:
    """Texts of "- x" lines (BBH's yes/no and valid/invalid tasks); None if any line differs."""
    if not lines or not all(line.startswith("- ") for line in lines):
        return None
    return tuple(line[2:].strip() for line in lines)


def render_options(options: Sequence[str]) -> str:
    lines = [f"{option_label(i)} {text}" for i, text in enumerate(options)]
    return "\n".join([OPTIONS_HEADER, *lines])


def looks_like_label(target: str) -> bool:
    return _LABEL.fullmatch(target.strip()) is not None


def resolve_target(target: str, options: Sequence[str]) -> str | None:
    """The label "(B)" that `target` names, given as "(B)", "B" or the option's exact text.

    A single letter is read as a label before it is compared with option texts.
    """
    labels = [option_label(i) for i in range(len(options))]
    stripped = target.strip()
    if stripped in labels:
        return stripped
    if f"({stripped})" in labels:
        return f"({stripped})"
    matches = [label for label, text in zip(labels, options, strict=True) if text == stripped]
    return matches[0] if len(matches) == 1 else None


def describe_labels(count: int) -> str:
    return f"{option_label(0)}-{option_label(count - 1)}"
