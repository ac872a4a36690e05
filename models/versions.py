"""Study-assistant versions: which one is active, promotion and rollback.

At most one version is active; none active means the base model (`v0`). Promotion order is
kept in `activated_at`, and a rollback retires the active version, so rolling back again
goes further back instead of toggling between two.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.tables import utcnow
from models.training_tables import AssistantVersion


def active_version(*, session: Session) -> AssistantVersion | None:
    """The active version; None: the base model."""
    return session.exec(select(AssistantVersion).where(col(AssistantVersion.active))).first()


def get_version(*, session: Session, name: str) -> AssistantVersion | None:
    return session.exec(select(AssistantVersion).where(AssistantVersion.name == name)).first()


def list_versions(*, session: Session) -> list[AssistantVersion]:
    return list(session.exec(select(AssistantVersion).order_by(col(AssistantVersion.id))).all())


def add_version(*, session: Session, version: AssistantVersion) -> AssistantVersion:
    """Store an inactive version (`activate_version` promotes it)."""
    version.active = False
    session.add(version)
    session.flush()
    return version


def activate_version(*, session: Session, name: str) -> AssistantVersion:
    """Make `name` the one active version, in the caller's transaction; LookupError if there
    is no such version."""
    version = get_version(session=session, name=name)
    if version is None:
        raise LookupError(f"there is no study-assistant version {name!r}")
    _deactivate(session)
    version.active = True
    version.activated_at = utcnow()
    version.retired_at = None
    session.add(version)
    session.flush()
    return version


def use_base_model(*, session: Session) -> AssistantVersion | None:
    """No version active: the study assistant is the base model (`v0`) again. Returns the
    version that was active, which stays available to promote later."""
    current = active_version(session=session)
    _deactivate(session)
    return current


def roll_back_version(*, session: Session) -> tuple[AssistantVersion, AssistantVersion | None]:
    """Retire the active version and reactivate the one active before it (None: the base
    model). Returns (retired, now active); LookupError when no version is active."""
    current = active_version(session=session)
    if current is None:
        raise LookupError("no version is active: the study assistant is already the base model")
    _deactivate(session)
    current.retired_at = utcnow()
    session.add(current)
    session.flush()
    previous = session.exec(
        select(AssistantVersion)
        .where(
            col(AssistantVersion.activated_at).is_not(None),
            col(AssistantVersion.retired_at).is_(None),
            col(AssistantVersion.id) != current.id,
        )
        .order_by(col(AssistantVersion.activated_at).desc())
    ).first()
    if previous is not None:
        previous.active = True
        session.add(previous)
        session.flush()
    return current, previous


def _deactivate(session: Session) -> None:
    # Before another version becomes active: the unique index allows one active row only.
    # The session's loaded versions are updated too (synchronize_session's default).
    session.execute(
        update(AssistantVersion).where(col(AssistantVersion.active)).values(active=False)
    )
