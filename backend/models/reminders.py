"""Patient reminders (the outbox the dispatcher drains), their delivery attempts, and the history of a
patient's time zone (reminders are planned in it)."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base, IdMixin, utcnow
from backend.models.patients import Patient

# `sending` is internal (the message is with the provider right now); the API shows it as `queued`.
REMINDER_STATUSES = ("scheduled", "queued", "sending", "sent", "delivered", "failed", "cancelled")
PENDING_STATUSES = ("scheduled", "queued")
REMINDER_AUDIENCES = ("patient", "staff")
ATTEMPT_OUTCOMES = ("sent", "transient", "permanent", "recipient_gone", "ambiguous", "no_route")


class Reminder(IdMixin, Base):
    """One message due to one patient (or, for `audience="staff"`, a task for the site staff) about one
    calendar event. Written in the calendar's transaction; claimed, sent and settled by the dispatcher.

    Not audited row by row: reminders are operational, not clinical data, and every send is recorded in
    `delivery_attempts` instead.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        sa.Index("ix_reminders_due", "status", "send_at"),
        sa.Index("ix_reminders_event", "event_id"),
        sa.Index("ix_reminders_patient_send_at", "patient_id", "send_at"),
        # "Calling twice changes nothing", also under concurrency: one live reminder per event, rule and instant.
        sa.Index("uq_reminders_event_rule_send_at", "event_id", "rule", "send_at", unique=True,
                 postgresql_where=sa.text("status <> 'cancelled'"), sqlite_where=sa.text("status <> 'cancelled'")),
        sa.CheckConstraint(f"status IN {REMINDER_STATUSES!r}", name="status_known"),
        sa.CheckConstraint(f"audience IN {REMINDER_AUDIENCES!r}", name="audience_known"),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    event_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("events.id"))
    rule: so.Mapped[str] = so.mapped_column(sa.String(40))
    audience: so.Mapped[str] = so.mapped_column(sa.String(10), default="patient")
    channel: so.Mapped[str] = so.mapped_column(sa.String(20))
    target_date: so.Mapped[date]  # the event date this reminder was planned for
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64))  # the zone its wall-clock time was planned in
    send_at: so.Mapped[datetime]
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default="scheduled")
    claim_id: so.Mapped[uuid.UUID | None]  # the dispatcher's claim that may send it
    lease_until: so.Mapped[datetime | None]  # a queued/sending row older than this is taken back
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    provider_message_id: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    sent_at: so.Mapped[datetime | None]
    delivered_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    patient: so.Mapped[Patient] = so.relationship(viewonly=True)


class DeliveryAttempt(Base):
    """One try at sending a reminder or a staff message, whatever came of it (append-only)."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        sa.CheckConstraint(f"outcome IN {ATTEMPT_OUTCOMES!r}", name="outcome_known"),
        sa.CheckConstraint("(reminder_id IS NULL) <> (staff_notification_id IS NULL)", name="one_subject"),
    )

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    reminder_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("reminders.id"), index=True)
    staff_notification_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("staff_notifications.id"), index=True)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    channel: so.Mapped[str] = so.mapped_column(sa.String(20))
    outcome: so.Mapped[str] = so.mapped_column(sa.String(20))
    provider_message_id: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)


class PatientTimezoneChange(IdMixin, Base):
    """The zone history of a patient: reminders are planned in the zone in force when they are planned."""

    __tablename__ = "patient_timezone_changes"

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    old_timezone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    new_timezone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    changed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    changed_by: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
