"""When a chunk fails for good (retries spent, or an error not worth retrying), its questions
end as failed, so the run still finishes and the failure shows in its counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models import QUESTION_FAILED, get_attempts, session_scope, settle_questions
from workers.queues import ANALYZE_TASK


def fail_chunk(task_name: str, args: Sequence[Any]) -> int:
    """Settle the chunk's pending questions as failed; returns how many changed."""
    run_id, ids = int(args[0]), [int(item) for item in args[1]]
    with session_scope(write=True) as session:
        if task_name == ANALYZE_TASK:
            ids = [
                attempt.question_id for attempt in get_attempts(session=session, attempt_ids=ids)
            ]
        return settle_questions(
            session=session, run_id=run_id, outcomes=dict.fromkeys(ids, QUESTION_FAILED)
        )
