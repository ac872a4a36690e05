"""Per-task train/test splits."""

from __future__ import annotations

import pytest

from salam.data import QuestionRecord, Split, make_id, split_questions
from salam.errors import ConfigError


def _questions(task: str, count: int, benchmark: str = "b") -> list[QuestionRecord]:
    return [
        QuestionRecord(make_id(benchmark, task, i), benchmark, task, i, f"q{i}", "x")
        for i in range(count)
    ]


def test_250_questions_split_200_50() -> None:
    split = split_questions(_questions("t", 250))
    assert [q.index for q in split.train] == list(range(200))
    assert [q.index for q in split.test] == list(range(200, 250))


def test_each_task_is_split_on_its_own_and_order_is_kept() -> None:
    interleaved = [
        q for pair in zip(_questions("a", 10), _questions("b", 10), strict=True) for q in pair
    ]
    split = split_questions(interleaved + _questions("c", 5))
    assert [(q.task, q.index) for q in split.train[:4]] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert sum(q.task == "a" for q in split.train) == 8
    assert sum(q.task == "c" for q in split.train) == 4
    assert [q.index for q in split.test if q.task == "b"] == [8, 9]


def test_same_task_name_in_two_benchmarks_is_two_tasks() -> None:
    split = split_questions(_questions("t", 5, "x") + _questions("t", 10, "y"))
    assert sum(q.benchmark == "x" for q in split.train) == 4
    assert sum(q.benchmark == "y" for q in split.train) == 8


def test_small_tasks_round_down_and_other_fractions() -> None:
    assert len(split_questions(_questions("t", 187)).train) == 149
    assert len(split_questions(_questions("t", 10), train_fraction=0.5).train) == 5
    everything = split_questions(_questions("t", 3), train_fraction=1.0)
    assert (len(everything.train), len(everything.test)) == (3, 0)


def test_split_is_frozen_and_rejects_bad_fractions() -> None:
    split = split_questions([])
    assert split == Split(train=[], test=[])
    with pytest.raises(AttributeError):
        split.train = []  # type: ignore[misc]
    with pytest.raises(ConfigError, match="between 0 and 1"):
        split_questions(_questions("t", 3), train_fraction=1.5)


def test_first_per_task_keeps_order_and_caps_each_task() -> None:
    from salam.data import first_per_task, generate_benchmark

    questions = generate_benchmark(per_task=5)
    kept = first_per_task(questions, 2)
    assert [q.index for q in kept] == [0, 1] * len({q.task for q in questions})
    assert kept == [q for q in questions if q.index < 2]
    assert first_per_task(questions, 10) == questions
