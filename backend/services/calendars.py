"""A patient's calendar: planned at enrolment, recorded visit by visit, re-planned.

The clocks are pure (`schedules/calendars.py`). The database side is split by job:
`calendar_inputs` (what the clocks need, the site's today), `calendar_events` (stored rows and
facts), `calendar_writes` (plan and re-plan in bulk), `calendar_records` (recording and
rescheduling visits), `calendar_feeds` (iCalendar). This module reads the calendar (with ETags for
offline sync) and re-exports the names other services use.

Offline sync: every calendar write first locks the patient row and only then stamps `updated_at`;
a calendar read takes a share lock on the same row before it notes its `as_of` instant. So a client
that passes the last `as_of` back as `updated_since` never misses a change committed by a
transaction that was in flight while it read.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from backend.extensions import db
from backend.models import Event, Patient
from backend.models.base import utcnow
from backend.services.calendar_events import (
    EVENT_COLUMNS,
    EventRow,
    event_columns,
    event_sort_key,
    facts_of,
    load_events,
    state_of,
    stored_events,
    with_state,
)
from backend.services.calendar_feeds import (
    issue_calendar_feed,
    patient_for_feed,
    render_ics,
    revoke_calendar_feed,
)
from backend.services.calendar_inputs import (
    build_plan_inputs,
    clinic_for,
    clinic_or_422,
    latest_today,
    local_today,
    site_today,
)
from backend.services.calendar_records import (
    parse_if_match,
    record_event,
    record_scan_on_calendar,
)
from backend.services.calendar_writes import (
    has_calendar,
    lock_patient,
    plan_new_patient,
    replan_patient,
    replan_study,
)

def _filtered(stmt, query: Mapping[str, Any]):
    table = Event.__table__
    if query.get("from") is not None:
        stmt = stmt.where(table.c.target_date >= query["from"])
    if query.get("to") is not None:
        stmt = stmt.where(table.c.target_date <= query["to"])
    if query.get("kind"):
        stmt = stmt.where(table.c.kind.in_(list(query["kind"])))
    if query.get("updated_since") is not None:
        stmt = stmt.where(table.c.updated_at >= query["updated_since"])
    return stmt


def calendar_etag(patient: Patient, audience: str, query: Mapping[str, Any]) -> str:
    """A weak validator from the patient's events (count, newest change, sum of versions), the
    site's today, the audience and the query: any create, update or cancellation changes it."""
    table = Event.__table__
    count, newest, versions = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(table.c.updated_at), sa.func.coalesce(sa.func.sum(table.c.version), 0))
        .where(table.c.patient_id == patient.id)).one()
    # The site's today is part of it: an event's derived state changes at the clinic's midnight.
    parts = [str(patient.id), str(count), newest.isoformat() if newest else "-", str(versions), audience,
             site_today(patient).isoformat(), *(str(query.get(name)) for name in ("from", "to", "updated_since")),
             ",".join(sorted(query.get("kind") or ()))]
    return 'W/"' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def calendar(patient: Patient, query: Mapping[str, Any]) -> dict[str, Any]:
    """The patient's events sorted by target date (`from`/`to` on the target date, inclusive;
    `updated_since`: only events changed at or after that instant, cancelled ones included).
    `as_of` is the instant to pass back as `updated_since` next time."""
    db.session.execute(sa.select(Patient.id).where(Patient.id == patient.id).with_for_update(read=True))
    as_of = utcnow()
    stmt = _filtered(sa.select(*event_columns()).where(Event.__table__.c.patient_id == patient.id), query)
    today = site_today(patient)
    rows = sorted(load_events(stmt)[0], key=event_sort_key)
    return {"patient_id": str(patient.id), "as_of": as_of, "today": today,
            "events": [with_state(row, today) for row in rows]}


def calendar_if_changed(patient: Patient, audience: str, query: Mapping[str, Any],
                        if_none_match: str | None) -> tuple[dict[str, Any] | None, str]:
    """(calendar, etag), or (None, etag) when the client's copy is current (answer 304)."""
    etag = calendar_etag(patient, audience, query)
    if etag_matches(if_none_match, etag):
        return None, etag
    return calendar(patient, query), etag


__all__ = [
    "EVENT_COLUMNS", "EventRow", "build_plan_inputs", "calendar", "calendar_etag", "calendar_if_changed",
    "clinic_for", "clinic_or_422", "etag_matches", "event_columns", "event_sort_key", "facts_of", "has_calendar",
    "issue_calendar_feed", "latest_today", "load_events", "local_today", "lock_patient", "parse_if_match",
    "patient_for_feed", "plan_new_patient", "record_event", "record_scan_on_calendar", "render_ics",
    "replan_patient", "replan_study", "revoke_calendar_feed", "site_today", "state_of", "stored_events", "with_state",
]
