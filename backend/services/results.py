"""Results of a study as they accrue: each patient's confirmed response, DoR and OS; ORR, CBR and the
Kaplan-Meier summaries of PFS, OS and DoR per regimen and overall.

The rules are `schedules.response` (RECIST 1.1 section 4.3 and Table 3, FDA 2018) and
`schedules.survival` (Kaplan-Meier); PFS is `services.pfs.derive_many`, the derivation behind
GET /patients/{id}/pfs. This module loads the data in bulk and calls them: every view of a result —
the endpoints and the ADRS/ADTTE exports — goes through `derive_results`, so they always agree.

The cut-off: the one given, else today at each patient's site (as PFS); never before a patient's
first dose. Patients first dosed after the cut-off are not in a study's results.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend.auth import Principal, site_filter, visible_patient
from backend.charts.swimmer import Lane
from backend.errors import InvalidInput
from backend.extensions import db
from backend.models import Event, Patient, PatientOutcome, Site, Study, SymptomReport
from backend.services import pfs as pfs_service
from backend.services.collector import collector_paused
from backend.services.studies import study_by_code
from schedules import response, survival
from schedules.pfs import PfsResult



@dataclass(frozen=True)
class PatientResult:
    """Everything the results views show of one patient, on one cut-off."""

    patient: Patient
    cutoff: date
    evaluable: bool
    best: response.BestResponse
    pfs: PfsResult
    os: response.TimeToEvent
    dor: response.TimeToEvent | None


def response_rules(study: Study) -> response.ResponseRules:
    """The study's `confirm_min_days`, `sd_min_days` and `cbr_sd_min_days` (checked at set-up)."""
    return response.ResponseRules.from_settings(study.settings)


def _latest(model_date, model_patient, where, ids: Sequence[uuid.UUID], cutoff: date) -> sa.Select:
    """Each patient's latest ``model_date`` by the cut-off."""
    return (sa.select(model_patient.label("patient_id"), sa.func.max(model_date).label("day"))
            .where(pfs_service.ids_filter(model_patient, ids), model_date <= cutoff, *where).group_by(model_patient))


def _alive_dates(ids: Sequence[uuid.UUID], cutoff: date) -> dict[uuid.UUID, list[date]]:
    """Latest completed visit and symptom report of each patient, by the cut-off (OS's last contact):
    one statement (per chunk), Core rows."""
    found: dict[uuid.UUID, list[date]] = {pid: [] for pid in ids}
    connection = pfs_service.core_connection()
    for chunk in pfs_service.chunks(ids):
        for pid, day in connection.execute(sa.union_all(
                _latest(Event.actual_date, Event.patient_id, (Event.status == "completed",), chunk, cutoff),
                _latest(SymptomReport.local_date, SymptomReport.patient_id, (), chunk, cutoff))).all():
            found[pid].append(day)
    return found


def last_doses(ids: Sequence[uuid.UUID], cutoff: date) -> dict[uuid.UUID, date]:
    """The last dose given by the cut-off: the latest completed dose visit."""
    found: dict[uuid.UUID, date] = {}
    connection = pfs_service.core_connection()
    for chunk in pfs_service.chunks(ids):
        found.update(connection.execute(_latest(Event.actual_date, Event.patient_id, (
            Event.status == "completed", Event.kind == "dose"), chunk, cutoff)).tuples().all())
    return found


def derive_results(patients: Sequence[Patient], cutoff: date | None = None) -> dict[uuid.UUID, PatientResult]:
    """Response, PFS, OS and DoR of each patient dosed by the cut-off, from data loaded in bulk."""
    dosed = [p for p in patients if cutoff is None or p.first_dose_date <= cutoff]
    if not dosed:
        return {}
    with collector_paused():  # a study's thousands of histories and results hold no cycles
        return _derive_dosed(dosed, cutoff)


def _derive_dosed(dosed: Sequence[Patient], cutoff: date | None) -> dict[uuid.UUID, PatientResult]:
    histories = pfs_service.load_histories(p.id for p in dosed)
    progression_free = pfs_service.derive_many(dosed, cutoff, histories=histories)
    latest = max(day for day, _ in progression_free.values())
    alive = _alive_dates([p.id for p in dosed], latest)
    rules_by_study: dict[uuid.UUID, response.ResponseRules] = {}
    plans: dict[uuid.UUID, Any] = {}
    results = {}
    for patient in dosed:
        day, pfs_result = progression_free[patient.id]
        history = histories[patient.id]
        rules = rules_by_study.get(patient.study_id) or rules_by_study.setdefault(
            patient.study_id, response_rules(patient.study))
        best = response.best_overall_response(patient.first_dose_date, history.assessments, history.outcomes,
                                              day, rules)
        death = min((o.date for o in history.outcomes if o.type == "death"), default=None)
        contacts = [*alive[patient.id], *(a.date for a in history.assessments),
                    *(o.date for o in history.outcomes if o.type != "death")]
        os_result = response.overall_survival(patient.first_dose_date, death,
                                              response.last_known_alive(contacts, day), day)
        dor = None
        if best.confirmed and best.first_response_date is not None:
            censoring = pfs_result
            if pfs_result.reason == "no_baseline":  # a responder's DoR needs no baseline scan
                assured = pfs_service.History(response.with_baseline(patient.first_dose_date, history.assessments),
                                              history.outcomes)
                plan = plans.get(patient.study_id) or plans.setdefault(
                    patient.study_id, pfs_service.assessment_plan(patient.study))
                censoring = pfs_service.derive(patient, assured, day, plan)
            dor = response.duration_of_response(censoring, best.first_response_date)
        evaluable = any(a.baseline and a.date <= day for a in history.assessments)
        results[patient.id] = PatientResult(patient, day, evaluable, best, pfs_result, os_result, dor)
    return results


