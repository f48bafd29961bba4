"""Calendar events: dosing visits, diary days, tumour assessments and symptom surveys of a patient."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, utcnow

EVENT_KINDS = ("dose", "dosing_diary", "tumor_assessment", "symptom_survey")
EVENT_STATUSES = ("planned", "completed", "missed", "held", "cancelled")


class Event(Audited, IdMixin, Base):
    """One entry of a patient's calendar. `key` is the clocks' natural key; ids never change."""

    __tablename__ = "events"
    __table_args__ = (
        # A patient's events (a calendar, its changes since an instant) are read through this key's
        # leading column: a few hundred rows, filtered and sorted in memory (migration 0010).
        sa.UniqueConstraint("patient_id", "key", name="uq_events_patient_key"),
        # The reminder horizon's daily sweep: planned events by date, across patients.
        sa.Index("ix_events_planned_target", "target_date", postgresql_where=sa.text("status = 'planned'"),
                 sqlite_where=sa.text("status = 'planned'")),
        # The worklist: clinic visits still planned whose window has opened (overdue or due), by window.
        sa.Index("ix_events_planned_visits_window", "window_start", "window_end", "patient_id",
                 postgresql_where=sa.text("status = 'planned' AND kind IN ('dose', 'tumor_assessment')"),
                 sqlite_where=sa.text("status = 'planned' AND kind IN ('dose', 'tumor_assessment')")),
        # The worklist's survey non-response: a patient's latest surveys by window.
        sa.Index("ix_events_patient_kind_window_end", "patient_id", "kind", "window_end"),
        sa.CheckConstraint(f"kind IN {EVENT_KINDS!r}", name="kind_known"),
        sa.CheckConstraint(f"status IN {EVENT_STATUSES!r}", name="status_known"),
        sa.CheckConstraint("window_start <= window_end", name="window_ordered"),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    key: so.Mapped[str] = so.mapped_column(sa.String(40))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    cycle: so.Mapped[int | None]
    day: so.Mapped[int | None]
    label: so.Mapped[str] = so.mapped_column(sa.String(120))
    agents: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    protocol_date: so.Mapped[date]
    target_date: so.Mapped[date]
    window_start: so.Mapped[date]
    window_end: so.Mapped[date]
    flags: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default="planned")
    actual_date: so.Mapped[date | None]
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    version: so.Mapped[int] = so.mapped_column(default=1)
    # A booked clinic visit (backend.services.appointments): wall-clock time in the site's zone, and where.
    appointment_time: so.Mapped[time | None]
    appointment_location: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class CalendarVersion(Base):
    """A per-patient counter that changes whenever any of the patient's events changes: on
    PostgreSQL statement-level triggers on `events` bump it in the writer's transaction (migration
    0006), so every writer is covered. The calendar's ETag is read from it with one indexed read
    (backend.services.calendar_reads). Not clinical data: not audited."""

    __tablename__ = "calendar_versions"

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"), primary_key=True)
    version: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=1)
