"""A site's worklist: what its nurses must act on, most urgent first; each row says what to do.

Rows come from *sources*, functions ``(site, date) -> [row]`` listed in ``WORKLIST_SOURCES``: open
symptom alerts, PFS risk, and visits. A row is
``{"priority", "kind", "patient_id", "subject_id", "what", "due_date", "action"}``; rows are ordered
by priority (1 = most urgent), then due date, then subject.

Kinds and priorities (only patients still on study, i.e. on treatment or in follow-up):

1. ``symptom_alert`` — an open PRO-CTCAE alert (patient safety comes first); the row stays until a
   nurse acknowledges the alert.
2. ``pfs_at_risk`` — an assessment was missed; an adequate scan is needed by the protect deadline
   or a later progression is censored (`schedules.pfs`, FDA 2018 "more than one missed visit").
   With no deadline left the scan is due today.
3. ``assessment_window_closing`` — a tumour-assessment window closes within 7 days and no scan is
   booked or done. *Done* means an adequate assessment attends the visit (an NE scan does not).
   *Booked*: a tumour_assessment event whose target date lies in the window is booked when it
   is completed, has an appointment (a time booked through the calendar), or carries the older
   flag ``"booked"``. When the window is also the patient's PFS protect deadline the
   ``pfs_at_risk`` row already says it, so no second row is made.
4. ``visit_overdue`` — a dosing visit or tumour assessment still ``planned`` after its window
   closed (nothing recorded).
5. ``visit_due`` — a dosing visit or tumour assessment planned in the 7 days from the date.

Dosing-diary days and symptom surveys are done at home and are not site visits: they are not
listed here (survey follow-up calls are the reminders work's).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, can_see_site
from backend.errors import NotFound
from backend.extensions import db
from backend.models import Event, Patient, Site
from backend.services.alerts import open_alerts_for_site
from backend.services.assessments import ON_STUDY, site_today
from backend.services.pfs import derive_many
from schedules.pfs import OPEN

Row = dict[str, Any]
WorklistSource = Callable[[Site, date], list[Row]]

PRIORITIES = {
    "symptom_alert": 1,
    "pfs_at_risk": 2,
    "assessment_window_closing": 3,
    "visit_overdue": 4,
    "visit_due": 5,
}
WINDOW_CLOSING_DAYS = 7
DUE_DAYS = 7
CLINIC_VISIT_KINDS = ("dose", "tumor_assessment")


def row(kind: str, patient: Patient, what: str, due_date: date | None, action: str,
        priority: int | None = None) -> Row:
    return {"priority": priority or PRIORITIES[kind], "kind": kind, "patient_id": str(patient.id),
            "subject_id": patient.subject_id, "what": what, "due_date": due_date, "action": action}


def _on_study_patients(site: Site) -> list[Patient]:
    return list(db.session.scalars(sa.select(Patient).where(Patient.site_id == site.id,
                                                            Patient.status.in_(ON_STUDY))))


def _booked_scans(patient_ids: list) -> dict[Any, list[date]]:
    """Target dates of tumour-assessment events that are booked or done, per patient."""
    booked: dict[Any, list[date]] = defaultdict(list)
    if not patient_ids:
        return booked
    events = db.session.execute(sa.select(Event.patient_id, Event.target_date, Event.status, Event.flags,
                                          Event.appointment_time).where(
        Event.patient_id.in_(patient_ids), Event.kind == "tumor_assessment",
        Event.status.in_(("planned", "completed"))))
    for event in events:
        if event.status == "completed" or event.appointment_time is not None or "booked" in (event.flags or ()):
            booked[event.patient_id].append(event.target_date)
    return booked


def pfs_rows(site: Site, day: date) -> list[Row]:
    """PFS at risk, and assessment windows closing without a scan (same derivation as GET /pfs)."""
    patients = _on_study_patients(site)
    results = derive_many(patients, day)
    booked = _booked_scans([p.id for p in patients])
    rows = []
    for patient in patients:
        _, result = results[patient.id]
        deadline = result.protect_deadline
        if result.at_risk:
            since = result.last_adequate_assessment or patient.first_dose_date
            missed = result.consecutive_missed
            what = (f"PFS at risk: {missed} tumour assessment{'s' if missed != 1 else ''} missed since {since}")
            action = (f"Book an adequate tumour assessment on or before {deadline}" if deadline else
                      "Book an adequate tumour assessment now: a progression found before it would be censored")
            rows.append(row("pfs_at_risk", patient, what, deadline or day, action))
        closes_by = day + timedelta(days=WINDOW_CLOSING_DAYS)
        for visit in result.visits:
            if visit.status != OPEN or visit.window_end > closes_by:
                continue
            if result.at_risk and deadline == visit.window_end:
                continue
            if any(visit.window_start <= target <= visit.window_end for target in booked.get(patient.id, ())):
                continue
            left = (visit.window_end - day).days
            rows.append(row(
                "assessment_window_closing", patient,
                f"Tumour assessment {visit.number}: window {visit.window_start} to {visit.window_end} closes "
                f"in {left} day{'s' if left != 1 else ''}; no scan booked or done",
                visit.window_end, f"Book the scan on or before {visit.window_end}"))
    return rows


def visit_rows(site: Site, day: date) -> list[Row]:
    """Clinic visits overdue (window closed, nothing recorded) and due: planned for the next 7 days,
    or past their planned day with the window still open (still to be done or recorded)."""
    week_end = day + timedelta(days=DUE_DAYS)
    stmt = (sa.select(Event, Patient).join(Patient, Patient.id == Event.patient_id)
            .where(Patient.site_id == site.id, Patient.status.in_(ON_STUDY),
                   Event.kind.in_(CLINIC_VISIT_KINDS), Event.status == "planned",
                   sa.or_(Event.window_end < day, sa.and_(Event.window_end >= day, Event.target_date < week_end))))
    rows = []
    for event, patient in db.session.execute(stmt):
        if event.window_end < day:
            rows.append(row("visit_overdue", patient,
                            f"{event.label} planned {event.target_date} is not recorded; its window closed "
                            f"{event.window_end}", event.window_end,
                            "Record the visit as completed (with its date), missed or held"))
        else:
            action = ("Confirm the scan appointment with the patient" if event.kind == "tumor_assessment"
                      else "Confirm the visit with the patient")
            rows.append(row("visit_due", patient,
                            f"{event.label} planned {event.target_date} (window {event.window_start} to "
                            f"{event.window_end})", event.target_date, action))
    return rows


def alert_rows(site: Site, day: date) -> list[Row]:
    """Open symptom alerts, longest waiting first (PRO-CTCAE alerts: Basch et al. 2016/2017 loop)."""
    rows = []
    for alert in open_alerts_for_site(site.id):
        what = f"Symptom alert: {alert.term} ({alert.rule.replace('_', ' ')})"
        rows.append(row("symptom_alert", alert.patient, what, alert.created_at.date(),
                        "Call the patient, assess the symptom, then acknowledge the alert with the action taken"))
    return rows


WORKLIST_SOURCES: list[WorklistSource] = [alert_rows, pfs_rows, visit_rows]


def site_worklist(principal: Principal, code: str, day: date | None = None) -> list[Row]:
    site = db.session.scalar(sa.select(Site).where(Site.code == code))
    if site is None or not can_see_site(principal, site):
        raise NotFound(f"No site {code!r}.")
    day = day or site_today(site)
    rows = [r for source in WORKLIST_SOURCES for r in source(site, day)]
    rows.sort(key=lambda r: (r["priority"], r["due_date"] or date.min, r["subject_id"], r["kind"], r["what"]))
    return rows
