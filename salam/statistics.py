"""How far an accuracy can be trusted: Wilson intervals for one strategy, McNemar's exact test
for two strategies on the same questions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Z_95 = 1.959963984540054
SIGNIFICANCE = 0.05


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion, as fractions. Unlike the normal
    approximation it stays inside [0, 1] and is honest at 0 or n right out of small n."""
    assert 0 <= correct <= total, f"{correct} right out of {total}"
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference", each question that only one
    strategy got right is a fair coin flip between them."""
    assert only_a >= 0 and only_b >= 0, "counts are not negative"
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2.0 * tail / float(2**discordant))


@dataclass(frozen=True)
class PairedComparison:
    """Strategy `a` against `b` on the questions both answered."""

    a: str
    b: str
    questions: int
    only_a: int  # right under `a`, wrong under `b`
    only_b: int
    p_value: float

    @property
    def within_noise(self) -> bool:
        return self.p_value >= SIGNIFICANCE

    def describe(self) -> str:
        verdict = (
            f"within noise (p >= {SIGNIFICANCE})"
            if self.within_noise
            else f"a real difference at p < {SIGNIFICANCE}"
        )
        return (
            f"{self.a} vs {self.b} on {self.questions} shared questions: {self.only_a} right only "
            f"with {self.a}, {self.only_b} right only with {self.b}; McNemar exact "
            f"p = {self.p_value:.3g}: {verdict}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "questions": self.questions,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "p_value": round(self.p_value, 6),
            "within_noise": self.within_noise,
        }


def compare_paired(
    a: str, a_outcomes: Mapping[str, bool], b: str, b_outcomes: Mapping[str, bool]
) -> PairedComparison:
    """McNemar's test over the questions (by key) that both strategies answered."""
    shared = a_outcomes.keys() & b_outcomes.keys()
    only_a = sum(a_outcomes[key] and not b_outcomes[key] for key in shared)
    only_b = sum(b_outcomes[key] and not a_outcomes[key] for key in shared)
    return PairedComparison(a, b, len(shared), only_a, only_b, mcnemar_exact(only_a, only_b))
