"""Sign-in, refresh, sign-out."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from backend.auth import principal_for, revoke_token, verify_password
from backend.errors import Unauthorized
from backend.extensions import db
from backend.models import User


def _expires_in() -> int:
    return int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())


def login(username: str, password: str) -> dict[str, Any]:
    """Same answer, and the same work, for an unknown username and a wrong password."""
    user = db.session.scalar(sa.select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise Unauthorized("Invalid username or password.", reason="invalid_credentials")
    return {
        "access_token": create_access_token(identity=user),
        "refresh_token": create_refresh_token(identity=user),
        "token_type": "Bearer",
        "expires_in": _expires_in(),
        "user": {"id": str(user.id), "username": user.username, "role": user.role},
    }


def refresh(user: User) -> dict[str, Any]:
    if not user.is_active:
        raise Unauthorized("The account is not active.", reason="invalid_token")
    return {"access_token": create_access_token(identity=user), "expires_in": _expires_in()}


def logout(token_payload: dict[str, Any]) -> None:
    revoke_token(token_payload)


def me(user: User) -> dict[str, Any]:
    principal = principal_for(user)
    answer: dict[str, Any] = {"id": str(user.id), "username": user.username, "role": user.role,
                              "sites": sorted(s.code for s in user.sites),
                              "studies": sorted(s.code for s in user.studies)}
    if user.role == "patient":
        answer["patient_id"] = str(principal.patient_id) if principal.patient_id else None
    return answer
