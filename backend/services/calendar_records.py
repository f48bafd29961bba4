"""Recording a visit's outcome, rescheduling a planned visit, and a scan recorded elsewhere landing
on the calendar; each re-plans the future (`calendar_writes.replan_patient`)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from backend.auth import Principal, parse_id
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.extensions import db
from backend.models import Event, Patient
from backend.models.audit import REASON_KEY
from backend.services.calendar_events import EventRow, row_of
from backend.services.calendar_inputs import latest_today, site_today
from backend.services.calendar_writes import has_calendar, lock_patient, replan_patient
from backend.services.plausibility import check_clinical_date

VISIT_KINDS = frozenset({"dose", "tumor_assessment"})  # clinic visits: the ones staff reschedule
PATIENT_RECORDABLE = {"dosing_diary": frozenset({"completed", "missed"})}

# -- recording ------------------------------------------------------------------------------------

def parse_if_match(header: str | None) -> int | None:
    """An event version from If-Match: `3`, `"3"` or `W/"3"`; `*` or nothing means any version."""
    if header is None or not header.strip() or header.strip() == "*":
        return None
    raw = header.strip().removeprefix("W/").strip().strip('"')
    if not raw.isdigit():
        raise InvalidInput("If-Match", "Send the event's version, e.g. If-Match: \"3\".", location="headers")
    return int(raw)


def _recorded_neighbours(event: Event) -> tuple[tuple[str, date] | None, tuple[str, date] | None]:
    """The nearest earlier and later events of the same clock (kind) that carry an actual date."""
    base = (sa.select(Event.label, Event.actual_date)
            .where(Event.patient_id == event.patient_id, Event.kind == event.kind, Event.id != event.id,
                   Event.actual_date.is_not(None), Event.status != "cancelled"))
    before = db.session.execute(base.where(Event.protocol_date < event.protocol_date)
                                .order_by(Event.protocol_date.desc()).limit(1)).first()
    after = db.session.execute(base.where(Event.protocol_date > event.protocol_date)
                               .order_by(Event.protocol_date).limit(1)).first()
    return (tuple(before) if before else None), (tuple(after) if after else None)


def _check_actual_date(patient: Patient, event: Event, actual: date) -> None:
    """An actual date is never in the future (the later of clinic- and patient-local today), never
    before the previous recorded visit of the same clock, never after the next recorded one."""
    today = latest_today(patient)
    if actual > today:
        raise InvalidInput("actual_date", f"{actual.isoformat()} is in the future (today is {today.isoformat()}).",
                           reason="actual_date_in_future")
    # Plausible for the patient (schedules.plausibility): from the visit's window or the first dose.
    check_clinical_date(patient, actual, "actual_date", today=today,
                        earliest=min(event.window_start, patient.first_dose_date))
    before, after = _recorded_neighbours(event)
    if before is not None and actual < before[1]:
        raise InvalidInput("actual_date", f"{actual.isoformat()} is before the previous visit of this schedule "
                                          f"({before[0]} on {before[1].isoformat()}).", reason="actual_date_out_of_order")
    if after is not None and actual > after[1]:
        raise InvalidInput("actual_date", f"{actual.isoformat()} is after the next recorded visit of this schedule "
                                          f"({after[0]} on {after[1].isoformat()}).", reason="actual_date_out_of_order")


def _check_who_may_record(principal: Principal, event: Event, data: Mapping[str, Any]) -> None:
    """Staff in scope record anything; a patient records only their own dosing-diary entries, as
    taken (completed) or not (missed)."""
    if principal.role != "patient":
        return
    allowed = PATIENT_RECORDABLE.get(event.kind, frozenset())
    if data.get("status") not in allowed:
        raise Forbidden("Patients record their own dosing diary only; clinic visits are recorded by the site.",
                        reason="patient_cannot_record")


def _record_status(patient: Patient, event: Event, data: Mapping[str, Any]) -> None:
    if event.status != "planned" and not data.get("reason"):
        raise InvalidInput("reason", "Changing what was already recorded needs a reason.")
    actual = data.get("actual_date")
    if actual is not None:
        _check_actual_date(patient, event, actual)
    event.status = data["status"]
    event.actual_date = actual
    event.reason = data.get("reason")


def _reschedule(patient: Patient, event: Event, data: Mapping[str, Any]) -> None:
    """Staff move a planned clinic visit within its window (the window stays around the protocol
    date); outside it only with `force` (and the reason already required)."""
    if event.kind not in VISIT_KINDS:
        raise InvalidInput("target_date", "Only clinic visits (doses, tumour assessments) are rescheduled.",
                           reason="not_a_visit")
    if event.status != "planned":
        raise Conflict(f"The visit is {event.status}; only a planned visit can be rescheduled.",
                       reason="event_not_planned")
    target: date = data["target_date"]
    today = site_today(patient)
    if target < today:
        raise InvalidInput("target_date", f"{target.isoformat()} is in the past (today is {today.isoformat()}).")
    if not event.window_start <= target <= event.window_end and not data.get("force"):
        raise InvalidInput("target_date", f"{target.isoformat()} is outside the visit window "
                                          f"{event.window_start.isoformat()}..{event.window_end.isoformat()}; "
                                          "send \"force\": true to override.", reason="outside_window")
    event.target_date = target
    flags = (set(event.flags or ()) - {"clinic_closed", "outside_window"}) | {"rescheduled"}
    if not event.window_start <= target <= event.window_end:
        flags.add("outside_window")
    event.flags = sorted(flags)
    event.reason = data["reason"]
    if not data.get("keep_appointment", True):  # a booking moves with the visit unless the nurse clears it
        event.appointment_time, event.appointment_location = None, None


def locked_event(patient: Patient, event_id: str) -> Event:
    """The patient's event, read fresh under the patient's row lock (every calendar write takes it);
    404 for an event of another patient, exactly like a missing one."""
    event_uuid = parse_id(event_id, "event")
    lock_patient(patient)
    event = db.session.scalar(sa.select(Event).where(Event.id == event_uuid, Event.patient_id == patient.id)
                              .execution_options(populate_existing=True))
    if event is None:
        raise NotFound("No such event.")
    return event


def check_version(event: Event, expected: int | None) -> None:
    """`If-Match`: a stale version is 409 `stale_version`; none given means any version."""
    if expected is not None and expected != event.version:
        raise Conflict(f"The event is at version {event.version}, not {expected}; reload the calendar.",
                       reason="stale_version")


def record_event(principal: Principal, patient: Patient, event_id: str, data: Mapping[str, Any],
                 if_match: str | None) -> list[uuid.UUID]:
    """Record a visit's outcome, or reschedule a planned visit, then re-plan the future; one
    transaction, audited with the reason. Commits; returns the ids of every event changed."""
    expected = parse_if_match(if_match)
    session = db.session
    try:
        event = locked_event(patient, event_id)
        _check_who_may_record(principal, event, data)
        check_version(event, expected)
        if event.status == "cancelled":
            raise Conflict("The event was cancelled by a re-plan; it cannot be recorded.", reason="event_cancelled")
        session.info[REASON_KEY] = data.get("reason")
        if data.get("target_date") is not None:
            _reschedule(patient, event, data)
        else:
            _record_status(patient, event, data)
        session.flush()
        touched = replan_patient(patient, site_today(patient), data.get("reason"), also=[row_of(event)])
        session.commit()
        return list(dict.fromkeys(row.id for row in touched))
    except StaleDataError:
        session.rollback()
        raise Conflict("The event was changed by someone else; reload the calendar.", reason="stale_version") from None
    except Exception:
        session.rollback()
        raise


def record_scan_on_calendar(patient: Patient, scan_date: date, reason: str | None) -> list[EventRow]:
    """A tumour assessment was recorded: the planned scan visit whose window holds its date is
    completed on that date, and the calendar re-planned (a PD ends the imaging clock). Does not
    commit; the caller owns the transaction."""
    lock_patient(patient)
    if not has_calendar(patient):
        return []
    visit = db.session.scalar(
        sa.select(Event).where(Event.patient_id == patient.id, Event.kind == "tumor_assessment",
                               Event.status == "planned", Event.window_start <= scan_date,
                               Event.window_end >= scan_date)
        .order_by(sa.func.abs(Event.protocol_date - scan_date), Event.protocol_date).limit(1))
    also: list[EventRow] = []
    if visit is not None:
        visit.status, visit.actual_date = "completed", scan_date
        db.session.flush()
        also.append(row_of(visit))
    return replan_patient(patient, min(site_today(patient), scan_date), reason, also=also)
