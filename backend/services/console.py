"""Use cases only the staff console has: browser sign-in sessions and a patient's whole audit trail.

A console session is a signed cookie naming the user and a random session id. Signing out revokes
the session id the same way the API revokes a token (`backend.auth.revoke_token`: the database
durably, Redis as a cache), so a copied cookie stops working too. Every page re-reads the account:
a disabled account, or one whose role is no longer staff, ends the session at its next request.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from backend.auth import STAFF_ROLES, is_revoked, revoke_token, verify_password
from backend.errors import Forbidden, Unauthorized
from backend.extensions import db
from backend.models import AdverseEvent, AuditRecord, Event, Patient, SymptomAlert, User

TRAIL_LIMIT = 200


def staff_sign_in(username: str, password: str) -> tuple[User, str]:
    """The staff user and a new session id; the same refusal (and work) for any wrong credential.

    A patient's correct credentials are refused with `patient_account` (403): the console is for
    site staff, patients use the app.
    """
    user = db.session.scalar(sa.select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise Unauthorized("Invalid username or password.", reason="invalid_credentials")
    if user.role not in STAFF_ROLES:
        raise Forbidden("The console is for site staff; patients use the Cadence app.", reason="patient_account")
    return user, secrets.token_urlsafe(24)


def session_user(raw_user_id: Any, session_id: Any) -> User | None:
    """The signed-in staff user, or None when the session is over (signed out, disabled, not staff)."""
    if not isinstance(raw_user_id, str) or not isinstance(session_id, str):
        return None
    try:
        user = db.session.get(User, uuid.UUID(raw_user_id))
    except ValueError:
        return None
    if user is None or not user.is_active or user.role not in STAFF_ROLES or is_revoked(session_id):
        return None
    return user


def end_session(raw_user_id: str | None, session_id: str | None, lifetime: timedelta) -> None:
    """Revoke the session id until its cookie could have expired anyway."""
    if not session_id:
        return
    expires = datetime.now(timezone.utc) + lifetime
    revoke_token({"jti": session_id, "exp": expires.timestamp(), "sub": raw_user_id, "type": "console"})


def patient_trail(patient: Patient, limit: int = TRAIL_LIMIT) -> list[dict[str, Any]]:
    """The newest audit records of the patient and of their events, alerts and adverse events.

    The caller has already decided the patient is in scope (`backend.auth.visible_patient`).
    """
    ids = sa.union_all(
        sa.select(sa.cast(Event.id, sa.String)).where(Event.patient_id == patient.id),
        sa.select(sa.cast(SymptomAlert.id, sa.String)).where(SymptomAlert.patient_id == patient.id),
        sa.select(sa.cast(AdverseEvent.id, sa.String)).where(AdverseEvent.patient_id == patient.id),
    )
    stmt = (sa.select(AuditRecord, User.username).outerjoin(User, sa.cast(User.id, sa.String) == AuditRecord.user_id)
            .where(sa.or_(AuditRecord.entity_id == str(patient.id), AuditRecord.entity_id.in_(ids)))
            .order_by(AuditRecord.id.desc()).limit(limit))
    return [{"id": record.id, "at": record.at, "username": username, "role": record.role, "action": record.action,
             "entity": record.entity, "entity_id": record.entity_id, "changes": record.changes or {},
             "reason": record.reason} for record, username in db.session.execute(stmt)]
