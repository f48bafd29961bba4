"""Users of the API and the studies and sites they are assigned to."""
from __future__ import annotations


import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.audit import Audited
from backend.models.base import Base, IdMixin, TimestampMixin

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
    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES!r}", name="role_known"),
                      # Usernames are case-insensitive: `Admin` and `admin` are one account.
                      sa.Index("uq_users_username_lower", sa.text("lower(username)"), unique=True))

    username: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    is_active: so.Mapped[bool] = so.mapped_column(default=True)
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))  # staff messages; none: the log channel

    sites: so.Mapped[list["Site"]] = so.relationship(secondary=user_sites, lazy="selectin")  # noqa: F821
    studies: so.Mapped[list["Study"]] = so.relationship(secondary=user_studies, lazy="selectin")  # noqa: F821
