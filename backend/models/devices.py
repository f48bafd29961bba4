"""Patients' phones: push tokens registered by the app, retired when the provider says they are gone."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base, IdMixin, utcnow

PLATFORMS = ("ios", "android")


class Device(IdMixin, Base):
    """One app installation. A token is unique: registered again by another patient, it moves to them."""

    __tablename__ = "devices"
    __table_args__ = (
        sa.CheckConstraint(f"platform IN {PLATFORMS!r}", name="platform_known"),
        sa.Index("ix_devices_patient_active", "patient_id", "retired_at"),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    platform: so.Mapped[str] = so.mapped_column(sa.String(10))
    token: so.Mapped[str] = so.mapped_column(sa.String(512), unique=True)
    registered_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    retired_at: so.Mapped[datetime | None]
    retired_reason: so.Mapped[str | None] = so.mapped_column(sa.String(200))

    @property
    def is_active(self) -> bool:
        return self.retired_at is None
