"""What Celery beat runs, and how often. Run exactly one beat process per deployment (a
second one only makes extra ticks: claims are atomic, so no example lands in two jobs)."""

from __future__ import annotations

from typing import Any

from salam.settings import Settings
from workers.queues import BATCH_TASK, WATCHDOG_TASK

BATCH_ENTRY = "batch-training-examples"
WATCHDOG_ENTRY = "resume-stuck-runs"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Beat entries by name: the task, its interval in seconds, its options."""
    entries: dict[str, dict[str, Any]] = {}
    if settings.finetune_interval > 0:
        entries[BATCH_ENTRY] = {"task": BATCH_TASK, "schedule": float(settings.finetune_interval)}
    if settings.watchdog_interval > 0:
        # A tick that waits longer than its interval is dropped, not piled up.
        entries[WATCHDOG_ENTRY] = {
            "task": WATCHDOG_TASK,
            "schedule": float(settings.watchdog_interval),
            "options": {"expires": float(settings.watchdog_interval)},
        }
    return entries
