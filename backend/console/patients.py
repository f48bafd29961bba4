"""The patient page: both clocks on one timeline, the PRO-CTCAE grade strip, and the record beside it.

Everything shown comes from the services the API answers from: the calendar (`stored_events`), PFS
(`derive_many`, as `GET /patients/{id}/pfs`), visit states (`schedules.visit_states`, as the
calendar's `state`), assessments, symptom reports, alerts, adverse events and the audit trail. The
picture is drawn by `backend.charts.timeline` from marks this module builds.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, g, render_template
from flask_babel import gettext as _
from flask_babel import ngettext

from backend.auth import STAFF_ROLES, Principal, visible_patient
from backend.charts.timeline import GradeCell, Lane, Mark, Milestone, Scale, Span, grade_strip, timeline
from backend.console.auth import staff_page
from backend.console.i18n import short_date, show_date, show_visit
from backend.extensions import db
from backend.models import Patient, SymptomAlert
from backend.services import console as console_service
from backend.services.adverse_events import patient_adverse_events_query
from backend.services.assessments import assessments_query, site_today
from backend.services.calendars import stored_events
from backend.services.pfs import derive_many
from backend.services.regimens import regimen_for
from backend.services.symptoms import reports_query
from schedules.visit_states import visit_state

bp = Blueprint("console_patients", __name__)

LOOK_AHEAD_DAYS = 42
MAX_SPAN_DAYS = 800


def state_words() -> dict[str, str]:
    return {"given": _("given"), "delayed": _("delayed"), "held": _("held"), "missed": _("missed"),
            "planned": _("planned"), "upcoming": _("planned"), "due": _("due"), "overdue": _("overdue"),
            "completed": _("completed"), "done": _("done"), "late": _("late"), "early": _("early"),
            "ne_only": _("not evaluable"), "open": _("window open"), "not_done": _("not done"),
            "cancelled": _("cancelled")}


def dose_state(event, today: date) -> str:
    """Given (on time or early), delayed (after its window), held, missed, or the planned visit's state."""
    if event.status == "completed":
        return "delayed" if event.actual_date and event.actual_date > event.window_end else "given"
    if event.status in ("held", "missed"):
        return event.status
    state = visit_state(event.status, event.window_start, event.window_end, today).state
    return "planned" if state == "upcoming" else state


def survey_state(event, today: date) -> str:
    if event.status == "completed":
        return "done"
    state = visit_state(event.status, event.window_start, event.window_end, today).state
    return {"upcoming": "planned", "overdue": "not_done", "missed": "not_done"}.get(state, state)


def timeline_lanes(events, assessments, pfs_result, today: date) -> list[Lane]:
    words = state_words()
    doses, scans, surveys, windows = [], [], [], []
    pfs_status = {f"assessment:{visit.number}": visit.status for visit in pfs_result.visits}
    for event in events:
        if event.status == "cancelled":
            continue
        if event.kind == "dose":
            state = dose_state(event, today)
            day = event.actual_date or event.target_date
            doses.append(Mark(day, state, f"{show_visit(event.label)}: {words[state]}, {show_date(day)}",
                              f"C{event.cycle}" if event.day == 1 and event.cycle else ""))
        elif event.kind == "tumor_assessment":
            status = pfs_status.get(event.key)
            state = "missed" if event.status == "missed" or status == "missed" else (status or "upcoming")
            windows.append(Span(event.window_start, event.window_end, state,
                                _("%(label)s window %(start)s – %(end)s: %(state)s", label=show_visit(event.label),
                                  start=show_date(event.window_start), end=show_date(event.window_end),
                                  state=words.get(state, state))))
            if state == "missed":
                scans.append(Mark(event.target_date, "missed", f"{show_visit(event.label)}: {words['missed']}", "✕"))
            elif event.status == "planned":
                planned = dose_state(event, today)
                scans.append(Mark(event.target_date, planned,
                                  f"{show_visit(event.label)}: {words[planned]}, {show_date(event.target_date)}"))
        elif event.kind == "symptom_survey":
            state = survey_state(event, today)
            day = event.actual_date or event.target_date
            surveys.append(Mark(day, state, f"{show_visit(event.label)}: {words[state]}, {show_date(day)}"))
    for assessment in assessments:
        label = _("BL") if assessment.baseline else (assessment.overall_response or "")
        title = (_("Baseline scan, %(day)s", day=show_date(assessment.date)) if assessment.baseline else
                 _("Tumour assessment %(day)s: %(response)s", day=show_date(assessment.date), response=label))
        scans.append(Mark(assessment.date, "response-" + (label.lower() if not assessment.baseline else "bl"),
                          title, label))
    return [Lane(_("Dosing (cycles)"), "dose", doses), Lane(_("Tumour scans"), "scan", scans, windows),
            Lane(_("Weekly surveys"), "survey", surveys)]


