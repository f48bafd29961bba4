"""Adverse events graded by clinicians on CTCAE v5.0."""
from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin
from backend.models.patients import Patient
from backend.models.studies import Site

#: Action taken with study treatment: CDISC SDTM controlled terminology for AEACN (codelist C66767),
#: as slugs.
AE_ACTIONS = ("dose_not_changed", "dose_reduced", "dose_increased", "drug_interrupted", "drug_withdrawn",
              "not_applicable", "unknown")


class AdverseEvent(Audited, IdMixin, TimestampMixin, Base):
    """One adverse event: a CTCAE v5.0 term (with its MedDRA LLT code and SOC as NCI ships them), a
    grade the term defines, onset and resolution dates, seriousness, relatedness to study treatment
    and the action taken. `source_report_id` is the symptom report that prompted it, if any."""

    __tablename__ = "adverse_events"
    __table_args__ = (
        sa.Index("ix_adverse_events_patient_onset", "patient_id", "onset_date"),
        sa.Index("ix_adverse_events_site_onset", "site_id", "onset_date"),
        sa.CheckConstraint("grade BETWEEN 1 AND 5", name="grade_ctcae"),
        sa.CheckConstraint("resolved_date IS NULL OR resolved_date >= onset_date", name="resolved_after_onset"),
        sa.CheckConstraint(f"action_taken IN {AE_ACTIONS!r}", name="action_known"),
    )

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"))
    site_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("sites.id"))
    ctcae_term: so.Mapped[str] = so.mapped_column(sa.String(200))
    meddra_code: so.Mapped[str] = so.mapped_column(sa.String(10))
    soc: so.Mapped[str] = so.mapped_column(sa.String(200))
    grade: so.Mapped[int]
    onset_date: so.Mapped[date]
    resolved_date: so.Mapped[date | None]
    serious: so.Mapped[bool]
    related: so.Mapped[bool]
    action_taken: so.Mapped[str] = so.mapped_column(sa.String(20))
    source_report_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("symptom_reports.id"))
    recorded_by_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"))

    patient: so.Mapped[Patient] = so.relationship(lazy="joined")
    site: so.Mapped[Site] = so.relationship(lazy="joined")
