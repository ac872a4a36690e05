"""`salam report`'s feedback quality per study-assistant version."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from training_rows import retried_mistakes

from models import Analysis, feedback_by_version, session_scope, use_database
from producers.results import version_feedback_table


def test_feedback_is_counted_per_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'salam.db'}"
    use_database(url)
    try:
        run_id, analysis_ids = retried_mistakes(url, 5, right=2)
        with session_scope(write=True, url=url) as session:
            # The last two analyses were written by a fine-tuned version, one of them unusable.
            session.execute(
                update(Analysis)
                .where(Analysis.id.in_(analysis_ids[3:]))  # type: ignore[union-attr]
                .values(assistant_version="v4")
            )
            session.execute(
                update(Analysis).where(Analysis.id == analysis_ids[4]).values(guideline=None)
            )
        with session_scope(url=url) as session:
            rows = feedback_by_version(session=session, run_ids=[run_id], base_version="v0")
        summary = [(r.version, r.analyses, r.guidelines, r.retries, r.retries_right) for r in rows]
        assert summary == [("v0", 3, 3, 3, 2), ("v4", 2, 1, 2, 0)]
        table = version_feedback_table([run_id])
        assert table is not None and "v4" in table and "2/3" in table
        assert version_feedback_table([run_id + 1]) is None
    finally:
        use_database(None)
