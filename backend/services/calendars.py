"""A patient's calendar: planned at enrolment, recorded visit by visit, re-planned.

The clocks are pure (`schedules/calendar_planning.py`). The database side is split by job:
`calendar_inputs` (what the clocks need, the site's today), `calendar_events` (stored rows and
facts), `calendar_writes` (plan and re-plan in bulk), `calendar_records` (recording and
rescheduling visits), `calendar_feeds` (iCalendar), `calendar_reads` (the calendar on the wire, with
ETags for offline sync). This module re-exports the names other services use.

Offline sync: every calendar write first locks the patient row and only then stamps `updated_at`;
a calendar read takes a share lock on the same row before it notes its `as_of` instant. So a client
that passes the last `as_of` back as `updated_since` never misses a change committed by a
transaction that was in flight while it read.
"""
from __future__ import annotations

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
    check_imported_visits,
    has_calendar,
    lock_patient,
    plan_new_patient,
    replan_patient,
    replan_study,
)

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


__all__ = [
    "EVENT_COLUMNS", "EventRow", "build_plan_inputs", "check_imported_visits",
    "clinic_for", "clinic_or_422", "etag_matches", "event_columns", "event_sort_key", "facts_of", "has_calendar",
    "issue_calendar_feed", "latest_today", "load_events", "local_today", "lock_patient", "parse_if_match",
    "patient_for_feed", "plan_new_patient", "record_event", "record_scan_on_calendar", "render_ics",
    "replan_patient", "replan_study", "revoke_calendar_feed", "site_today", "state_of", "stored_events", "with_state",
]
