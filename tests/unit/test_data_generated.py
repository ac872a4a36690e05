"""The generated benchmark: answers recomputed from the question text, determinism, balance."""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from salam.data import GENERATED_TASKS, QuestionRecord, generate_benchmark, load_questions
from salam.data.puzzles import COMPARISONS, KINDS

QUESTIONS = generate_benchmark(seed=0, per_task=50)

_OPERATORS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


def _evaluate(node: ast.expr) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    assert isinstance(node, ast.BinOp), ast.dump(node)
    return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))


def _question_text(question: QuestionRecord) -> str:
    return question.prompt.split("\nOptions:\n")[0]


def solve_arithmetic(text: str) -> str:
    match = re.fullmatch(r"What is ([\d\s+\-*()]+)\?", text)
    assert match, text
    return str(_evaluate(ast.parse(match.group(1), mode="eval").body))


def solve_date(text: str) -> str:
    pattern = (
        r"Today is (\S+)\. What (?:is|was) the date (\d+) days (from today|ago) in MM/DD/YYYY\?"
    )
    match = re.fullmatch(pattern, text)
    assert match, text
    today = datetime.strptime(match.group(1), "%m/%d/%Y")
    days = int(match.group(2)) * (1 if match.group(3) == "from today" else -1)
    return (today + timedelta(days=days)).strftime("%m/%d/%Y")


def solve_counting(text: str) -> str:
    match = re.fullmatch(r"I have (.+)\. How many (.+) do I have\?", text)
    assert match, text
    wanted = {word for pair in KINDS[match.group(2)] for word in pair}
    amounts = {"a": 1, "an": 1, "two": 2, "three": 3, "four": 4}
    total = 0
    for entry in re.split(r", (?:and )?", match.group(1)):
        amount, noun = entry.split(" ", 1)
        total += amounts[amount] if noun in wanted else 0
    return str(total)


def solve_ordering(text: str) -> str:
    higher_of = {}
    for more, less, _, _ in COMPARISONS:
        higher_of[more], higher_of[less] = True, False
    above: set[str] = set()
    below: set[str] = set()
    for left, word, right in re.findall(r"(\w+) is (\w+) than (\w+)\.", text):
        (above if higher_of[word] else below).add(left)
        (below if higher_of[word] else above).add(right)
    asked = re.search(r"Who is the (\w+)\?$", text)
    assert asked, text
    asks_most = any(asked.group(1) == comparison[2] for comparison in COMPARISONS)
    ends = above - below if asks_most else below - above
    assert len(ends) == 1, text
    return ends.pop()


SOLVERS = {
    "arithmetic": solve_arithmetic,
    "date_arithmetic": solve_date,
    "object_counting": solve_counting,
    "ordering": solve_ordering,
}


def test_every_task_has_a_solver() -> None:
    assert set(SOLVERS) == set(GENERATED_TASKS)
    assert len(GENERATED_TASKS) >= 3


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_every_answer_matches_a_recomputation_from_the_text(seed: int) -> None:
    for question in generate_benchmark(seed=seed, per_task=60):
        expected = SOLVERS[question.task](_question_text(question))
        assert question.target_text == expected, question.prompt


def test_options_are_distinct_and_the_answer_appears_once() -> None:
    for question in QUESTIONS:
        assert 3 <= len(question.options) <= 5
        assert len(set(question.options)) == len(question.options), question.prompt
        assert question.target in question.labels
        assert question.options.count(question.target_text) == 1


def test_prompts_are_short_and_formatted_like_bbh() -> None:
    for question in QUESTIONS:
        lines = [
            f"{label} {text}" for label, text in zip(question.labels, question.options, strict=True)
        ]
        expected = _question_text(question) + "\nOptions:\n" + "\n".join(lines)
        assert question.prompt == expected
        assert len(question.prompt.split()) < 80


def test_ids_and_indices() -> None:
    assert Counter(q.task for q in QUESTIONS) == dict.fromkeys(GENERATED_TASKS, 50)
    first = QUESTIONS[0]
    assert first.id == f"generated/{first.task}/0"
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    assert all(q.benchmark == "generated" for q in QUESTIONS)


def test_same_seed_same_questions_other_seed_other_questions() -> None:
    again = generate_benchmark(seed=0, per_task=50)
    other = generate_benchmark(seed=1, per_task=50)
    assert [(q.prompt, q.target) for q in again] == [(q.prompt, q.target) for q in QUESTIONS]
    same = sum(a.prompt == b.prompt for a, b in zip(QUESTIONS, other, strict=True))
    assert same < len(QUESTIONS) // 10


def test_a_longer_benchmark_starts_with_the_shorter_one() -> None:
    short = generate_benchmark(seed=0, per_task=10)
    assert short == [q for q in QUESTIONS if q.index < 10]


def test_correct_position_is_balanced() -> None:
    for task in GENERATED_TASKS:
        questions = [q for q in QUESTIONS if q.task == task]
        positions = Counter(q.target for q in questions)
        assert set(positions) == set(questions[0].labels), task
        assert max(positions.values()) - min(positions.values()) <= 1, (task, positions)


def test_generated_is_what_load_questions_returns() -> None:
    assert load_questions("generated") == QUESTIONS
    longer = load_questions("generated", limit=80, tasks=["ordering"], seed=0)
    assert len(longer) == 80
    assert longer[:50] == [q for q in QUESTIONS if q.task == "ordering"]
    assert load_questions("generated", seed=2) != QUESTIONS
