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

#: open → acknowledged (who, when, action) → closed. Acknowledging through the API records who, when
#: and the action taken and closes the alert at once (CONTRACT.md "Site work": acknowledge "closes
#: one"); "acknowledged" is kept for an alert acknowledged but still followed up.
ALERT_STATUSES = ("open", "acknowledged", "closed")


class SymptomAlert(Audited, IdMixin, TimestampMixin, Base):
    """One rule of `schedules.symptom_alerts` that fired for one term of one report.

    At most one alert per (report, rule, term): a replayed report can never raise it twice.
    `detail` keeps what made the rule fire (values, thresholds, baselines) and the term's answers.
    """

    __tablename__ = "symptom_alerts"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "rule", "term_number", name="uq_symptom_alerts_report_rule_term"),
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
    status: so.Mapped[str] = so.mapped_column(sa.String(14), default="open")
    acknowledged_by_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"))
    acknowledged_at: so.Mapped[datetime | None]
    action: so.Mapped[str | None] = so.mapped_column(sa.Text)
    escalated_at: so.Mapped[datetime | None]

    patient: so.Mapped[Patient] = so.relationship(lazy="joined")
    site: so.Mapped[Site] = so.relationship(lazy="joined")
    report: so.Mapped[SymptomReport] = so.relationship(back_populates="alerts")
    acknowledged_by: so.Mapped[User | None] = so.relationship()
