"""Recording tumour assessments and patient outcomes (staff only), with the checks that keep PFS honest.

Dates are clinical dates judged in the site's zone: "in the future" means after today at the site.

Assessment rules (RECIST 1.1, Eisenhauer et al. 2009; `schedules.pfs` for what they mean for PFS):

* The **baseline** scan carries no overall response and is dated **on or before the first dose**
  (RECIST 1.1 §3.2: baseline is done before the beginning of treatment). Cadence decides not to
  refuse an older baseline: RECIST's "never more than 4 weeks before" is an eligibility deviation
  to report, not a reason to lose the scan, so the study reconciliation lists baselines older than
  28 days (`services.reconciliation`). One baseline per patient (409 `duplicate_baseline`).
* A **post-baseline** assessment has an overall response (CR, PR, SD, NON_CR_NON_PD, PD, NE) and is
  dated **after** the first dose: a scan on the day of the first dose precedes dosing
  (`schedules.pfs` module docstring). One per date (409 `duplicate_assessment`).
* `new_lesion_date` (first observation of a new lesion, which dates progression: FDA 2018 table,
  row "Progression documented between scheduled visits") only on a PD assessment, after the first
  dose and not after the assessment date. `scan_dates` are not after the assessment date, and for a
  post-baseline assessment after the first dose.
* Nothing is dated after the site's today, or after a recorded death.

Outcome rules: not in the future, not before the first dose, not after a recorded death; death,
treatment discontinuation and end of follow-up happen once (409 `duplicate_outcome`); new
anticancer therapies may follow one another. Effects on the patient (audited like every change):
`treatment_discontinued` sets `discontinued_on` and moves an on-treatment patient to `follow_up`
(tumour follow-up continues, FDA 2018 row "Treatment discontinuation for ... other reason");
`death` and `follow_up_ended` set `off_study` and `follow_up_end` (the earliest such date).
The dosing calendar must then be re-planned from the discontinuation date: that is the calendar
service's job and is wired in by the lead at merge (no call from here yet).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, visible_patient
from backend.services import calendars
from backend.errors import Conflict, InvalidInput
from backend.services.plausibility import check_clinical_date
from backend.extensions import db
from backend.models import Patient, PatientOutcome, Site, TumourAssessment
from backend.models.audit import REASON_KEY
from backend.models.base import new_id

ONCE_ONLY_OUTCOMES = ("death", "treatment_discontinued", "follow_up_ended")
ON_STUDY = ("on_treatment", "follow_up")


def site_today(site: Site, now: datetime | None = None) -> date:
    """Today's date at the site (clinical dates are site-local)."""
    return calendars.local_today(site.timezone, now)




def _death_date(patient_id: uuid.UUID) -> date | None:
    return db.session.scalar(sa.select(PatientOutcome.date).where(
        PatientOutcome.patient_id == patient_id, PatientOutcome.type == "death"))


# --- assessments ------------------------------------------------------------------------------
def record_assessment(principal: Principal, patient_id: str, data: dict[str, Any],
                      *, now: datetime | None = None) -> TumourAssessment:
    """POST /patients/{id}/assessments. Commits."""
    patient = visible_patient(principal, patient_id)
    assessment = add_assessment(patient, data, principal.user_id, now=now)
    db.session.commit()
    return assessment


def add_assessment(patient: Patient, data: Mapping[str, Any], recorded_by: Any,
                   *, now: datetime | None = None) -> TumourAssessment:
    """Check and add a tumour assessment, marking its scan on the calendar, in the caller's transaction
    (POST /patients/{id}/assessments; the CSV import checks and builds its assessments with the same
    `check_assessment` and `new_assessment`, and marks the scans as it plans the new calendar)."""
    today = site_today(patient.site, now)
    check_assessment(patient, data, today, death=_death_date(patient.id))
    day: date = data["date"]
    baseline = bool(data.get("baseline"))
    existing = sa.select(TumourAssessment.id).where(TumourAssessment.patient_id == patient.id)
    if baseline and db.session.scalar(existing.where(TumourAssessment.baseline.is_(True))):
        raise Conflict("This patient already has a baseline scan.", reason="duplicate_baseline")
    if not baseline and db.session.scalar(existing.where(TumourAssessment.baseline.is_(False),
                                                         TumourAssessment.date == day)):
        raise Conflict(f"An assessment dated {day} is already recorded.", reason="duplicate_assessment")
    assessment = new_assessment(patient, data, recorded_by)
    db.session.add(assessment)
    db.session.info[REASON_KEY] = assessment_reason(assessment)
    if not baseline:
        calendars.record_scan_on_calendar(patient, day, assessment_reason(assessment))
    return assessment


def assessment_reason(assessment: TumourAssessment) -> str:
    return ("baseline scan recorded" if assessment.baseline
            else f"tumour assessment {assessment.overall_response} recorded")


def new_assessment(patient: Patient, data: Mapping[str, Any], recorded_by: Any) -> TumourAssessment:
    """The row of a checked assessment, with its id, not yet added."""
    assessment = TumourAssessment(
        patient_id=patient.id, date=data["date"], overall_response=data.get("overall_response"),
        baseline=bool(data.get("baseline")), new_lesion_date=data.get("new_lesion_date"),
        scan_dates=[scan.isoformat() for scan in sorted(set(data.get("scan_dates") or []))], recorded_by=recorded_by)
    assessment.id = new_id()
    return assessment


