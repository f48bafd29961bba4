"""Patient-reported PRO-CTCAE symptom reports, stored as submitted and as graded at submission."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin

if TYPE_CHECKING:
    from backend.models.alerts import SymptomAlert


class SymptomReport(Audited, IdMixin, TimestampMixin, Base):
    """One completed PRO-CTCAE questionnaire.

    `client_report_id` is the device's id for the submission: (patient, client_report_id) is unique,
    which makes a retried upload a replay rather than a second report. `answers` are the answers as
    submitted (`{item code: value}`); `symptoms` the graded terms (branching applied, Basch 2021
    composite grades) as computed when the report arrived. `local_date` is `completed_at`'s date in
    the patient's zone; `event_id` the survey event the report completed, if any.
    """

    __tablename__ = "symptom_reports"
    __table_args__ = (
        sa.UniqueConstraint("patient_id", "client_report_id", name="uq_symptom_reports_patient_client_report"),
        sa.Index("ix_symptom_reports_patient_completed", "patient_id", "completed_at"),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    client_report_id: so.Mapped[uuid.UUID]
    completed_at: so.Mapped[datetime]
    local_date: so.Mapped[date]
    answers: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    symptoms: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON)
    event_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("events.id"))
    unscheduled: so.Mapped[bool] = so.mapped_column(default=False)
    entered_by_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"))
    entered_by_role: so.Mapped[str] = so.mapped_column(sa.String(20))

    #: Not stored: the message for the patient that the service sets on the answer to a submission.
    patient_message = None

    alerts: so.Mapped[list["SymptomAlert"]] = so.relationship(
        back_populates="report", lazy="selectin", order_by="[SymptomAlert.term_number, SymptomAlert.rule]")
