"""The promotion rule: valid-JSON share first, then held-out loss; only strictly better."""

from __future__ import annotations

import pytest

from workers.promotion import HeldOutScore, beats, decide


@pytest.mark.parametrize(
    ("candidate", "incumbent", "expected"),
    [
        (HeldOutScore(0.8, 2.0), HeldOutScore(0.5, 1.0), True),  # more valid JSON wins
        (HeldOutScore(0.5, 0.5), HeldOutScore(0.8, 2.0), False),  # a lower loss does not
        (HeldOutScore(0.5, 0.9), HeldOutScore(0.5, 1.0), True),  # tie on JSON: loss decides
        (HeldOutScore(0.5, 1.0), HeldOutScore(0.5, 1.0), False),  # a tie keeps the incumbent
        (HeldOutScore(None, 0.1), HeldOutScore(0.5, 1.0), False),  # unmeasured never wins
        (HeldOutScore(0.5, None), HeldOutScore(0.5, 1.0), False),
        (HeldOutScore(0.5, 0.9), HeldOutScore(None, 1.0), True),  # compared on what both have
        (HeldOutScore(0.5, 0.9), HeldOutScore(0.5, None), True),
    ],
)
def test_beats(candidate: HeldOutScore, incumbent: HeldOutScore, expected: bool) -> None:
    assert beats(candidate, incumbent) is expected


GOOD = {
    "valid_json_share_before": 0.2,
    "valid_json_share_after": 0.9,
    "held_out_loss_before": 2.0,
    "held_out_loss_after": 1.0,
}


def test_with_no_active_version_the_base_model_on_the_same_slice_is_the_bar() -> None:
    decision = decide(GOOD, None, auto_promote=True)
    assert decision.promote and "over v0" in decision.reason
    worse = GOOD | {"valid_json_share_after": 0.1}
    assert not decide(worse, None, auto_promote=True).promote


def test_an_active_version_is_the_bar_when_there_is_one() -> None:
    active = ("v3", GOOD | {"valid_json_share_after": 0.95})
    decision = decide(GOOD, active, auto_promote=True)
    assert not decision.promote and "kept v3" in decision.reason


def test_auto_promotion_off_keeps_a_better_version_inactive() -> None:
    decision = decide(GOOD, None, auto_promote=False)
    assert not decision.promote and "auto-promotion is off" in decision.reason
