"""Sign-in, refresh, sign-out: sign-ins (session families) with rotating refresh tokens.

A sign-in starts at `POST /auth/login` (or a patient's activation); every token it mints carries its
id (`sid`). Each refresh retires the refresh token it was given and returns a new one; a retired one
presented again means two parties hold the sign-in's tokens (a stolen copy), so the sign-in ends
(OAuth 2.0 Security BCP, RFC 9700 §4.14.2: refresh token rotation with reuse detection).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from backend.auth import Principal, cache_revocation, principal_for, verify_password
from backend.errors import NotFound, Unauthorized
from backend.extensions import db
from backend.models import SignIn, User
from backend.models.base import utcnow
from backend.services.security_log import log_security_event

INVALID_CREDENTIALS = "Invalid username or password."


def _expires_in() -> int:
    return int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())


def _mint(user: User, sign_in: SignIn, now: datetime) -> dict[str, Any]:
    """A new access token and a new refresh token for the sign-in; the refresh token becomes its only
    live one."""
    claims = {"sid": str(sign_in.id)}
    refresh_jti = str(uuid.uuid4())
    sign_in.refresh_jti = refresh_jti
    sign_in.expires_at = now + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return {
        "access_token": create_access_token(identity=user, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=user, additional_claims={**claims, "jti": refresh_jti}),
        "expires_in": _expires_in(),
    }


def issue_tokens(user: User, security_event: str = "sign_in") -> dict[str, Any]:
    """Start a sign-in for `user` and answer the token pair as `POST /auth/login` does.

    The one place a sign-in starts (login; a patient's activation passes `"account_activated"`; the
    tests' `auth` fixture). Adds the sign-in and its security-log entry to the session and flushes;
    the caller commits."""
    now = utcnow()
    sign_in = SignIn(id=uuid.uuid4(), user_id=user.id, refresh_jti="", created_at=now, expires_at=now)
    tokens = _mint(user, sign_in, now)
    db.session.add(sign_in)
    db.session.flush()
    log_security_event(security_event, user_id=user.id, sign_in_id=sign_in.id)
    return {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
            "token_type": "Bearer", "expires_in": tokens["expires_in"],
            "user": {"id": str(user.id), "username": user.username, "role": user.role}}


def find_user(username: str) -> User | None:
    """Usernames are case-insensitive."""
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.username) == username.strip().lower()))


def refuse_sign_in(user: User | None, detail: str) -> Unauthorized:
    """Log a failed sign-in (committed: the answer is an error) and give the one answer for all of them:
    unknown username, wrong password, inactive account, throttled."""
    db.session.rollback()
    log_security_event("sign_in_failed", user_id=user.id if user else None, detail=detail)
    db.session.commit()
    return Unauthorized(INVALID_CREDENTIALS, reason="invalid_credentials")


def login(username: str, password: str) -> dict[str, Any]:
    """Same answer, and the same work, for an unknown username and a wrong password."""
    user = find_user(username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        raise refuse_sign_in(None, "unknown_username")
    if not ok or not user.is_active:
        raise refuse_sign_in(user, "wrong_password" if not ok else "inactive_account")
    answer = issue_tokens(user)
    db.session.commit()
    return answer


def _token_revoked() -> Unauthorized:
    return Unauthorized("The token has been revoked.", reason="token_revoked")


def _revoke(sign_ins: list[SignIn], reason: str, now: datetime) -> None:
    for sign_in in sign_ins:
        if sign_in.revoked_at is None:
            sign_in.revoked_at, sign_in.revoked_reason = now, reason


def _after_commit_cache(sign_ins: list[SignIn]) -> None:
    for sign_in in sign_ins:
        cache_revocation(sign_in)


def refresh(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    """Rotate: a new access and refresh token; the presented refresh token is retired. A retired one
    presented again revokes the whole sign-in (theft)."""
    sign_in = db.session.scalar(sa.select(SignIn).where(SignIn.id == uuid.UUID(payload["sid"]))
                                .with_for_update().execution_options(populate_existing=True))
    if sign_in is None or sign_in.revoked_at is not None or sign_in.user_id != user.id:
        raise _token_revoked()
    now = utcnow()
    if sign_in.refresh_jti != payload["jti"]:
        _revoke([sign_in], "refresh_reused", now)
        log_security_event("refresh_reused", user_id=user.id, sign_in_id=sign_in.id)
        db.session.commit()
        _after_commit_cache([sign_in])
        raise _token_revoked()
    if not user.is_active:
        raise Unauthorized("The account is not active.", reason="invalid_token")
    tokens = _mint(user, sign_in, now)
    sign_in.refreshed_at = now
    db.session.commit()
    return tokens


def logout(payload: dict[str, Any]) -> None:
    """End the sign-in the token belongs to: all its access and refresh tokens."""
    sign_in = db.session.get(SignIn, uuid.UUID(payload["sid"]))
    if sign_in is None:
        return
    _revoke([sign_in], "signed_out", utcnow())
    log_security_event("sign_out", user_id=sign_in.user_id, sign_in_id=sign_in.id)
    db.session.commit()
    _after_commit_cache([sign_in])


def _live_sign_ins(user_id: uuid.UUID) -> list[SignIn]:
    return list(db.session.scalars(sa.select(SignIn).where(SignIn.user_id == user_id, SignIn.revoked_at.is_(None))
                                   .with_for_update()))


def logout_everywhere(user: User) -> int:
    """Sign the user out of every device: every live sign-in of theirs ends. Answers how many."""
    sign_ins = _live_sign_ins(user.id)
    _revoke(sign_ins, "signed_out_everywhere", utcnow())
    log_security_event("sign_out_everywhere", user_id=user.id, detail=f"{len(sign_ins)} sign-ins")
    db.session.commit()
    _after_commit_cache(sign_ins)
    return len(sign_ins)


def revoke_sessions(principal: Principal, raw_user_id: str) -> int:
    """An admin ends every sign-in of an account (a lost phone, a leaver). 404 for no such user."""
    try:
        user = db.session.get(User, uuid.UUID(str(raw_user_id)))
    except ValueError:
        user = None
    if user is None:
        raise NotFound("No such user.")
    sign_ins = _live_sign_ins(user.id)
    _revoke(sign_ins, "revoked_by_admin", utcnow())
    log_security_event("sessions_revoked", user_id=user.id, actor_id=principal.user_id,
                       detail=f"{len(sign_ins)} sign-ins")
    db.session.commit()
    _after_commit_cache(sign_ins)
    return len(sign_ins)


EXPIRED_SIGN_INS_PER_RUN = 10_000


def delete_expired_sign_ins(now: datetime) -> int:
    """Delete sign-ins whose newest refresh token expired more than a refresh-token lifetime and a day
    ago (the periodic tick, at most 10,000 a run), so the table every request reads does not grow
    for ever. No token of theirs works any more: access tokens expire before their sign-in's refresh
    token, and a missing sign-in is refused like a revoked one. A console session is the exception:
    its cookie slides with use past the sign-in's `expires_at`, so a console kept open every day ends
    here, about a refresh-token lifetime after it began, and asks to sign in again. The extra lifetime
    keeps the evidence `holder_session_gone` (services/devices.py) looks for: a sign-out after a phone
    was last seen, which only counts while that phone could still hold a live token. The security log
    keeps the sign-in and sign-out events."""
    cutoff = now - current_app.config["JWT_REFRESH_TOKEN_EXPIRES"] - timedelta(days=1)
    expired = sa.select(SignIn.id).where(SignIn.expires_at < cutoff).limit(EXPIRED_SIGN_INS_PER_RUN)
    deleted = db.session.execute(sa.delete(SignIn).where(SignIn.id.in_(expired.scalar_subquery()))).rowcount
    db.session.commit()
    return deleted


def me(user: User) -> dict[str, Any]:
    principal = principal_for(user)
    answer: dict[str, Any] = {"id": str(user.id), "username": user.username, "role": user.role,
                              "sites": sorted(s.code for s in user.sites),
                              "studies": sorted(s.code for s in user.studies)}
    if user.role == "patient":
        answer["patient_id"] = str(principal.patient_id) if principal.patient_id else None
    return answer
