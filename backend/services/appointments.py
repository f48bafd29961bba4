"""Booking a clinic visit: the wall-clock time (in the site's zone) and the place of a planned dose
visit or tumour assessment.

A booking changes no date, so nothing is re-planned: the event's time and location are set (or
cleared with null), its version moves on, the change is audited with the reason in the same
transaction, and the calendar version follows (triggers on `events`). The `.ics` feed shows a booked
visit at its time in the site's zone (all-day otherwise) and the reminders say the booked time (the
delivery job reads it when it renders the message). A reschedule keeps the booking on the new day
unless the nurse sends `"keep_appointment": false` (backend.services.calendars._reschedule).
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import time
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from backend.auth import Principal
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.extensions import db
from backend.models import Patient
from backend.models.audit import REASON_KEY
from backend.services.calendar_records import VISIT_KINDS, check_version, locked_event, parse_if_match


def parse_time(value: str) -> time:
    """"09:30" → 09:30 (the schema has checked the HH:MM shape)."""
    return time.fromisoformat(value)


def book_appointment(principal: Principal, patient: Patient, event_id: str, booking: Mapping[str, Any] | None,
                     reason: str | None, if_match: str | None) -> list[uuid.UUID]:
    """Book (or with `booking=None` clear) the time and place of a planned clinic visit. Staff only;
    `If-Match` as for recording. Commits; returns the ids of the events changed (this one)."""
    expected = parse_if_match(if_match)
    session = db.session
    try:
        event = locked_event(patient, event_id)
        if principal.role == "patient":
            raise Forbidden("Clinic visits are booked by the site.", reason="patient_cannot_record")
        check_version(event, expected)
        if event.kind not in VISIT_KINDS:
            raise InvalidInput("appointment", "Only clinic visits (doses, tumour assessments) are booked.",
                               reason="not_a_visit")
        if booking is not None and event.status != "planned":
            raise Conflict(f"The visit is {event.status}; only a planned visit can be booked.",
                           reason="event_not_planned")
        session.info[REASON_KEY] = reason
        if booking is None:
            event.appointment_time, event.appointment_location = None, None
        else:
            event.appointment_time = parse_time(booking["time"])
            event.appointment_location = booking.get("location")
        session.flush()
        session.commit()
        return [event.id]
    except StaleDataError:
        session.rollback()
        raise Conflict("The event was changed by someone else; reload the calendar.", reason="stale_version") from None
    except Exception:
        session.rollback()
        raise
