"""Wilson intervals and McNemar's exact test against values worked out by hand."""

from __future__ import annotations

import pytest

from salam.statistics import compare_paired, mcnemar_exact, wilson_interval


@pytest.mark.parametrize(
    ("correct", "total", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval(correct: int, total: int, low: float, high: float) -> None:
    assert wilson_interval(correct, total) == pytest.approx((low, high), abs=1e-4)


def test_no_questions_say_nothing() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("only_a", "only_b", "p"),
    [
        (0, 0, 1.0),
        (1, 1, 1.0),
        (1, 9, 22 / 1024),  # 2 * (C(10,0) + C(10,1)) / 2**10
        (9, 1, 22 / 1024),
        (0, 5, 2 / 32),
        (3, 5, 2 * (1 + 8 + 28 + 56) / 256),
    ],
)
def test_mcnemar_exact(only_a: int, only_b: int, p: float) -> None:
    assert mcnemar_exact(only_a, only_b) == pytest.approx(p)


def test_comparison_uses_only_shared_questions() -> None:
    a = {"q1": True, "q2": True, "q3": False, "only-in-a": True}
    b = {"q1": False, "q2": True, "q3": False, "only-in-b": False}
    compared = compare_paired("feedback", a, "none", b)
    assert (compared.questions, compared.only_a, compared.only_b) == (3, 1, 0)
    assert compared.within_noise and compared.p_value == 1.0