def response_body(result: PatientResult) -> dict[str, Any]:
    """The contract's response body."""
    best = result.best
    return {
        "patient_id": str(result.patient.id), "subject_id": result.patient.subject_id, "cutoff": result.cutoff,
        "regimen": result.patient.regimen, "response_evaluable": result.evaluable,
        "best_overall_response": best.best_overall_response, "confirmed": best.confirmed,
        "confirmed_by": list(best.confirmed_by), "first_response_date": best.first_response_date,
        "confirmation_date": best.confirmation_date, "clinical_benefit": best.clinical_benefit,
        "dor": result.dor.to_dict() if result.dor else None, "os": result.os.to_dict(),
    }


def patient_response(principal: Principal, patient_id: str, cutoff: date | None) -> dict[str, Any]:
    patient = visible_patient(principal, patient_id)
    if cutoff is not None and cutoff < patient.first_dose_date:
        raise InvalidInput("cutoff", f"Response is evaluated from the first dose ({patient.first_dose_date}).",
                           location="query")
    return response_body(derive_results([patient], cutoff)[patient.id])


def study_patients(principal: Principal, code: str, regimen: str | None = None) -> tuple[Study, list[Patient]]:
    """The study's patients within the caller's scope (a nurse's view covers her sites only)."""
    study = study_by_code(principal, code)
    stmt = (sa.select(Patient).join(Site, Site.id == Patient.site_id)
            .where(Patient.study_id == study.id, site_filter(principal, Patient.site_id, Patient.study_id))
            .order_by(Site.code, Patient.subject_id)
            # one read of the study and of each site, not a copy of their JSON settings on every row
            .options(so.selectinload(Patient.study), so.selectinload(Patient.site)))
    if regimen is not None:
        stmt = stmt.where(Patient.regimen == regimen)
    return study, list(db.session.scalars(stmt))


def study_regimens(principal: Principal, code: str) -> list[str]:
    """The regimens of the study's patients in the caller's scope (the Results page's filter)."""
    study = study_by_code(principal, code)
    return list(db.session.scalars(
        sa.select(Patient.regimen).distinct()
        .where(Patient.study_id == study.id, site_filter(principal, Patient.site_id, Patient.study_id))
        .order_by(Patient.regimen)))


def reported_cutoff(cutoff: date | None, results: Iterable[PatientResult]) -> date:
    """The cut-off given, else the latest site's today among the patients (today in UTC when none)."""
    if cutoff is not None:
        return cutoff
    return max((r.cutoff for r in results), default=datetime.now(timezone.utc).date())


def efficacy_summary(results: Sequence[PatientResult]) -> dict[str, Any]:
    """ORR (of the response-evaluable and of all dosed), CBR and the KM summaries of one group."""
    evaluable = [r for r in results if r.evaluable]
    responders = sum(1 for r in evaluable if r.best.confirmed)
    benefit = sum(1 for r in evaluable if r.best.clinical_benefit)
    dor = [r.dor for r in results if r.dor is not None]
    return {
        "orr": response.rate(responders, len(evaluable)),
        "orr_dosed": response.rate(sum(1 for r in results if r.best.confirmed), len(results)),
        "cbr": response.rate(benefit, len(evaluable)),
        "km": {
            "pfs": survival.summary([r.pfs.days for r in results], [r.pfs.cnsr == 0 for r in results]),
            "os": survival.summary([r.os.days for r in results], [r.os.cnsr == 0 for r in results]),
            "dor": survival.summary([d.days for d in dor], [d.cnsr == 0 for d in dor]),
        },
    }


def study_results(principal: Principal, code: str, cutoff: date | None,
                  regimen: str | None) -> tuple[dict[str, Any], list[PatientResult]]:
    """The efficacy body and the patient results it summarises (the console's swimmer plot draws those)."""
    _, patients = study_patients(principal, code, regimen)
    return efficacy_of(patients, cutoff, regimen)


def efficacy_of(patients: Sequence[Patient], cutoff: date | None,
                regimen: str | None) -> tuple[dict[str, Any], list[PatientResult]]:
    """`study_results` for patients already loaded (the console's Results page loads them once for both
    tables)."""
    results = list(derive_results(patients, cutoff).values())
    by_regimen = []
    for name in sorted({r.patient.regimen for r in results}):
        by_regimen.append({"regimen": name, **efficacy_summary([r for r in results if r.patient.regimen == name])})
    return ({"cutoff": reported_cutoff(cutoff, results), "regimen": regimen, **efficacy_summary(results),
             "by_regimen": by_regimen}, results)


def study_efficacy(principal: Principal, code: str, cutoff: date | None, regimen: str | None) -> dict[str, Any]:
    return study_results(principal, code, cutoff, regimen)[0]


def swimmer_lane(result: PatientResult) -> Lane:
    """A patient's lane for the swimmer plot (`backend.charts.swimmer`): first dose to the end of follow-up
    (OS's date), the response and its confirmation, progression and death, on the ``+ 1`` day scale."""
    start = result.patient.first_dose_date
    markers: list[tuple[str, int]] = []
    best = result.best
    if best.first_response_date is not None:
        markers.append(("response", (best.first_response_date - start).days + 1))
    if best.confirmation_date is not None:
        markers.append(("confirmation", (best.confirmation_date - start).days + 1))
    if result.pfs.reason == "progression":
        markers.append(("progression", result.pfs.days))
    if result.os.reason == "death":
        markers.append(("death", result.os.days))
    ongoing = result.os.reason == "ongoing" and result.patient.follow_up_end is None
    return Lane(result.patient.subject_id, result.os.days, ongoing, tuple(markers), best.best_overall_response)