def milestones(pfs_result, today: date) -> list[Milestone]:
    items = [Milestone(today, "today", _("Today"))]
    if pfs_result.status == "event":
        items.append(Milestone(pfs_result.date, "pfs-event", _("PFS event %(day)s", day=show_date(pfs_result.date))))
    elif pfs_result.reason != "ongoing":
        items.append(Milestone(pfs_result.date, "pfs-censored", _("Censored %(day)s", day=show_date(pfs_result.date))))
    if pfs_result.at_risk and pfs_result.protect_deadline:
        items.append(Milestone(pfs_result.protect_deadline, "deadline",
                               _("Scan by %(day)s", day=show_date(pfs_result.protect_deadline))))
    return items


def chart_scale(patient: Patient, pfs_result, today: date) -> Scale:
    first = patient.first_dose_date - timedelta(days=3)
    last = max(today + timedelta(days=LOOK_AHEAD_DAYS), pfs_result.date + timedelta(days=7),
               (pfs_result.protect_deadline or today) + timedelta(days=7))
    return Scale(first, min(last, first + timedelta(days=MAX_SPAN_DAYS)))


def strip_cells(reports) -> tuple[list[str], list[GradeCell]]:
    """Symptoms in the order they were first reported; one cell per report and symptom."""
    terms: list[str] = []
    cells = []
    for report in sorted(reports, key=lambda r: r.completed_at):
        for symptom in report.symptoms or ():
            term = symptom.get("term") or "?"
            if term not in terms:
                terms.append(term)
            grade = symptom.get("composite_grade")
            shown = _("not graded") if grade is None else str(grade)
            cells.append(GradeCell(report.local_date, term, grade,
                                    _("%(term)s, %(day)s: composite grade %(grade)s", term=term,
                                      day=show_date(report.local_date), grade=shown)))
    return terms, cells


def pfs_words(result) -> str:
    """PFS status in a sentence (FDA 2018 censoring rules, as derived by `schedules.pfs`)."""
    day = show_date(result.date)
    missed = result.consecutive_missed
    sentences = {
        "progression": _("Progression on %(day)s (day %(days)s): a PFS event.", day=day, days=result.days),
        "death": _("Death on %(day)s (day %(days)s): a PFS event.", day=day, days=result.days),
        "ongoing": _("No progression so far: censored at the last adequate assessment on %(day)s (day %(days)s).",
                     day=day, days=result.days),
        "no_baseline": _("Censored on %(day)s, the first dose, because there is no baseline scan.", day=day),
        "new_anticancer_therapy": _("Censored at the last adequate assessment on %(day)s, before new anticancer "
                                    "therapy started.", day=day),
        "missed_assessments": ngettext("Censored at the last adequate assessment on %(day)s because %(num)d scan "
                                       "was missed.", "Censored at the last adequate assessment on %(day)s because "
                                       "%(num)d scans were missed.", missed, day=day),
        "follow_up_ended": _("Censored at the last adequate assessment on %(day)s: follow-up ended.", day=day),
    }
    if result.reason == "ongoing" and result.last_adequate_assessment is None:
        sentences["ongoing"] = _("No progression so far and no adequate scan after baseline yet: censored at the "
                                 "first dose on %(day)s (day %(days)s).", day=day, days=result.days)
    text = sentences.get(result.reason, f"{result.status} {day} ({result.reason})")
    if result.at_risk:
        deadline = show_date(result.protect_deadline) if result.protect_deadline else _("now")
        text += " " + ngettext("At risk: %(num)d assessment missed; an adequate scan is needed by %(deadline)s or a "
                               "later progression will be censored.", "At risk: %(num)d assessments missed; an "
                               "adequate scan is needed by %(deadline)s or a later progression will be censored.",
                               missed, deadline=deadline)
    return text


def patient_page(principal: Principal, patient_id: str) -> dict[str, Any]:
    patient = visible_patient(principal, patient_id)
    today = site_today(patient.site)
    _day, result = derive_many([patient])[patient.id]
    events = stored_events(patient.id)
    assessments = list(db.session.scalars(assessments_query(principal, str(patient.id))))
    reports = list(db.session.scalars(reports_query(principal, str(patient.id))))
    scale = chart_scale(patient, result, today)
    terms, cells = strip_cells(reports)
    return {
        "patient": patient, "today": today, "pfs": result, "pfs_text": pfs_words(result),
        "regimen": regimen_for(patient.study, patient.regimen).to_dict(),
        "timeline": timeline(scale, timeline_lanes(events, assessments, result, today), milestones(result, today),
                             short_date),
        "strip": grade_strip(scale, terms, cells), "strip_terms": terms,
        "alerts": list(db.session.scalars(sa.select(SymptomAlert).where(
            SymptomAlert.patient_id == patient.id, SymptomAlert.status == "open").order_by(SymptomAlert.created_at))),
        "adverse_events": list(db.session.scalars(patient_adverse_events_query(principal, str(patient.id)))),
        "assessments": assessments, "trail": console_service.patient_trail(patient),
        "words": state_words(),
    }


@bp.route("/patients/<patient_id>")
@staff_page(*STAFF_ROLES)
def patient(patient_id: str):
    """One patient: timeline of both clocks, grade strip, details, alerts, AEs, PFS and audit trail."""
    return render_template("console/patients/patient.html", **patient_page(g.principal, patient_id))
