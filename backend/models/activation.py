"""One-time activation codes: how a patient staff enrolled (or imported) gets into the app."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, utcnow


class ActivationCode(Audited, IdMixin, Base):
    """The patient's current code, one per patient: issuing a new one replaces it. Only a keyed hash
    of the code is stored (the code itself is shown once, to the staff member who issued it)."""

    __tablename__ = "activation_codes"
    __audit_exclude__ = frozenset({"code_hash"})

    patient_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("patients.id"), unique=True)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    issued_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    issued_by: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]
