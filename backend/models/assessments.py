"""Tumour assessments (RECIST 1.1 overall responses) and the outcomes that end or interrupt follow-up.

Row-local invariants only; the rules that relate rows to each other and to the calendar (one baseline,
dates against the first dose and the site's today) live in `backend.services.assessments`, and what
they mean for progression-free survival in `schedules.pfs`.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, utcnow

# RECIST 1.1 overall responses (Eisenhauer 2009, table 4); NE = not evaluable.
OVERALL_RESPONSES = ("CR", "PR", "SD", "NON_CR_NON_PD", "PD", "NE")
OUTCOME_TYPES = ("death", "new_anticancer_therapy", "treatment_discontinued", "follow_up_ended")


class TumourAssessment(Audited, IdMixin, Base):
    """One imaging time point: the baseline scan, or a post-baseline overall response.

    `scan_dates` are the ISO dates of the individual scans the response is based on (they may span a
    few days); `new_lesion_date` is when a new lesion was first seen (it dates progression).
    """

    __tablename__ = "tumour_assessments"
    __table_args__ = (
        sa.CheckConstraint(f"overall_response IN {OVERALL_RESPONSES!r}", name="response_known"),
        sa.CheckConstraint(
            "(baseline AND overall_response IS NULL) OR (NOT baseline AND overall_response IS NOT NULL)",
            name="baseline_has_no_response",
        ),
        sa.Index("ix_tumour_assessments_patient_date", "patient_id", "date"),
        sa.Index("uq_tumour_assessments_one_baseline", "patient_id", unique=True,
                 postgresql_where=sa.text("baseline"), sqlite_where=sa.text("baseline")),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    date: so.Mapped[dt.date]
    overall_response: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    baseline: so.Mapped[bool] = so.mapped_column(default=False)
    new_lesion_date: so.Mapped[dt.date | None]
    scan_dates: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    recorded_by: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)


class PatientOutcome(Audited, IdMixin, Base):
    """A dated outcome: death, new anticancer therapy, end of treatment, end of follow-up."""

    __tablename__ = "patient_outcomes"
    __table_args__ = (
        sa.CheckConstraint(f"type IN {OUTCOME_TYPES!r}", name="type_known"),
        sa.Index("ix_patient_outcomes_patient_date", "patient_id", "date"),
        # A patient dies once, stops treatment once and ends follow-up once; further lines of
        # anticancer therapy may follow one another.
        sa.Index("uq_patient_outcomes_once", "patient_id", "type", unique=True,
                 postgresql_where=sa.text("type <> 'new_anticancer_therapy'"),
                 sqlite_where=sa.text("type <> 'new_anticancer_therapy'")),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    type: so.Mapped[str] = so.mapped_column(sa.String(30))
    date: so.Mapped[dt.date]
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    recorded_by: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
