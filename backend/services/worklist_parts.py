"""The parts every worklist row is made of: its priority, the patient it is about, its sentence as translatable
phrases (`backend.services.phrases`), and the row dict itself (`backend.services.worklists` builds the list
from them).

A large site's list has thousands of rows, so :func:`row` is written for speed (and the list is built with
the cyclic garbage collector paused: `backend.services.collector`).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from backend.models import Site, Study
from backend.services.phrases import N_, Phrase, Text, english

Row = dict[str, Any]

PRIORITIES = {
    "symptom_alert": 1,
    "pfs_at_risk": 2,
    "visit_overdue": 3,
    "no_baseline": 4,
    "visit_due": 5,
    "survey_nonresponse": 6,
}
KINDS = tuple(PRIORITIES)


class PatientRef(NamedTuple):
    """What the worklist needs of a patient (and what `services.pfs.derive_many` reads); ``key`` is the id as
    rows show it, formatted once per patient rather than once per row."""

    id: uuid.UUID
    subject_id: str
    first_dose_date: date
    study: Study
    key: str


@dataclass
class SiteDay:
    """One site on one day, with its on-study patients loaded once for every source."""

    site: Site
    day: date
    patients: dict[uuid.UUID, PatientRef] = field(default_factory=dict)


WorklistSource = Callable[[SiteDay], list[Row]]


def row(kind: str, patient: Any, what: Text, due_date: date | None, action: Text, *, event_id: Any = None,
        alert_id: Any = None, days_overdue: int | None = None, priority: int | None = None) -> Row:
    """A row; ``what`` and ``action`` in English, their phrases under ``text`` for the console (not on the wire).

    Called for every row of a large site's list (thousands), so written for speed: ids usually arrive as text."""
    what = what if isinstance(what, tuple) else (what,)
    action = action if isinstance(action, tuple) else (action,)
    return {"priority": priority or PRIORITIES[kind], "kind": kind,
            "patient_id": patient.key if isinstance(patient, PatientRef) else str(patient.id),
            "subject_id": patient.subject_id, "event_id": str(event_id) if event_id else None,
            "alert_id": str(alert_id) if alert_id else None, "days_overdue": days_overdue,
            "due_date": due_date, "what": english(what), "action": english(action),
            "text": {"what": what, "action": action}}


def booked(appointment: Any, on: date) -> Phrase | None:
    """The booking of a planned clinic visit (backend.services.appointments), if it has one."""
    if appointment is None or appointment.status != "planned" or appointment.appointment_time is None:
        return None
    params = {"date": on, "time": appointment.appointment_time.strftime("%H:%M")}
    if appointment.appointment_location:
        return Phrase(N_("Booked for %(date)s at %(time)s (%(location)s)"),
                      {**params, "location": appointment.appointment_location})
    return Phrase(N_("Booked for %(date)s at %(time)s"), params)
