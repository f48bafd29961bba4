"""What the calendar clocks need, read from a patient, their site and their study; and the clinic's
"today" (the day that separates the recorded past from the re-plannable future)."""
from __future__ import annotations

import functools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.errors import InvalidInput
from backend.extensions import db
from backend.models import Patient, Site
from backend.models.base import utcnow
from backend.services.regimens import regimen_for
from schedules.calendars import AssessmentSchedule, PlanInputs, SurveySchedule
from schedules.clinics import ClinicCalendar
from schedules.plausibility import horizon_days


# Where a country's national calendar misses regional bank holidays, the subdivision a site without
# one plans with: the UK's common calendar lacks Easter Monday and the August bank holiday of England.
DEFAULT_SUBDIVISIONS = {"GB": "ENG"}
DEFAULT_HORIZON_DAYS = 730


# -- time -----------------------------------------------------------------------------------------

def local_today(zone: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()


def site_today(patient: Patient, now: datetime | None = None) -> date:
    """Today at the patient's clinic: the day that separates the past from the re-plannable future."""
    return local_today(patient.site.timezone, now)


def latest_today(patient: Patient, now: datetime | None = None) -> date:
    """The later of the clinic's and the patient's today: a recorded date after it is in the future
    wherever the patient is."""
    return max(site_today(patient, now), local_today(patient.effective_timezone, now))


# -- plan inputs ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _clinic(country: str, subdivision: str | None, closures: tuple[str, ...]) -> ClinicCalendar:
    return ClinicCalendar(country, frozenset(date.fromisoformat(d) for d in closures), subdivision)


def clinic_for(site: Site) -> ClinicCalendar:
    """The site's open days: its country's (and subdivision's) holidays plus its own closures."""
    subdivision = site.subdivision or DEFAULT_SUBDIVISIONS.get(site.country)
    return _clinic(site.country, subdivision, tuple(sorted(site.closures or ())))


def build_plan_inputs(patient: Patient, *, new: bool = False, progression_on: date | None = None) -> PlanInputs:
    """Everything the clocks need for `patient`, from the patient, their site and their study.

    Study settings read: `regimen_overrides` ({code: overrides for Regimen.with_overrides}),
    `survey` ({"interval_days", "window_days"}), `planning_horizon_days` (default 730), and the
    study's assessment interval, window and phases. Settings the domain refuses answer 422
    `invalid_study_settings` (never a 500). A `new` patient (not stored yet: an import) has no stored
    assessments: `progression_on` is their first PD, which the caller knows.
    """
    study = patient.study
    settings = study.settings or {}
    regimen = regimen_for(study, patient.regimen)
    try:
        assessments = AssessmentSchedule(
            interval_days=study.assessment_interval_days, window_days=study.assessment_window_days,
            phases=tuple(tuple(phase) for phase in study.assessment_phases or ()))
        survey = settings.get("survey") or {}
        surveys = SurveySchedule(**{k: int(survey[k]) for k in ("interval_days", "window_days") if k in survey})
        return PlanInputs(
            regimen=regimen, first_dose=patient.first_dose_date, clinic=clinic_or_422(patient.site),
            assessments=assessments, surveys=surveys,
            horizon_days=horizon_days(settings, DEFAULT_HORIZON_DAYS),
            discontinued_on=patient.discontinued_on, follow_up_end=patient.follow_up_end,
            progression_on=progression_on if new else _progression_on(patient),
        )
    except (TypeError, ValueError) as error:
        raise InvalidInput("study", f"The study's calendar settings are invalid: {error}",
                           reason="invalid_study_settings") from None


def _progression_on(patient: Patient) -> date | None:
    """The date of the first RECIST 1.1 PD assessment: the imaging clock stops there."""
    from backend.models import TumourAssessment

    return db.session.scalar(sa.select(sa.func.min(TumourAssessment.date)).where(
        TumourAssessment.patient_id == patient.id, TumourAssessment.overall_response == "PD",
        TumourAssessment.baseline.is_(False)))


def clinic_or_422(site: Site) -> ClinicCalendar:
    try:
        return clinic_for(site)
    except ValueError as error:
        raise InvalidInput("site", f"The site's clinic calendar is invalid: {error}",
                           reason="invalid_site_settings") from None
