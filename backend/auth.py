"""Sign-in, token revocation, roles and scope: who may see and do what, decided in one place.

Scope rules (CONTRACT.md "Conventions"): admins see everything; coordinators the studies they are
assigned to; nurses the sites they are assigned to; patients their own record only. A record out of
scope is answered 404 exactly like one that does not exist, so ids cannot be probed.
"""
from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended import current_user as jwt_current_user
from jwt.exceptions import InvalidTokenError

from backend.errors import Forbidden, NotFound, Unauthorized, error_body
from backend.extensions import db, jwt
from backend.models import Site, SignIn, User
from backend.models.audit import AuditActor, current_actor, SYSTEM_ACTOR
from backend.sign_in_reads import (  # noqa: F401 - also re-exported: the callers' one place is backend.auth
    _FACTS_KEY,
    _READ_KEY,
    TOKEN_TYPES,
    Principal,
    SignedInAccount,
    SignedInRead,
    _as_uuid,
    _request_facts,
    signed_in,
    signed_in_row,
    well_formed,
)

log = logging.getLogger(__name__)

STAFF_ROLES = ("admin", "coordinator", "nurse")


# --- passwords -------------------------------------------------------------------------------
def password_hasher() -> PasswordHasher:
    """Argon2id (memory-hard); cost from configuration so tests can run a cheaper one."""
    hasher = current_app.extensions.get("cadence.password_hasher")
    if hasher is None:
        hasher = PasswordHasher(
            time_cost=current_app.config["PASSWORD_HASH_TIME_COST"],
            memory_cost=current_app.config["PASSWORD_HASH_MEMORY_KIB"],
        )
        current_app.extensions["cadence.password_hasher"] = hasher
    return hasher


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no user, verify against a dummy hash so timing does not leak which."""
    hasher = password_hasher()
    if password_hash is None:
        dummy = current_app.extensions.get("cadence.dummy_hash")
        if dummy is None:
            dummy = current_app.extensions["cadence.dummy_hash"] = hasher.hash(uuid.uuid4().hex)
        password_hash = dummy
        try:
            hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- redis ------------------------------------------------------------------------------------
def redis_client() -> redis.Redis:
    """The app's Redis client, created on first use with short timeouts so an outage is cheap."""
    client = current_app.extensions.get("cadence.redis")
    if client is None:
        timeout = current_app.config["REDIS_SOCKET_TIMEOUT_SECONDS"]
        # No retries: one failed attempt opens the breaker (below) instead of several timeouts in a row.
        client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=timeout,
                                      socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
        current_app.extensions["cadence.redis"] = client
    return client


