"""Study reconciliation: where what was planned and what was recorded disagree, for data managers.

Each patient is judged on their site's date (today there unless ``as_of`` is given). Site visits
are dose, tumour-assessment and symptom-survey events (dosing-diary days are adherence data, not
visits). Findings, each ``{"kind", "site", "patient_id", "subject_id", "event_id", "date", "detail"}``:

* ``recorded_outside_window`` — a completed visit whose actual date lies outside
  [window_start, window_end] (ICH E6(R2) 4.5.3: deviations from the protocol are documented).
* ``not_recorded`` — a visit whose state is ``overdue`` (`schedules.visit_states`: still
  ``planned`` after its window closed), with its ``days_overdue``.
* ``rescheduled_outside_window`` — a planned visit staff forced outside its window (flag
  ``outside_window``): listed from the moment it is rescheduled, before it happens.
* ``duplicate_same_day`` — two or more completed events of the same kind for one patient on
  the same actual date.
* ``assessment_after_progression`` — a tumour assessment dated after the first PD; RECIST 1.1
  progression is final for PFS and `schedules.pfs` ignores later assessments.
* ``baseline_too_early`` — a baseline more than 28 days before the first dose (RECIST 1.1 §3.2:
  baseline "never more than 4 weeks before the beginning of the treatment"; recorded anyway, see
  `services.assessments`).
* ``calendar_drift`` — the patient's future planned events differ from a fresh plan of the
  protocol (after a regimen or protocol change). Fresh plans come from ``CALENDAR_PLANNERS``:
  each planner returns the event kinds it covers and the events it expects. The dosing, imaging
  and survey clocks are planned afresh with `schedules.calendar_planning.plan_calendar`, doses included.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal
from backend.extensions import db
from backend.models import Event, Patient, TumourAssessment
from backend.services.assessments import site_today
from backend.services import calendars
from backend.services.calendar_events import state_of
from backend.services.phrases import N_, Np_, Phrase, Text, english
from backend.services.studies import study_by_code
from schedules.calendar_planning import plan_calendar
from schedules.visit_states import VisitState

VISIT_KINDS = ("dose", "tumor_assessment", "symptom_survey")
BASELINE_MAX_DAYS_BEFORE = 28
_DIFFERENCES_SHOWN = 3


@dataclass(frozen=True)
class ExpectedEvent:
    """One event of a fresh plan, keyed like the calendar (``assessment:{k}``, ``dose:C{c}D{d}``).

    ``agents`` (``(name, dose, unit)`` triples) is compared only when a planner gives it.
    """

    key: str
    kind: str
    protocol_date: date
    window_start: date
    window_end: date
    agents: tuple[tuple[str, Any, str], ...] | None = None


CalendarPlanner = Callable[[Patient], tuple[tuple[str, ...], list[ExpectedEvent]]]


def protocol_clocks(patient: Patient) -> tuple[tuple[str, ...], list[ExpectedEvent]]:
    """The calendar the regimen and protocol give today, from what has been recorded (the same
    planning as enrolment and re-planning: `schedules.calendar_planning.plan_calendar`)."""
    stored = calendars.stored_events(patient.id)
    planned = plan_calendar(calendars.build_plan_inputs(patient), calendars.facts_of(stored))
    return VISIT_KINDS, [
        ExpectedEvent(e.key, e.kind, e.protocol_date, e.window_start, e.window_end,
                      tuple((a.name, a.dose, a.unit) for a in e.agents))
        for e in planned if e.kind in VISIT_KINDS
    ]


CALENDAR_PLANNERS: list[CalendarPlanner] = [protocol_clocks]


def finding(kind: str, patient: Patient, day: date | None, detail: Text, event_id: Any = None,
            state: VisitState | None = None) -> dict[str, Any]:
    """One finding; ``detail`` in English (the API's), its phrases under ``text`` for the console (not on
    the wire: `schemas.reconciliation.FindingSchema` lists its fields)."""
    parts = detail if isinstance(detail, tuple) else (detail,)
    return {"kind": kind, "site": patient.site.code, "patient_id": str(patient.id),
            "subject_id": patient.subject_id, "event_id": str(event_id) if event_id else None,
            "date": day, "detail": english(parts), "text": parts, "state": state.state if state else None,
            "days_overdue": state.days_overdue if state else None}


def _agents(event: Event) -> tuple[tuple[str, Any, str], ...]:
    return tuple((a.get("name"), a.get("dose"), a.get("unit")) for a in event.agents or ())


def calendar_differences(patient: Patient, events: Sequence[Event], day: date) -> list[tuple[date, Phrase]]:
    """(date, description) of each way the stored future plan differs from a fresh one.

    Only the future is compared (stored planned events targeted on or after ``day``, expected
    events due on or after it), and no further than the stored calendar reaches.
    """
    differences: list[tuple[date, Phrase]] = []
    for planner in CALENDAR_PLANNERS:
        kinds, expected = planner(patient)
        stored = [e for e in events if e.kind in kinds]
        if not stored:
            continue
        reach = max(e.protocol_date for e in stored)
        stored_keys = {e.key for e in stored}
        fresh = {x.key: x for x in expected if x.protocol_date <= reach}
        for event in sorted(stored, key=lambda e: e.target_date):
            if event.status != "planned" or event.target_date < day:
                continue
            want = fresh.get(event.key)
            if want is None:
                differences.append((event.target_date, Phrase(
                    N_("%(key)s planned %(target)s is no longer in the protocol calendar"),
                    {"key": event.key, "target": event.target_date})))
            elif (event.protocol_date, event.window_start, event.window_end) != (
                    want.protocol_date, want.window_start, want.window_end):
                differences.append((event.target_date, Phrase(
                    N_("%(key)s is planned for %(planned)s (%(start)s to %(end)s); the protocol now says "
                       "%(wanted)s (%(wanted_start)s to %(wanted_end)s)"),
                    {"key": event.key, "planned": event.protocol_date, "start": event.window_start,
                     "end": event.window_end, "wanted": want.protocol_date, "wanted_start": want.window_start,
                     "wanted_end": want.window_end})))
            elif want.agents is not None and _agents(event) != want.agents:
                differences.append((event.target_date, Phrase(N_("%(key)s doses differ from the regimen"),
                                                              {"key": event.key})))
        for want in fresh.values():
            if want.key not in stored_keys and want.protocol_date >= day:
                differences.append((want.protocol_date, Phrase(N_("%(key)s due %(due)s is missing"),
                                                               {"key": want.key, "due": want.protocol_date})))
    return sorted(differences, key=lambda difference: (difference[0], difference[1].english()))


def study_reconciliation(principal: Principal, code: str, as_of: date | None = None) -> dict[str, Any]:
    study = study_by_code(principal, code)
    patients = list(db.session.scalars(sa.select(Patient).where(Patient.study_id == study.id)))
    ids = [p.id for p in patients]
    days = {p.id: as_of or site_today(p.site) for p in patients}
    events: dict[Any, list[Event]] = defaultdict(list)
    assessments: dict[Any, list[TumourAssessment]] = defaultdict(list)
    if ids:
        for event in db.session.scalars(sa.select(Event).where(Event.patient_id.in_(ids),
                                                               Event.kind.in_(VISIT_KINDS))):
            events[event.patient_id].append(event)
        for assessment in db.session.scalars(sa.select(TumourAssessment).where(TumourAssessment.patient_id.in_(ids))):
            assessments[assessment.patient_id].append(assessment)

    findings: list[dict[str, Any]] = []
    for patient in patients:
        day = days[patient.id]
        findings.extend(_event_findings(patient, events[patient.id], day))
        findings.extend(_assessment_findings(patient, assessments[patient.id]))
        differences = calendar_differences(patient, events[patient.id], day)
        if differences:
            parts: list[Phrase | str] = []
            for _, text in differences[:_DIFFERENCES_SHOWN]:
                parts += ["; ", text] if parts else [text]
            more = len(differences) - _DIFFERENCES_SHOWN
            if more > 0:
                parts.append(Phrase(N_("; and %(more)s more"), {"more": more}))
            findings.append(finding("calendar_drift", patient, differences[0][0], tuple(parts)))
    findings.sort(key=lambda f: (f["site"], f["subject_id"], f["date"] or date.min, f["kind"], f["detail"]))
    counts: dict[str, int] = defaultdict(int)
    for item in findings:
        counts[item["kind"]] += 1
    return {"study": study.code, "as_of": as_of, "counts": dict(counts), "findings": findings}


def _event_findings(patient: Patient, events: list[Event], day: date) -> list[dict[str, Any]]:
    result = []
    same_day: dict[tuple[str, date], list[Event]] = defaultdict(list)
    for event in events:
        state = state_of(event, day)
        if event.status == "completed" and event.actual_date is not None:
            same_day[(event.kind, event.actual_date)].append(event)
            if not event.window_start <= event.actual_date <= event.window_end:
                result.append(finding("recorded_outside_window", patient, event.actual_date, Phrase(
                    N_("%(label)s recorded on %(actual)s, outside its window %(start)s to %(end)s"),
                    {"label": event.label, "actual": event.actual_date, "start": event.window_start,
                     "end": event.window_end}), event.id, state))
        elif state.state == "overdue":
            result.append(finding("not_recorded", patient, event.window_end, Phrase(
                Np_("%(label)s planned %(target)s: nothing recorded and its window closed %(end)s "
                    "(%(num)s day overdue)",
                    "%(label)s planned %(target)s: nothing recorded and its window closed %(end)s "
                    "(%(num)s days overdue)"),
                {"label": event.label, "target": event.target_date, "end": event.window_end,
                 "num": state.days_overdue}), event.id, state))
        if event.status == "planned" and "outside_window" in (event.flags or ()):
            where = {"label": event.label, "target": event.target_date, "start": event.window_start,
                     "end": event.window_end}
            result.append(finding("rescheduled_outside_window", patient, event.target_date, Phrase(
                N_("%(label)s rescheduled to %(target)s, outside its window %(start)s to %(end)s: %(reason)s"),
                {**where, "reason": event.reason}) if event.reason else Phrase(
                N_("%(label)s rescheduled to %(target)s, outside its window %(start)s to %(end)s: no reason"),
                where), event.id, state))
    for (kind, actual), group in same_day.items():
        if len(group) > 1:
            labels = ", ".join(sorted(e.label for e in group))
            result.append(finding("duplicate_same_day", patient, actual, Phrase(
                N_("%(count)s %(kind)s events completed on %(day)s: %(labels)s"),
                {"count": len(group), "kind": kind, "day": actual, "labels": labels})))
    return result


def _assessment_findings(patient: Patient, assessments: list[TumourAssessment]) -> list[dict[str, Any]]:
    result = []
    for baseline in (a for a in assessments if a.baseline):
        before = (patient.first_dose_date - baseline.date).days
        if before > BASELINE_MAX_DAYS_BEFORE:
            result.append(finding("baseline_too_early", patient, baseline.date, Phrase(
                N_("Baseline scan %(before)s days before the first dose (RECIST 1.1: at most %(most)s)"),
                {"before": before, "most": BASELINE_MAX_DAYS_BEFORE})))
    post = sorted((a for a in assessments if not a.baseline), key=lambda a: a.date)
    progression = next((a for a in post if a.overall_response == "PD"), None)
    if progression is not None:
        for later in (a for a in post if a.date > progression.date):
            result.append(finding("assessment_after_progression", patient, later.date, Phrase(
                N_("%(response)s assessment recorded after progression on %(day)s; PFS ignores it"),
                {"response": later.overall_response, "day": progression.date})))
    return result
