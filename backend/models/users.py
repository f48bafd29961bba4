"""Users of the API and the studies and sites they are assigned to."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin, utcnow

ROLES = ("admin", "coordinator", "nurse", "patient")

user_sites = sa.Table(
    "user_sites",
    Base.metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.Uuid, sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)

user_studies = sa.Table(
    "user_studies",
    Base.metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("study_id", sa.Uuid, sa.ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True),
)


class User(Audited, IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __audit_exclude__ = frozenset({"updated_at", "password_hash"})
    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES!r}", name="role_known"),)

    username: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    is_active: so.Mapped[bool] = so.mapped_column(default=True)
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))  # staff messages; none: the log channel

    sites: so.Mapped[list["Site"]] = so.relationship(secondary=user_sites, lazy="selectin")  # noqa: F821
    studies: so.Mapped[list["Study"]] = so.relationship(secondary=user_studies, lazy="selectin")  # noqa: F821


class RevokedToken(Base):
    """A signed-out token. The database copy is the durable one; Redis holds a TTL'd cache of it."""

    __tablename__ = "revoked_tokens"

    jti: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    user_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    token_type: so.Mapped[str] = so.mapped_column(sa.String(10))
    expires_at: so.Mapped[datetime] = so.mapped_column(index=True)
    revoked_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
