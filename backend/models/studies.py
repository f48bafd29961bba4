"""Studies and their sites: the protocol settings every calendar, reminder and PFS rule reads."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin

PFS_MISSED_RULES = ("visits", "gap")


class Study(Audited, IdMixin, TimestampMixin, Base):
    __tablename__ = "studies"
    __table_args__ = (
        sa.CheckConstraint("assessment_interval_days > 0", name="interval_positive"),
        sa.CheckConstraint("assessment_window_days >= 0", name="window_not_negative"),
        sa.CheckConstraint(f"pfs_missed_rule IN {PFS_MISSED_RULES!r}", name="pfs_rule_known"),
    )

    code: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(300))
    assessment_interval_days: so.Mapped[int] = so.mapped_column(default=42)
    assessment_window_days: so.Mapped[int] = so.mapped_column(default=7)
    # [[until_day | null, interval_days], ...]: e.g. every 42 days until day 336, then every 84.
    assessment_phases: so.Mapped[list[Any] | None] = so.mapped_column(sa.JSON)
    pfs_missed_rule: so.Mapped[str] = so.mapped_column(sa.String(10), default="visits")
    # Study-configurable policies (surveys, dosing windows, reminders, alert rules, regimen overrides).
    settings: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)

    sites: so.Mapped[list["Site"]] = so.relationship(back_populates="study", order_by="Site.code")


class Site(Audited, IdMixin, TimestampMixin, Base):
    __tablename__ = "sites"

    code: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    study_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("studies.id"), index=True)
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64))
    country: so.Mapped[str] = so.mapped_column(sa.String(2))
    # ISO 3166-2 subdivision for regional public holidays (e.g. "ENG" for English bank holidays);
    # None means the country's default (see backend.services.calendars.clinic_for).
    subdivision: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    # Extra closure days beyond weekends and public holidays, as ISO dates.
    closures: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # The care team as patients see it (GET /me/care-team): one phone number, and the opening hours and
    # what to do out of hours as texts per language ({"en": "...", "zh-CN": "..."}).
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    hours: so.Mapped[dict[str, str]] = so.mapped_column(sa.JSON, default=dict)
    out_of_hours: so.Mapped[dict[str, str]] = so.mapped_column(sa.JSON, default=dict)

    study: so.Mapped[Study] = so.relationship(back_populates="sites", lazy="joined")
