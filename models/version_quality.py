"""How each study-assistant version's feedback did: usable guidelines, and retries they made
right, counted over the feedback analyses of some runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.tables import Analysis, Trace


@dataclass(frozen=True)
class VersionFeedback:
    version: str
    analyses: int
    guidelines: int  # analyses that gave a usable guideline
    retries: int  # guidelines tried on a retry
    retries_right: int

    @property
    def guideline_share(self) -> float:
        return self.guidelines / self.analyses if self.analyses else 0.0

    @property
    def retry_success(self) -> float:
        return self.retries_right / self.retries if self.retries else 0.0


def feedback_by_version(
    *, session: Session, run_ids: Sequence[int], base_version: str
) -> list[VersionFeedback]:
    """One row per version that wrote feedback in these runs (`base_version` for analyses
    written before versions were recorded)."""
    rows = session.exec(
        select(Analysis.assistant_version, Analysis.guideline, Trace.successful)
        .outerjoin(Trace, col(Trace.analysis_id) == Analysis.id)
        .where(col(Analysis.run_id).in_(run_ids), Analysis.mode == "feedback")
    ).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for version, guideline, successful in rows:
        tally = counts[version or base_version]
        tally[0] += 1
        tally[1] += bool(guideline)
        tally[2] += successful is not None
        tally[3] += bool(successful)
    return [VersionFeedback(name, *tally) for name, tally in sorted(counts.items())]
