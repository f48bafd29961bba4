"""Use cases only the staff console has: browser sign-in sessions and a patient's whole audit trail.

A console session is a signed cookie naming the user and a random session id. Signing out revokes
the sign-in the same way the API's sign-out does (the database durably, Redis as a cache), so a
copied cookie stops working too. Every page re-reads the account:
a disabled account, or one whose role is no longer staff, ends the session at its next request.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.auth import STAFF_ROLES, cache_revocation, sign_in_revoked, verify_password
from backend.errors import Forbidden, Unauthorized
from backend.extensions import db
from backend.models import AdverseEvent, AuditRecord, Event, Patient, SignIn, SymptomAlert, User
from backend.models.base import utcnow
from backend.services.auth import find_user
from backend.services.security_log import log_security_event

TRAIL_LIMIT = 200


def staff_sign_in(username: str, password: str) -> tuple[User, str]:
    """The staff user and a new sign-in's id; the same refusal (and work) for any wrong credential.

    A console session is a sign-in like the API's (`SignIn`): "sign out everywhere" and an admin's
    revocation end it too. A patient's correct credentials are refused with `patient_account` (403):
    the console is for site staff, patients use the app.
    """
    user = find_user(username) if username else None
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        log_security_event("sign_in_failed", user_id=user.id if user else None, detail="console")
        db.session.commit()
        raise Unauthorized("Invalid username or password.", reason="invalid_credentials")
    if user.role not in STAFF_ROLES:
        raise Forbidden("The console is for site staff; patients use the Cadence app.", reason="patient_account")
    now = utcnow()
    sign_in = SignIn(id=uuid.uuid4(), user_id=user.id, refresh_jti="", created_at=now,
                     expires_at=now + current_app.permanent_session_lifetime)
    db.session.add(sign_in)
    db.session.flush()
    log_security_event("sign_in", user_id=user.id, sign_in_id=sign_in.id, detail="console")
    db.session.commit()
    return user, str(sign_in.id)


def session_user(raw_user_id: Any, session_id: Any) -> User | None:
    """The signed-in staff user, or None when the session is over (signed out, disabled, not staff)."""
    if not isinstance(raw_user_id, str) or not isinstance(session_id, str):
        return None
    try:
        user = db.session.get(User, uuid.UUID(raw_user_id))
        uuid.UUID(session_id)
    except ValueError:
        return None
    if user is None or not user.is_active or user.role not in STAFF_ROLES or sign_in_revoked(session_id):
        return None
    return user


def end_session(raw_user_id: str | None, session_id: str | None, lifetime: timedelta) -> None:
    """End the console's sign-in for good, so a copied cookie stops working too."""
    try:
        sign_in = db.session.get(SignIn, uuid.UUID(session_id)) if session_id else None
    except ValueError:
        return
    if sign_in is None or sign_in.revoked_at is not None or str(sign_in.user_id) != raw_user_id:
        return
    sign_in.revoked_at, sign_in.revoked_reason = utcnow(), "signed_out"
    log_security_event("sign_out", user_id=sign_in.user_id, sign_in_id=sign_in.id, detail="console")
    db.session.commit()
    cache_revocation(sign_in)


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
