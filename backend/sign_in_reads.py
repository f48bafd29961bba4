"""Who is asking, from one read: a token's sign-in, account and principal (and a view's own row) in
one statement per request.

`backend.auth` decides what a principal may see and do; this module reads the facts it decides from.
Signing a request in used to cost five round trips (Redis for the revocation fast path, the token's
revocation row, the user, their sites, their studies, and a patient's record): most of a conditional
GET's time. On PostgreSQL one query answers them all (`_request_facts`), kept for the rest of the
request in the WSGI environ (never across requests). The database is the revocation record of truth
(a sign-in's `revoked_at` is written before Redis hears of it), so the Redis fast path is not needed
on this path. A view that declares a `SignedInRead` (the calendar: its version and scope) has that row
read in the SAME statement, on the held autocommit connection (`backend.held_reads`): one round trip
in all.
"""
from __future__ import annotations


import functools
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import sqlalchemy as sa
from flask import request
from sqlalchemy.orm import lazyload

from backend.extensions import db
from backend.models import Site, SignIn, User

TOKEN_TYPES = ("access", "refresh")

def well_formed(payload: dict[str, Any]) -> bool:
    """What every token we issue has: a type we know, an expiry, an id, a subject and a sign-in."""
    jti, sid = payload.get("jti"), payload.get("sid")
    return (payload.get("type") in TOKEN_TYPES and isinstance(payload.get("exp"), (int, float))
            and isinstance(jti, str) and 0 < len(jti) <= 64 and isinstance(payload.get("sub"), str)
            and isinstance(sid, str) and _as_uuid(sid) is not None)


