"""Sign-ins (session families) and the security log.

A sign-in is what one `POST /auth/login` starts: every access and refresh token it mints carries its
id (`sid`), so signing out revokes all of them at once. Only the newest refresh token of a sign-in is
live (`refresh_jti`); presenting an older one is taken as theft and ends the sign-in.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.models.base import Base, IdMixin, utcnow

SECURITY_EVENT_KINDS = ("sign_in", "sign_in_failed", "sign_out", "sign_out_everywhere", "sessions_revoked",
                        "refresh_reused", "device_registered", "account_activated")


class SignIn(IdMixin, Base):
    __tablename__ = "sign_ins"
    __table_args__ = (sa.Index("ix_sign_ins_user_live", "user_id", postgresql_where=sa.text("revoked_at IS NULL"),
                               sqlite_where=sa.text("revoked_at IS NULL")),)

    user_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    refresh_jti: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    refreshed_at: so.Mapped[datetime | None]
    expires_at: so.Mapped[datetime]
    revoked_at: so.Mapped[datetime | None]
    revoked_reason: so.Mapped[str | None] = so.mapped_column(sa.String(40))


class SecurityEvent(Base):
    """Append-only: who signed in, failed, signed out, or registered a device; from which address.
    Never a password, a token or a device token; a failed sign-in for an unknown username keeps no
    username (it may be a password typed in the wrong box)."""

    __tablename__ = "security_events"
    __table_args__ = (sa.CheckConstraint(f"kind IN {SECURITY_EVENT_KINDS!r}", name="kind_known"),
                      sa.Index("ix_security_events_user_at", "user_id", "at"))

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    kind: so.Mapped[str] = so.mapped_column(sa.String(30))
    user_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    sign_in_id: so.Mapped[uuid.UUID | None]
    address: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    request_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    detail: so.Mapped[str | None] = so.mapped_column(sa.String(80))
