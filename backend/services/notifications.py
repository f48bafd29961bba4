"""Writing staff messages to the outbox, in the caller's transaction; delivery happens after commit."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.extensions import db
from backend.models import Site, StaffNotification, User
from backend.models.users import user_sites, user_studies
from backend.models.base import utcnow


def site_staff(site: Site, role: str) -> list[User]:
    """Active nurses assigned to the site, or active coordinators assigned to its study."""
    if role == "nurse":
        stmt = sa.select(User).join(user_sites).where(user_sites.c.site_id == site.id)
    elif role == "coordinator":
        stmt = sa.select(User).join(user_studies).where(user_studies.c.study_id == site.study_id)
    else:
        raise ValueError(f"no staff role {role!r}")
    return list(db.session.scalars(stmt.where(User.role == role, User.is_active.is_(True)).order_by(User.username)))


def notify_site_staff(site: Site, role: str, message_key: str, params: dict[str, Any], *, dedupe_key: str,
                      patient_id: uuid.UUID | None = None, send_at: datetime | None = None,
                      channel: str = "email") -> int:
    """Queue one message per staff user; a dedupe key already used for a user is skipped silently.

    Does not commit: the message is written in the same transaction as the fact it announces.
    Returns how many messages were newly queued.
    """
    rows = [
        {"id": uuid.uuid4(), "user_id": user.id, "site_id": site.id, "patient_id": patient_id,
         "message_key": message_key, "params": params, "channel": channel, "dedupe_key": dedupe_key,
         "send_at": send_at or utcnow(), "status": "scheduled", "attempts": 0, "created_at": utcnow()}
        for user in site_staff(site, role)
    ]
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(StaffNotification)
    # RETURNING counts what was inserted: an ORM-enabled INSERT reports rowcount -1.
    result = db.session.execute(insert.values(rows).on_conflict_do_nothing(
        index_elements=["dedupe_key", "user_id"]).returning(StaffNotification.id))
    return len(result.all())
