"""What Celery beat runs, and how often. Run exactly one beat process per deployment."""

from __future__ import annotations

from typing import Any

from salam.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Beat entries by name: the task, its interval in seconds, its options."""
    return {}