def check_assessment(patient: Patient, data: Mapping[str, Any], today: date, *, death: date | None) -> None:
    """The rules of the module docstring that need no stored assessment (422 naming the field)."""
    day: date = data["date"]
    baseline = bool(data.get("baseline"))
    response = data.get("overall_response")
    new_lesion = data.get("new_lesion_date")
    scans = sorted(set(data.get("scan_dates") or []))
    first_dose = patient.first_dose_date
    if day > today:
        raise InvalidInput("date", f"The assessment date is after today at the site ({today}).")
    # Plausible for the patient (schedules.plausibility): a baseline at most the screening period early.
    for field, value in (("date", day), ("new_lesion_date", new_lesion), *(("scan_dates", scan) for scan in scans)):
        check_clinical_date(patient, value, field, screening=True, today=today)
    if baseline:
        if response is not None:
            raise InvalidInput("overall_response", "A baseline scan has no overall response.")
        if new_lesion is not None:
            raise InvalidInput("new_lesion_date", "A baseline scan has no new lesions: it defines the lesions.")
        if day > first_dose:
            raise InvalidInput("date", f"The baseline is dated on or before the first dose ({first_dose}).")
    else:
        if response is None:
            raise InvalidInput("overall_response", "A post-baseline assessment needs its overall response.")
        if day <= first_dose:
            raise InvalidInput("date", f"Only the baseline may be dated on or before the first dose ({first_dose}).")
        if new_lesion is not None:
            if response != "PD":
                raise InvalidInput("new_lesion_date", "A new lesion is progression: the overall response must be PD.")
            if new_lesion > day:
                raise InvalidInput("new_lesion_date", "The new lesion cannot be seen after the assessment date.")
            if new_lesion <= first_dose:
                raise InvalidInput("new_lesion_date", "A lesion present at the first dose belongs to the baseline.")
    if any(scan > day for scan in scans):
        raise InvalidInput("scan_dates", "Scan dates cannot be after the assessment date.")
    if not baseline and any(scan <= first_dose for scan in scans):
        raise InvalidInput("scan_dates", f"Post-baseline scans are dated after the first dose ({first_dose}).")
    if death is not None and day > death:
        raise InvalidInput("date", f"The patient died on {death}.")


def assessments_query(principal: Principal, patient_id: str) -> sa.Select:
    """The patient's assessments, baseline first, then by date."""
    patient = visible_patient(principal, patient_id)
    return (sa.select(TumourAssessment).where(TumourAssessment.patient_id == patient.id)
            .order_by(TumourAssessment.baseline.desc(), TumourAssessment.date, TumourAssessment.created_at))


# --- outcomes ---------------------------------------------------------------------------------
def record_outcome(principal: Principal, patient_id: str, data: dict[str, Any],
                   *, now: datetime | None = None) -> PatientOutcome:
    patient = visible_patient(principal, patient_id)
    kind: str = data["type"]
    day: date = data["date"]
    today = site_today(patient.site, now)

    if day > today:
        raise InvalidInput("date", f"The outcome date is after today at the site ({today}).")
    if day < patient.first_dose_date:
        raise InvalidInput("date", f"The outcome date is before the first dose ({patient.first_dose_date}).")
    check_clinical_date(patient, day, "date", today=today)  # and within the planning horizon
    if kind in ONCE_ONLY_OUTCOMES and db.session.scalar(sa.select(PatientOutcome.id).where(
            PatientOutcome.patient_id == patient.id, PatientOutcome.type == kind)):
        raise Conflict(f"A {kind.replace('_', ' ')} is already recorded for this patient.", reason="duplicate_outcome")
    death = _death_date(patient.id)
    if death is not None and day > death:
        raise InvalidInput("date", f"The patient died on {death}.")
    if kind == "death":
        last_scan = db.session.scalar(sa.select(sa.func.max(TumourAssessment.date))
                                      .where(TumourAssessment.patient_id == patient.id))
        if last_scan is not None and last_scan > day:
            raise InvalidInput("date", f"A tumour assessment is recorded later, on {last_scan}.")

    outcome = PatientOutcome(patient_id=patient.id, type=kind, date=day, reason=data.get("reason"),
                             recorded_by=principal.user_id)
    db.session.add(outcome)
    if kind == "treatment_discontinued":
        patient.discontinued_on = day
        if patient.status == "on_treatment":
            patient.status = "follow_up"
    elif kind in ("death", "follow_up_ended"):
        patient.status = "off_study"
        if patient.follow_up_end is None or day < patient.follow_up_end:
            patient.follow_up_end = day
    db.session.info[REASON_KEY] = data.get("reason") or f"{kind.replace('_', ' ')} recorded"
    try:
        # Discontinuation stops dosing; death and the end of follow-up stop every clock.
        if calendars.has_calendar(patient):
            calendars.replan_patient(patient, min(calendars.site_today(patient), day), db.session.info[REASON_KEY])
        db.session.commit()
    finally:
        db.session.info.pop(REASON_KEY, None)
    return outcome


def outcomes_query(principal: Principal, patient_id: str) -> sa.Select:
    patient = visible_patient(principal, patient_id)
    return (sa.select(PatientOutcome).where(PatientOutcome.patient_id == patient.id)
            .order_by(PatientOutcome.date, PatientOutcome.created_at))
