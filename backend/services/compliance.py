"""The study compliance report: per site, scans done/late/early/missed/NE-only, doses on time/delayed/
held, and survey completion. Counting is `schedules.compliance`; scan statuses are the PFS
derivation's (`services.pfs.derive_many`), so the report agrees with GET /patients/{id}/pfs.

Each site is evaluated on its own date (today there unless ``as_of`` is given). Every patient of the
site counts, on study or not: what was due while they were followed still counts.

Mapping calendar events onto the pure tallies:

* dose events — completed -> given (on its actual date, else its target date), held -> held,
  planned -> not yet counted; ``missed`` (patient did not come) is counted apart; cancelled
  events are ignored. Dosing windows can be asymmetric while ``DosingVisit`` has one width: the
  late side (``window_end - protocol_date``) is used, as a dose delay is what matters.
* symptom_survey events — expected once their window has closed; completed when recorded
  ``completed`` on a day inside the window.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal
from backend.extensions import db
from backend.models import Event, Patient, Site
from backend.services.assessments import site_today
from backend.services.pfs import derive_many
from backend.services.studies import study_by_code
from schedules.compliance import (
    DosingTally,
    DosingVisit,
    SurveyCompletion,
    SurveyWindow,
    VisitTally,
    survey_completion,
    tally_dosing,
    tally_visits,
)


def visible_sites(principal: Principal, sites: list[Site]) -> list[Site]:
    """Nurses see the rows of their own sites only."""
    if principal.role == "nurse":
        return [site for site in sites if site.id in principal.site_ids]
    return list(sites)


def _dosing_visit(event: Event) -> DosingVisit | None:
    window_days = max(0, (event.window_end - event.protocol_date).days)
    if event.status == "completed":
        return DosingVisit(event.target_date, event.protocol_date, window_days, "given",
                           event.actual_date or event.target_date)
    if event.status in ("held", "planned"):
        return DosingVisit(event.target_date, event.protocol_date, window_days, event.status)
    return None


def _survey_window(event: Event) -> SurveyWindow:
    done = event.status == "completed" and (
        event.actual_date is None or event.window_start <= event.actual_date <= event.window_end)
    return SurveyWindow(event.window_start, event.window_end, done)


def _visit_counts(tally: VisitTally) -> dict[str, int]:
    return {"done": tally.done, "late": tally.late, "early": tally.early, "missed": tally.missed,
            "ne_only": tally.ne_only, "open": tally.open, "upcoming": tally.upcoming, "due": tally.due}


def _dosing_counts(tally: DosingTally, missed: int) -> dict[str, int]:
    return {"on_time": tally.on_time, "delayed": tally.delayed, "early": tally.early, "held": tally.held,
            "missed": missed}


def _survey_counts(completion: SurveyCompletion) -> dict[str, Any]:
    return {"completed": completion.completed, "expected": completion.expected, "rate": completion.rate}


def study_compliance(principal: Principal, code: str, as_of: date | None = None) -> dict[str, Any]:
    study = study_by_code(principal, code)
    sites = visible_sites(principal, study.sites)
    patients = list(db.session.scalars(sa.select(Patient).where(Patient.site_id.in_([s.id for s in sites]))))
    results = derive_many(patients, as_of)
    by_site: dict[Any, list[Patient]] = defaultdict(list)
    for patient in patients:
        by_site[patient.site_id].append(patient)
    events: dict[Any, list[Event]] = defaultdict(list)
    if patients:
        for event in db.session.scalars(sa.select(Event).where(
                Event.patient_id.in_([p.id for p in patients]), Event.kind.in_(("dose", "symptom_survey")))):
            events[event.patient_id].append(event)

    rows = []
    total_visits, total_dosing, total_missed, total_surveys = VisitTally(), DosingTally(), 0, SurveyCompletion(0, 0)
    for site in sites:
        members = by_site.get(site.id, [])
        visits = VisitTally()
        for patient in members:
            visits = visits + tally_visits(results[patient.id][1].visits)
        site_events = [e for p in members for e in events.get(p.id, ())]
        doses = [e for e in site_events if e.kind == "dose"]
        dosing = tally_dosing(v for v in map(_dosing_visit, doses) if v is not None)
        missed_doses = sum(1 for e in doses if e.status == "missed")
        # Each patient's surveys are judged on that patient's evaluation date (the site's).
        surveys = SurveyCompletion(0, 0)
        for patient in members:
            day = results[patient.id][0]
            done = survey_completion(
                (_survey_window(e) for e in events.get(patient.id, ()) if e.kind == "symptom_survey"), day)
            surveys = SurveyCompletion(surveys.completed + done.completed, surveys.expected + done.expected)
        rows.append({"site": site.code, "as_of": as_of or site_today(site), "patients": len(members), "assessments": _visit_counts(visits),
                     "dosing": _dosing_counts(dosing, missed_doses), "surveys": _survey_counts(surveys)})
        total_visits = total_visits + visits
        total_dosing = DosingTally(total_dosing.on_time + dosing.on_time, total_dosing.delayed + dosing.delayed,
                                   total_dosing.early + dosing.early, total_dosing.held + dosing.held)
        total_missed += missed_doses
        total_surveys = SurveyCompletion(total_surveys.completed + surveys.completed,
                                         total_surveys.expected + surveys.expected)
    return {
        "study": study.code,
        "as_of": as_of,
        "sites": rows,
        "total": {"site": None, "as_of": as_of, "patients": len(patients), "assessments": _visit_counts(total_visits),
                  "dosing": _dosing_counts(total_dosing, total_missed), "surveys": _survey_counts(total_surveys)},
    }
