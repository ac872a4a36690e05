"""Whether a fine-tuned adapter replaces the active study assistant: a pure rule on the
held-out metrics of its job.

The share of held-out outputs that parse as `{reason, guideline}` decides first (an
assistant whose feedback cannot be read helps nobody), the held-out loss breaks ties. With no
version active the adapter is compared with the base model on the same held-out slice (the
job's "before" metrics); else with the active version's own held-out metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The keys of a job's metrics (written by the fine-tuning code) that the rule reads.
VALID_JSON_BEFORE = "valid_json_share_before"
VALID_JSON_AFTER = "valid_json_share_after"
LOSS_BEFORE = "held_out_loss_before"
LOSS_AFTER = "held_out_loss_after"


@dataclass(frozen=True)
class HeldOutScore:
    valid_json_share: float | None
    loss: float | None


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def trained_score(metrics: Mapping[str, Any]) -> HeldOutScore:
    """The adapter's held-out score, from its job's metrics."""
    return HeldOutScore(_number(metrics, VALID_JSON_AFTER), _number(metrics, LOSS_AFTER))


def base_score(metrics: Mapping[str, Any]) -> HeldOutScore:
    """The base model's score on the same held-out slice, from the same metrics."""
    return HeldOutScore(_number(metrics, VALID_JSON_BEFORE), _number(metrics, LOSS_BEFORE))


def beats(candidate: HeldOutScore, incumbent: HeldOutScore) -> bool:
    """Strictly better: a higher valid-JSON share, or the same share and a lower loss. A
    measure the candidate lacks never wins; one only the incumbent lacks is not compared."""
    share, rival_share = candidate.valid_json_share, incumbent.valid_json_share
    if share is None and rival_share is not None:
        return False
    if share is not None and rival_share is not None and share != rival_share:
        return share > rival_share
    if candidate.loss is None:
        return False
    return incumbent.loss is None or candidate.loss < incumbent.loss


def decide(
    metrics: Mapping[str, Any],
    active: tuple[str, Mapping[str, Any]] | None,
    *,
    auto_promote: bool,
) -> Decision:
    """Promote the job's adapter or not; `active` is the active version's (name, metrics),
    None for the base model."""
    candidate = trained_score(metrics)
    name, incumbent = (
        ("v0", base_score(metrics))
        if active is None
        else (
            active[0],
            trained_score(active[1]),
        )
    )
    better = beats(candidate, incumbent)
    comparison = f"{_describe(candidate)} vs {name} {_describe(incumbent)}"
    if not better:
        return Decision(False, f"kept {name}: not better on held-out data ({comparison})")
    if not auto_promote:
        return Decision(False, f"better than {name} ({comparison}); auto-promotion is off")
    return Decision(True, f"promoted over {name} ({comparison})")


def _number(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _describe(score: HeldOutScore) -> str:
    share = "?" if score.valid_json_share is None else f"{score.valid_json_share:.2f}"
    loss = "?" if score.loss is None else f"{score.loss:.3f}"
    return f"valid JSON {share}, loss {loss}"
