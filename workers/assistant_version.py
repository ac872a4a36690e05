"""Which study-assistant version the workers use: read per task, so a promotion or rollback
takes effect without a restart."""

from __future__ import annotations

from dataclasses import dataclass

from models import BASE_VERSION, active_version, session_scope


@dataclass(frozen=True)
class ActiveAssistant:
    """The version to analyze with: its name (stored on each Analysis) and its LoRA adapter
    folder; `v0` with no adapter is the base model."""

    name: str
    adapter_path: str | None


def active_assistant() -> ActiveAssistant:
    """One indexed read (the partial index on the active flag)."""
    with session_scope() as session:
        version = active_version(session=session)
    if version is None:
        return ActiveAssistant(BASE_VERSION, None)
    return ActiveAssistant(version.name, version.adapter_path)
