"""The four question families of the generated benchmark.

Each family draws one puzzle from a seeded `random.Random`: the question, the answer computed
from the drawn values, and distinct wrong answers, the likeliest mistakes first (evaluating
left to right, counting every item, going the wrong way in time...).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class Puzzle:
    question: str
    answer: str
    distractors: tuple[str, ...]


def pick_distractors(
    answer: str, candidates: Iterable[str], count: int, rng: random.Random
) -> tuple[str, ...]:
    """`count` distinct wrong answers from `candidates`, likeliest first, in a random order."""
    unique = [c for c in dict.fromkeys(candidates) if c != answer]
    if len(unique) < count:
        raise ValueError(f"only {len(unique)} distractors for {answer!r}, need {count}")
    chosen = list(unique[:count])
    rng.shuffle(chosen)
    return tuple(chosen)


def _near_numbers(answer: int, rng: random.Random) -> list[int]:
    steps = [1, -1, 2, -2, 10, -10, 3, -3, 5, -5]
    rng.shuffle(steps)
    return [answer + step for step in steps if answer + step >= 0]


# --- arithmetic: two operations, where doing them left to right is the tempting mistake

_EXPRESSIONS: tuple[
    tuple[str, Callable[[int, int, int], int], Callable[[int, int, int], int]], ...
] = (
    ("{a} + {b} * {c}", lambda a, b, c: a + b * c, lambda a, b, c: (a + b) * c),
    ("{a} * {b} - {c}", lambda a, b, c: a * b - c, lambda a, b, c: a * (b - c)),
    ("({a} + {b}) * {c}", lambda a, b, c: (a + b) * c, lambda a, b, c: a + b * c),
    ("{a} - {b} + {c}", lambda a, b, c: a - b + c, lambda a, b, c: a - (b + c)),
    ("{a} * ({b} + {c})", lambda a, b, c: a * (b + c), lambda a, b, c: a * b + c),
)


def arithmetic(rng: random.Random, wrong: int) -> Puzzle:
    template, solve, misread = rng.choice(_EXPRESSIONS)
    a, b, c = rng.randint(10, 15), rng.randint(2, 6), rng.randint(2, 6)
    answer = solve(a, b, c)
    candidates = [misread(a, b, c), *_near_numbers(answer, rng)]
    distractors = pick_distractors(str(answer), (str(n) for n in candidates if n >= 0), wrong, rng)
    return Puzzle(f"What is {template.format(a=a, b=b, c=c)}?", str(answer), distractors)


# --- date arithmetic, written like BBH's date_understanding


def _day(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def _shifted_month(value: date, months: int) -> date | None:
    month_index = value.year * 12 + value.month - 1 + months
    try:
        return value.replace(year=month_index // 12, month=month_index % 12 + 1)
    except ValueError:  # no 31 April
        return None


def date_arithmetic(rng: random.Random, wrong: int) -> Puzzle:
    today = date(2001, 1, 1) + timedelta(days=rng.randrange(25 * 365))
    days = rng.randint(2, 30)
    forward = rng.random() < 0.5
    delta = timedelta(days=days if forward else -days)
    answer = today + delta
    when = f"{days} days from today" if forward else f"{days} days ago"
    verb = "is" if forward else "was"
    question = f"Today is {_day(today)}. What {verb} the date {when} in MM/DD/YYYY?"
    near = [answer + timedelta(days=d) for d in (1, -1, 7, -7)]
    months = [_shifted_month(answer, m) for m in (1, -1)]
    others = [*near, *(m for m in months if m), today]
    rng.shuffle(others)
    candidates = [today - delta, *others]
    distractors = pick_distractors(_day(answer), map(_day, candidates), wrong, rng)
    return Puzzle(question, _day(answer), distractors)


# --- counting the objects of one kind, written like BBH's object_counting

KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "animals": (
        ("cat", "cats"), ("dog", "dogs"), ("goat", "goats"), ("rabbit", "rabbits"),
        ("cow", "cows"), ("duck", "ducks"), ("pig", "pigs"), ("frog", "frogs"),
    ),
    "fruits": (
        ("apple", "apples"), ("banana", "bananas"), ("orange", "oranges"),
        ("peach", "peaches"), ("plum", "plums"), ("pear", "pears"),
    ),
    "vegetables": (
        ("carrot", "carrots"), ("onion", "onions"), ("potato", "potatoes"),
        ("cabbage", "cabbages"), ("cucumber", "cucumbers"), ("yam", "yams"),
    ),
    "musical instruments": (
        ("piano", "pianos"), ("violin", "violins"), ("flute", "flutes"),
        ("drum", "drums"), ("trumpet", "trumpets"), ("guitar", "guitars"),
    ),
}  # fmt: skip

NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}


def _phrase(quantity: int, noun: tuple[str, str]) -> str:
    singular, plural = noun
    if quantity > 1:
        return f"{NUMBER_WORDS[quantity]} {plural}"
    return f"{'an' if singular[0] in 'aeiou' else 'a'} {singular}"


def object_counting(rng: random.Random, wrong: int) -> Puzzle:
    kind = rng.choice(sorted(KINDS))
    others = [noun for other, nouns in KINDS.items() if other != kind for noun in nouns]
    entries = rng.randint(4, 6)
    wanted = rng.sample(KINDS[kind], rng.randint(1, entries - 1))
    items = [(noun, True) for noun in wanted] + [
        (noun, False) for noun in rng.sample(others, entries - len(wanted))
    ]
    rng.shuffle(items)
    quantities = [rng.choice((1, 1, 1, 2, 3)) for _ in items]
    phrases = [_phrase(q, noun) for q, (noun, _) in zip(quantities, items, strict=True)]
    listing = ", ".join(phrases[:-1]) + f", and {phrases[-1]}"
    answer = sum(q for q, (_, is_wanted) in zip(quantities, items, strict=True) if is_wanted)
    candidates = [sum(quantities), len(wanted), *_near_numbers(answer, rng)]
    distractors = pick_distractors(str(answer), (str(n) for n in candidates if n > 0), wrong, rng)
    return Puzzle(f"I have {listing}. How many {kind} do I have?", str(answer), distractors)


# --- ordering three people from two comparisons

# (more, less, most, least)
COMPARISONS = (
    ("taller", "shorter", "tallest", "shortest"),
    ("older", "younger", "oldest", "youngest"),
    ("faster", "slower", "fastest", "slowest"),
    ("heavier", "lighter", "heaviest", "lightest"),
)
NAMES = ("Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gina", "Hank", "Ivy", "Jack", "Kate")


def ordering(rng: random.Random, wrong: int) -> Puzzle:
    more, less, most, least = rng.choice(COMPARISONS)
    ranked = rng.sample(NAMES, wrong + 1)  # ranked[0] has the most of the quality
    statements = []
    for higher, lower in itertools.pairwise(ranked):
        if rng.random() < 0.5:
            statements.append(f"{higher} is {more} than {lower}.")
        else:
            statements.append(f"{lower} is {less} than {higher}.")
    rng.shuffle(statements)
    asks_most = rng.random() < 0.5
    answer = ranked[0] if asks_most else ranked[-1]
    question = f"{' '.join(statements)} Who is the {most if asks_most else least}?"
    distractors = pick_distractors(answer, ranked, wrong, rng)
    return Puzzle(question, answer, distractors)
