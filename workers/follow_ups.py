"""The next task a step asks for, published by the Celery task after its writes commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FollowUp:
    task: str
    args: tuple[Any, ...]