def _as_uuid(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    site_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    study_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    patient_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class SignedInAccount:
    """The account as the held read sees it: what `require_roles` needs (views that need the `User`
    row load it; the views that declare a `SignedInRead` do not)."""
    id: uuid.UUID
    role: str
    is_active: bool


@dataclass(frozen=True)
class SignedInRead:
    """A row a view reads together with the sign-in, in one statement: `statement()` builds a Core
    SELECT with bound parameters (its columns labelled apart from the sign-in's), `params(view_kwargs)`
    supplies them. The view finds the row with `signed_in_row()`."""
    statement: Callable[[], sa.Select]
    params: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _RequestFacts:
    jti: str
    user: User | SignedInAccount | None
    revoked: bool
    principal: Principal | None
    row: tuple | None = None
    read: tuple[SignedInRead, dict[str, Any]] | None = None  # the view's read these facts were read with


_FACTS_KEY = "cadence.auth_facts"
_READ_KEY = "cadence.signed_in_read"


@functools.cache
def _facts_columns() -> tuple:
    """Revoked?, the patient record, sites, the studies of those sites, studies: the principal's facts
    beside the user's row (one definition for both statements below)."""
    from backend.models.patients import Patient
    from backend.models.users import user_sites, user_studies

    agg = sa.func.array_agg
    patient, staff = User.role == "patient", User.role != "patient"
    return (
        ~sa.exists().where(SignIn.id == sa.bindparam("sid", type_=sa.Uuid), SignIn.revoked_at.is_(None))
        .label("revoked"),
        sa.case((patient, sa.select(Patient.id).where(Patient.user_id == User.id).limit(1).scalar_subquery()))
        .label("patient_id"),
        # Only staff have sites and studies: a patient's request (most requests) skips these reads.
        sa.case((staff, sa.select(agg(user_sites.c.site_id)).where(user_sites.c.user_id == User.id)
                 .scalar_subquery())).label("sites"),
        sa.case((staff, sa.select(agg(Site.study_id)).join(user_sites, user_sites.c.site_id == Site.id)
                 .where(user_sites.c.user_id == User.id).scalar_subquery())).label("site_studies"),
        sa.case((staff, sa.select(agg(user_studies.c.study_id)).where(user_studies.c.user_id == User.id)
                 .scalar_subquery())).label("studies"))


@functools.cache
def _facts_query():
    """Built once (statement construction and its cache key cost more than the query)."""
    return (sa.select(User, *_facts_columns())
            .where(User.id == sa.bindparam("user_id"))
            .options(lazyload(User.sites), lazyload(User.studies)))


@functools.cache
def _held_sql(read: SignedInRead) -> tuple[str, dict[str, Any]]:
    """The sign-in's facts and the view's row as one statement's text (the row LEFT JOINed, so a
    missing record still answers who is asking)."""
    from backend.held_reads import compile_for_held

    extra = read.statement().subquery("signed_in_read")
    return compile_for_held(
        sa.select(User.id, User.role, User.is_active, *_facts_columns(), *extra.c)
        .select_from(User).outerjoin(extra, sa.true()).where(User.id == sa.bindparam("user_id", type_=sa.Uuid)))


def _principal_from(user_id: uuid.UUID, role: str, patient_id, sites, site_studies, studies) -> Principal:
    study_ids = frozenset(studies or ())
    if role == "nurse":  # a nurse works within the studies their sites belong to
        study_ids |= frozenset(site_studies or ())
    return Principal(user_id, role, frozenset(sites or ()), study_ids, patient_id if role == "patient" else None)


def _read_facts(jti: str, user_id: uuid.UUID, sign_in_id: uuid.UUID,
                read: tuple[SignedInRead, dict[str, Any]] | None) -> _RequestFacts:
    if read is not None:
        from backend.held_reads import held_reads

        held = held_reads()
        if held is not None:
            sql, fixed = _held_sql(read[0])
            row = held.first(sql, {**fixed, "user_id": user_id, "sid": sign_in_id, **read[1]})
            if row is None:
                return _RequestFacts(jti, None, False, None)
            account = SignedInAccount(row[0], row[1], row[2])
            return _RequestFacts(jti, account, bool(row[3]), _principal_from(row[0], row[1], *row[4:8]),
                                 tuple(row[8:]))
    row = db.session.execute(_facts_query(), {"user_id": user_id, "sid": sign_in_id}).first()
    if row is None:
        return _RequestFacts(jti, None, False, None)
    user, revoked, *facts = row
    return _RequestFacts(jti, user, bool(revoked), _principal_from(user.id, user.role, *facts))


def _request_facts(payload: dict[str, Any]) -> _RequestFacts | None:
    """The token's user, whether the token is revoked, and the principal, from one query (PostgreSQL;
    None elsewhere: the callers then use the separate lookups)."""
    jti = payload.get("jti", "")
    wanted = request.environ.get(_READ_KEY)
    facts = request.environ.get(_FACTS_KEY)
    if facts is not None and facts.jti == jti and facts.read == wanted:  # read already (or by the fast path)
        return facts
    if db.engine.dialect.name != "postgresql":  # the engine, not the session: the held read needs none
        return None
    sign_in_id = _as_uuid(payload.get("sid"))
    try:
        user_id = uuid.UUID(payload["sub"])
    except (ValueError, KeyError, TypeError):
        facts = _RequestFacts(jti, None, True, None)
    else:
        facts = _RequestFacts(jti, None, False, None) if sign_in_id is None else \
            _read_facts(jti, user_id, sign_in_id, wanted)
    facts = request.environ[_FACTS_KEY] = replace(facts, read=wanted)
    return facts


def signed_in(payload: dict[str, Any], roles: tuple[str, ...], read: SignedInRead,
              params: dict[str, Any], environ: dict[str, Any]) -> tuple[Principal, tuple] | None:
    """For a caller outside Flask's request handling (the calendar's fast path,
    backend.api.calendar_fast_path), given claims whose signature and times were verified: the
    principal and the `read` row when the token is a well-formed access token of a live sign-in of an
    active account in one of `roles`, all from one statement; None otherwise (the caller then leaves
    the request to the ordinary path, which answers 401/403 as usual, reusing these facts from
    `environ` instead of reading them again). PostgreSQL only."""
    if payload.get("type") != "access" or not well_formed(payload) or db.engine.dialect.name != "postgresql":
        return None
    try:
        user_id = uuid.UUID(payload["sub"])
    except ValueError:
        return None
    facts = environ[_FACTS_KEY] = replace(
        _read_facts(payload["jti"], user_id, uuid.UUID(payload["sid"]), (read, params)), read=(read, params))
    if facts.user is None or facts.revoked or not facts.user.is_active or facts.row is None \
            or facts.principal is None or facts.principal.role not in roles:
        return None
    return facts.principal, facts.row


def signed_in_row() -> tuple | None:
    """The row of the view's `SignedInRead`, read with the sign-in; None when it was not (not
    PostgreSQL): the view then reads it itself."""
    facts = request.environ.get(_FACTS_KEY)
    return None if facts is None else facts.row
