"""Patients enrolled in a study at a site, on a regimen, with the first dose that anchors both clocks."""
from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin
from backend.models.studies import Site, Study

PATIENT_STATUSES = ("on_treatment", "follow_up", "off_study")
LOCALES = ("en", "zh-CN")


class Patient(Audited, IdMixin, TimestampMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        sa.UniqueConstraint("study_id", "subject_id", name="uq_patients_study_subject"),
        sa.CheckConstraint(f"status IN {PATIENT_STATUSES!r}", name="status_known"),
        sa.CheckConstraint(f"locale IN {LOCALES!r}", name="locale_known"),
    )

    study_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("studies.id"), index=True)
    site_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("sites.id"), index=True)
    subject_id: so.Mapped[str] = so.mapped_column(sa.String(40))
    regimen: so.Mapped[str] = so.mapped_column(sa.String(40))
    first_dose_date: so.Mapped[date]
    timezone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    locale: so.Mapped[str] = so.mapped_column(sa.String(8), default="en")
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default="on_treatment")
    discontinued_on: so.Mapped[date | None]
    follow_up_end: so.Mapped[date | None]
    user_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id"), unique=True)
    # SHA-256 (hex) of the secret in the patient's calendar-feed URL; the secret itself is shown
    # once when issued and never stored, so a database leak does not expose the feeds.
    calendar_feed_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    # Contact routes for reminders when the patient has no active device (migration 0004, reminders work).
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(32))  # E.164
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))

    study: so.Mapped[Study] = so.relationship(lazy="joined")
    site: so.Mapped[Site] = so.relationship(lazy="joined")

    @property
    def effective_timezone(self) -> str:
        """The patient's own zone, falling back to the site's."""
        return self.timezone or self.site.timezone


class WorklistVersion(Base):
    """A stamp per patient, with their site, that moves whenever anything a site's worklist reads of
    them changes (the patient, their calendar, alerts, assessments, outcomes): on PostgreSQL triggers
    stamp it from one sequence in the writer's transaction (migration 0008_worklist_versions), so every
    writer is covered. backend.services.worklist_cache reads a site's stamps in one indexed read.
    Not clinical data: not audited."""

    __tablename__ = "worklist_versions"
    __table_args__ = (sa.Index("ix_worklist_versions_site", "site_id", "version"),)

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id", ondelete="CASCADE"),
                                                        primary_key=True)
    site_id: so.Mapped[uuid.UUID]
    version: so.Mapped[int] = so.mapped_column(sa.BigInteger)
