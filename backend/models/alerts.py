"""Symptom alerts raised by PRO-CTCAE reports, for a site's nurses to act on."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin
from backend.models.patients import Patient
from backend.models.studies import Site
from backend.models.symptoms import SymptomReport
from backend.models.users import User

#: open → closed. Acknowledging records who, when and the action taken and closes the alert
#: (CONTRACT.md "Site work": acknowledge "closes one"). These are every status an alert takes.
ALERT_STATUSES = ("open", "closed")


class SymptomAlert(Audited, IdMixin, TimestampMixin, Base):
    """The one alert a symptom report raised: every rule of `schedules.symptom_alerts` that fired,
    for every term, in `symptoms`, the most serious first.

    At most one alert per report, so a replayed report can never raise it twice and one report is one
    thing for the nurse to act on. `rule`, `term_number`, `term`, `item_code` and `detail` repeat the
    most serious finding; each item of `symptoms` is `{"rule", "term_number", "term", "item_code",
    "detail"}` (`detail`: what made the rule fire, and the term's answers and grade).
    """

    __tablename__ = "symptom_alerts"
    __table_args__ = (
        sa.UniqueConstraint("report_id", name="uq_symptom_alerts_report_id"),
        sa.Index("ix_symptom_alerts_site_status", "site_id", "status"),
        sa.CheckConstraint(f"status IN {ALERT_STATUSES!r}", name="status_known"),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    site_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("sites.id"))
    report_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("symptom_reports.id"))
    rule: so.Mapped[str] = so.mapped_column(sa.String(30))
    term_number: so.Mapped[int]
    term: so.Mapped[str] = so.mapped_column(sa.String(200))
    item_code: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    detail: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    symptoms: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    status: so.Mapped[str] = so.mapped_column(sa.String(14), default="open")
    acknowledged_by_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"))
    acknowledged_at: so.Mapped[datetime | None]
    action: so.Mapped[str | None] = so.mapped_column(sa.Text)
    escalated_at: so.Mapped[datetime | None]

    patient: so.Mapped[Patient] = so.relationship(lazy="joined")
    site: so.Mapped[Site] = so.relationship(lazy="joined")
    report: so.Mapped[SymptomReport] = so.relationship(back_populates="alerts")
    acknowledged_by: so.Mapped[User | None] = so.relationship()
