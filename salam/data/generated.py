"""A small multiple-choice benchmark generated on the spot, so salam always has data offline.

Four task families (arithmetic, date arithmetic, object counting, ordering), easy to medium
for a small chat model, prompts in BBH's "question\\nOptions:\\n(A) ..." form. Question i of a
task depends only on (seed, task, i): a longer benchmark starts with the shorter one. The
correct option's position is balanced: in every run of k questions of a k-option task, each
position holds the answer once.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from salam.data import puzzles
from salam.data.options import render_options
from salam.records import QuestionRecord, make_id, option_label

BENCHMARK = "generated"

# task -> (puzzle maker, number of options)
_FAMILIES: dict[str, tuple[Callable[[random.Random, int], puzzles.Puzzle], int]] = {
    "arithmetic": (puzzles.arithmetic, 4),
    "date_arithmetic": (puzzles.date_arithmetic, 4),
    "object_counting": (puzzles.object_counting, 5),
    "ordering": (puzzles.ordering, 3),
}
GENERATED_TASKS = tuple(_FAMILIES)


def generate_benchmark(*, seed: int = 0, per_task: int = 50) -> list[QuestionRecord]:
    """`per_task` questions for each task in GENERATED_TASKS, the same for the same seed."""
    return [
        generated_question(task, index, seed=seed)
        for task in GENERATED_TASKS
        for index in range(per_task)
    ]


def generated_question(task: str, index: int, *, seed: int = 0) -> QuestionRecord:
    make_puzzle, option_count = _FAMILIES[task]
    rng = random.Random(f"{seed}/{task}/{index}")
    puzzle = make_puzzle(rng, option_count - 1)
    position = _answer_position(task, index, option_count, seed)
    options = _arrange(puzzle, position)
    return QuestionRecord(
        id=make_id(BENCHMARK, task, index),
        benchmark=BENCHMARK,
        task=task,
        index=index,
        prompt=f"{puzzle.question}\n{render_options(options)}",
        target=option_label(position),
        options=options,
    )


def _answer_position(task: str, index: int, option_count: int, seed: int) -> int:
    block, offset = divmod(index, option_count)
    positions = list(range(option_count))
    random.Random(f"{seed}/{task}/positions/{block}").shuffle(positions)
    return positions[offset]


def _arrange(puzzle: puzzles.Puzzle, position: int) -> tuple[str, ...]:
    wrong = list(puzzle.distractors)
    assert len(set(wrong)) == len(wrong), f"repeated distractor in {wrong}"
    options = (*wrong[:position], puzzle.answer, *wrong[position:])
    assert options.count(puzzle.answer) == 1, f"{puzzle.answer!r} not once in {options}"
    return options
