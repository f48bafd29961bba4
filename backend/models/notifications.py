"""The staff outbox: messages to a site's nurses or a study's coordinators, sent after commit."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base, IdMixin, utcnow

STAFF_NOTIFICATION_STATUSES = ("scheduled", "queued", "sent", "failed", "cancelled")


class StaffNotification(IdMixin, Base):
    """One message to one staff user. `dedupe_key` makes "notify once" a database guarantee."""

    __tablename__ = "staff_notifications"
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", "user_id", name="uq_staff_notifications_dedupe_user"),
        sa.Index("ix_staff_notifications_due", "status", "send_at"),
        sa.CheckConstraint(f"status IN {STAFF_NOTIFICATION_STATUSES!r}", name="status_known"),
    )

    user_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    site_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("sites.id"))
    patient_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("patients.id"))
    message_key: so.Mapped[str] = so.mapped_column(sa.String(60))
    params: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    channel: so.Mapped[str] = so.mapped_column(sa.String(20), default="email")
    dedupe_key: so.Mapped[str] = so.mapped_column(sa.String(200))
    send_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default="scheduled")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    sent_at: so.Mapped[datetime | None]
    # The dispatcher's claim (migration 0004): a queued row whose lease ran out is claimed again.
    claim_id: so.Mapped[uuid.UUID | None]
    lease_until: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
