"""The security log: sign-ins, failed sign-ins, sign-outs, revoked sessions, device registrations.

Written in the caller's transaction (the caller commits). Never a password, a token, a device token
or a username that matched no account: only ids, the kind of event, the address and the request id.
"""
from __future__ import annotations

import uuid

from flask import g, has_request_context, request

from backend.extensions import db
from backend.models import SecurityEvent


def log_security_event(kind: str, *, user_id: uuid.UUID | None = None, actor_id: uuid.UUID | None = None,
                       sign_in_id: uuid.UUID | None = None, detail: str | None = None) -> SecurityEvent:
    address = request_id = None
    if has_request_context():
        address = (request.remote_addr or "")[:64] or None
        request_id = (g.get("request_id") or "")[:64] or None
    event = SecurityEvent(kind=kind, user_id=user_id, actor_id=actor_id, sign_in_id=sign_in_id,
                          address=address, request_id=request_id, detail=detail[:80] if detail else None)
    db.session.add(event)
    return event