class RedisBreaker:
    """A circuit breaker in front of Redis: after a failure (refused, reset or timed out), Redis is
    skipped for `cooldown` seconds and callers take their database fallback at once; the first call
    after that probes Redis again. A Redis that accepts connections but never answers so costs one
    socket timeout per cool-down, not one per request."""

    def __init__(self, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self.open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self.clock() < self.open_until

    def call(self, operation: Callable[[], Any], fallback: Any = None) -> Any:
        if self.is_open:
            return fallback
        try:
            return operation()
        except redis.RedisError as error:
            self.open_until = self.clock() + self.cooldown
            log.warning("redis unavailable (%s); using the database for %.0f s", type(error).__name__, self.cooldown)
            return fallback


def redis_breaker() -> RedisBreaker:
    breaker = current_app.extensions.get("cadence.redis_breaker")
    if breaker is None:
        breaker = current_app.extensions["cadence.redis_breaker"] = RedisBreaker(
            float(current_app.config["REDIS_BREAKER_SECONDS"]))
    return breaker


# --- sign-ins ----------------------------------------------------------------------------------
def _revoked_key(sign_in_id: str) -> str:
    return f"cadence:signin-revoked:{sign_in_id}"


def cache_revocation(sign_in: SignIn) -> None:
    """Remember a revoked sign-in in Redis until its tokens expire anyway (the database is the truth)."""
    ttl = max(1, int((sign_in.expires_at - datetime.now(timezone.utc)).total_seconds()))
    redis_breaker().call(lambda: redis_client().set(_revoked_key(str(sign_in.id)), "1", ex=ttl))


def sign_in_revoked(sign_in_id: str) -> bool:
    """Redis answers a revoked sign-in at once; a miss or an outage is settled by the database."""
    if redis_breaker().call(lambda: redis_client().exists(_revoked_key(sign_in_id)), 0):
        return True
    sign_in = db.session.get(SignIn, _as_uuid(sign_in_id))
    return sign_in is None or sign_in.revoked_at is not None


# --- principal and scope -----------------------------------------------------------------------
def principal_for(user: User) -> Principal:
    patient_id = None
    study_ids = frozenset(s.id for s in user.studies)
    site_ids = frozenset(s.id for s in user.sites)
    if user.role == "patient":
        from backend.models.patients import Patient

        patient_id = db.session.scalar(sa.select(Patient.id).where(Patient.user_id == user.id))
    if user.role == "nurse":
        # A nurse works within the studies their sites belong to.
        study_ids = study_ids | frozenset(s.study_id for s in user.sites)
    return Principal(user.id, user.role, site_ids, study_ids, patient_id)


def _principal_of(user: User | SignedInAccount) -> Principal:
    facts = request.environ.get(_FACTS_KEY)
    if facts is not None and facts.principal is not None and facts.user is not None and facts.user.id == user.id:
        return facts.principal
    return principal_for(user)


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized("Sign in first.", reason="missing_token")
    return principal


def require_roles(*roles: str, read: SignedInRead | None = None) -> Callable:
    """Decorator: a valid access token, and one of `roles` (403 otherwise). Sets the audit actor.
    `read`: a row the view needs, read in the same statement as the sign-in (`signed_in_row()`)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if read is not None:
                request.environ[_READ_KEY] = (read, read.params(kwargs))
            verify_jwt_in_request()
            user = jwt_current_user
            if user is None or not user.is_active:
                raise Unauthorized("The account is not active.", reason="invalid_token")
            principal = _principal_of(user)
            g.principal = principal
            current_actor.set(AuditActor(str(user.id), user.role, g.get("request_id")))
            if principal.role not in roles:
                raise Forbidden(f"The {principal.role} role may not do this.", reason="role_forbidden")
            return view(*args, **kwargs)

        wrapper.__cadence_roles__ = roles  # for the permission walk in the tests
        return wrapper

    return decorator


def visible_study_ids(principal: Principal) -> frozenset[uuid.UUID] | None:
    """None means every study."""
    return None if principal.is_admin else principal.study_ids


def can_see_study(principal: Principal, study_id: uuid.UUID) -> bool:
    ids = visible_study_ids(principal)
    return ids is None or study_id in ids


def can_see_site(principal: Principal, site: Site) -> bool:
    if principal.is_admin:
        return True
    if principal.role == "coordinator":
        return site.study_id in principal.study_ids
    if principal.role == "nurse":
        return site.id in principal.site_ids
    return False


def site_filter(principal: Principal, site_column, study_column):
    """A WHERE clause limiting rows to the caller's sites (nurse) or studies (coordinator)."""
    if principal.is_admin:
        return sa.true()
    if principal.role == "coordinator":
        return study_column.in_(principal.study_ids) if principal.study_ids else sa.false()
    if principal.role == "nurse":
        return site_column.in_(principal.site_ids) if principal.site_ids else sa.false()
    return sa.false()


def can_see_patient(principal: Principal, patient) -> bool:
    """A patient their own record; staff by site (nurse) or study (coordinator); admins all."""
    return can_see_patient_at(principal, patient.id, patient.site_id, patient.site.study_id)


def can_see_patient_at(principal: Principal, patient_id: uuid.UUID, site_id: uuid.UUID,
                       study_id: uuid.UUID) -> bool:
    """`can_see_patient` from ids alone (`study_id`: the study of the patient's site), for
    reads that decide scope without loading the patient."""
    if principal.role == "patient":
        return principal.patient_id == patient_id
    if principal.is_admin:
        return True
    if principal.role == "coordinator":
        return study_id in principal.study_ids
    if principal.role == "nurse":
        return site_id in principal.site_ids
    return False


def visible_patient(principal: Principal, raw_id: "str | uuid.UUID"):
    """The patient with this id, or 404 when it does not exist or is out of the caller's scope."""
    from backend.models.patients import Patient

    patient_id = raw_id if isinstance(raw_id, uuid.UUID) else parse_id(raw_id, "patient")
    patient = db.session.get(Patient, patient_id)
    if patient is None or not can_see_patient(principal, patient):
        raise NotFound("No such patient.")
    return patient


def ensure_visible(principal: Principal, visible: bool, what: str = "record") -> None:
    if not visible:
        raise NotFound(f"No such {what}.")


def parse_id(raw: str, what: str = "record") -> uuid.UUID:
    """Ids in paths are opaque strings; one that cannot be ours is simply not found."""
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound(f"No such {what}.") from None


# --- wiring ------------------------------------------------------------------------------------
def register_jwt_callbacks(app: Flask) -> None:
    @jwt.user_identity_loader
    def _identity(user: User) -> str:
        return str(user.id)

    @jwt.additional_claims_loader
    def _claims(user: User) -> dict[str, Any]:
        return {"role": user.role}

    @jwt.user_lookup_loader
    def _lookup(_header, payload) -> User | None:
        facts = _request_facts(payload)
        if facts is not None:
            return facts.user
        try:
            return db.session.get(User, uuid.UUID(payload["sub"]))
        except (ValueError, KeyError):
            return None

    @jwt.user_lookup_error_loader
    def _lookup_error(_header, _payload):
        return error_body(401, "The token's user no longer exists.", "invalid_token"), 401

    @jwt.token_in_blocklist_loader
    def _blocked(_header, payload) -> bool:
        if not well_formed(payload):  # refused at the door: never a 500 further in
            raise InvalidTokenError("malformed claims")
        facts = _request_facts(payload)
        if facts is not None:
            return facts.revoked
        return sign_in_revoked(payload["sid"])

    def _answer(message: str, reason: str):
        return error_body(401, message, reason), 401

    jwt.unauthorized_loader(lambda msg: _answer("Missing or malformed Authorization header.", "missing_token"))
    jwt.invalid_token_loader(lambda msg: _answer("The token is invalid.", "invalid_token"))
    jwt.expired_token_loader(lambda h, p: _answer("The token has expired.", "token_expired"))
    jwt.revoked_token_loader(lambda h, p: _answer("The token has been revoked.", "token_revoked"))
    jwt.needs_fresh_token_loader(lambda h, p: _answer("A fresh token is required.", "fresh_token_required"))
    jwt.token_verification_failed_loader(lambda h, p: _answer("The token was refused.", "invalid_token"))

    @app.before_request
    def _request_context() -> None:
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        current_actor.set(AuditActor(None, "anonymous", g.request_id))

    @app.after_request
    def _request_id_header(response):
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response


def jwt_claims() -> dict[str, Any]:
    return get_jwt()


__all__ = ["SYSTEM_ACTOR", "STAFF_ROLES"]
