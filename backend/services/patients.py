"""Patients: enrolment (with the calendar planned in the same transaction), scope, listing,
discontinuation, and the demo patients (the CSV import is `services.imports`)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, can_see_site, can_see_study, site_filter
from backend.errors import Conflict, DomainError, InvalidInput
from backend.extensions import db
from backend.models import Patient, Site, Study, User
from backend.models.audit import REASON_KEY
from backend.models.base import new_id, utcnow
from backend.services import calendars, reminders
from backend.services.regimens import regimen_for
from backend.services.users import create_user
from schedules.calendars import EventFact

ENROLMENT_HORIZON_YEARS = 5


# -- scope ----------------------------------------------------------------------------------------

def patients_query(principal: Principal, query: Mapping[str, Any]) -> sa.Select:
    """Staff list: the caller's patients, optionally by site code, status, study code or subject."""
    stmt = (sa.select(Patient).where(site_filter(principal, Patient.site_id, Patient.study_id))
            .order_by(Patient.subject_id, Patient.id))
    if query.get("site"):
        stmt = stmt.where(Patient.site_id.in_(sa.select(Site.id).where(Site.code == query["site"])))
    if query.get("study"):
        stmt = stmt.where(Patient.study_id.in_(sa.select(Study.id).where(Study.code == query["study"])))
    if query.get("status"):
        stmt = stmt.where(Patient.status == query["status"])
    if query.get("subject_id"):
        stmt = stmt.where(Patient.subject_id == query["subject_id"])
    return stmt


# -- enrolment ------------------------------------------------------------------------------------

def study_and_site(principal: Principal | None, study_code: str, site_code: str) -> tuple[Study, Site]:
    """The study (422 `study` when unknown or out of scope) and its site (422 `site` when unknown,
    of another study, or not the caller's: one answer, so nothing is learnt about other sites).
    One query: the site with its study, joined."""
    site = db.session.scalar(sa.select(Site).join(Site.study).where(Site.code == site_code, Study.code == study_code))
    study = site.study if site is not None else db.session.scalar(sa.select(Study).where(Study.code == study_code))
    if study is None or (principal is not None and not can_see_study(principal, study.id)):
        raise InvalidInput("study", f"Unknown study {study_code!r}.")
    if site is None or (principal is not None and not can_see_site(principal, site)):
        # One answer for a site that does not exist, belongs to another study or is not the caller's.
        raise InvalidInput("site", f"Unknown site {site_code!r} for study {study.code}.")
    return study, site


def _years_from(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def check_first_dose(first_dose: date, today: date) -> None:
    """A first dose more than five years either side of today is a typing error, not a patient."""
    earliest, latest = _years_from(today, -ENROLMENT_HORIZON_YEARS), _years_from(today, ENROLMENT_HORIZON_YEARS)
    if not earliest <= first_dose <= latest:
        raise InvalidInput("first_dose_date", f"{first_dose.isoformat()} is more than {ENROLMENT_HORIZON_YEARS} "
                                              f"years from today ({today.isoformat()}).")


def check_clinic_open(site: Site, first_dose: date, today: date) -> None:
    """A first dose still to come is a clinic visit the site can plan: on a day the clinic is closed
    (a holiday or a site closure) it is refused unless `force` says the site will open for it. Past
    first doses happened: they are recorded as they were."""
    if first_dose <= today:
        return
    clinic = calendars.clinic_or_422(site)
    if not clinic.is_open(first_dose):
        raise InvalidInput("first_dose_date", f"The clinic is closed on {first_dose.isoformat()} "
                                              f"({first_dose.strftime('%A')} or a holiday or closure of the site); "
                                              "choose an open day or send \"force\": true.", reason="closed_day")


def conflict_from(error: sa.exc.IntegrityError) -> DomainError:
    text = str(error.orig)
    if "uq_patients_study_subject" in text:
        return Conflict("This subject is already enrolled in the study.", reason="duplicate_subject")
    if "uq_users_username" in text:
        return Conflict("The username is taken.", reason="duplicate_username")
    return Conflict("The enrolment conflicts with an existing record.", reason="integrity_conflict")


def enrol_patient(principal: Principal | None, data: Mapping[str, Any], *,
                  visits: Mapping[str, EventFact] | None = None, commit: bool = True) -> Patient:
    """Enrol a patient and plan their whole calendar in one transaction (nothing half-written).

    Admins enrol anywhere, coordinators in their studies, nurses at their sites; `principal` None
    is the command line. The site must belong to the study; the regimen must exist (with the
    study's overrides); the first dose must be within five years of the site's today. An
    `account` makes a patient-role user linked to the patient. `visits` (imports only) are visits
    recorded before the patient came to Cadence. With `commit=False` the caller owns the
    transaction (the enrolment benchmark commits in batches) and must roll back on errors.
    """
    session = db.session
    try:
        study, site = study_and_site(principal, data["study"], data["site"])
        regimen_for(study, data["regimen"])
        today = calendars.local_today(site.timezone)
        check_first_dose(data["first_dose_date"], today)
        if not data.get("force"):
            check_clinic_open(site, data["first_dose_date"], today)
        duplicate = session.scalar(sa.select(Patient.id).where(Patient.study_id == study.id,
                                                               Patient.subject_id == data["subject_id"]))
        if duplicate is not None:
            raise Conflict(f"Subject {data['subject_id']} is already enrolled in {study.code}.",
                           reason="duplicate_subject")
        user_id = None
        if data.get("account"):
            user = create_user(principal, {"username": data["account"]["username"], "role": "patient",
                                           "password": data["account"]["password"]}, commit=False,
                               password_field="account.password")
            user.id = user_id = new_id()
        patient = new_patient(study, site, data, user_id)
        session.add(patient)
        calendars.plan_new_patient(patient, visits)
        if commit:
            session.commit()
        return patient
    except sa.exc.IntegrityError as error:
        if commit:
            session.rollback()
        raise conflict_from(error) from None
    except Exception:
        if commit:
            session.rollback()
        raise


def new_patient(study: Study, site: Site, data: Mapping[str, Any], user_id: Any = None) -> Patient:
    """The patient row an enrolment writes (the API's and the import's), with its id, not yet added."""
    patient = Patient(study=study, site=site, subject_id=data["subject_id"], regimen=data["regimen"],
                      first_dose_date=data["first_dose_date"], timezone=data.get("timezone"),
                      locale=data.get("locale") or "en", status="on_treatment", user_id=user_id,
                      phone=data.get("phone"), email=data.get("email"))
    patient.id = new_id()
    return patient


def update_patient(patient: Patient, data: Mapping[str, Any]) -> Patient:
    """Language and contact details change in place; a new time zone re-plans every pending reminder
    at the same local wall-clock times and is kept in the zone history. One transaction; commits."""
    session = db.session
    try:
        session.info[REASON_KEY] = data.get("reason")
        for name in ("locale", "phone", "email"):
            if name in data:
                setattr(patient, name, data[name])
        if "timezone" in data:
            reminders.change_patient_timezone(patient, data["timezone"], data.get("reason"), utcnow())
        session.commit()
        return patient
    except Exception:
        session.rollback()
        raise


def discontinue_patient(patient: Patient, data: Mapping[str, Any]) -> Patient:
    """Treatment discontinued on `date` (no dosing on or after it); the patient moves to
    follow-up. Future dosing is cancelled, imaging and surveys go on (schedules.calendar_planning: the
    imaging clock continues after discontinuation until follow_up_end). Planned doses between the
    discontinuation date and today are cancelled too. Commits."""
    session = db.session
    try:
        calendars.lock_patient(patient)
        if patient.discontinued_on is not None or patient.status != "on_treatment":
            raise Conflict(f"The patient is already {patient.status.replace('_', ' ')}.",
                           reason="already_discontinued")
        stopped: date = data["date"]
        today = calendars.latest_today(patient)
        if stopped < patient.first_dose_date:
            raise InvalidInput("date", "Treatment cannot stop before the first dose.")
        if stopped > today:
            raise InvalidInput("date", f"{stopped.isoformat()} is in the future (today is {today.isoformat()}).")
        session.info[REASON_KEY] = data["reason"]
        patient.discontinued_on = stopped
        patient.status = "follow_up"
        calendars.replan_patient(patient, min(calendars.site_today(patient), stopped), data["reason"])
        session.commit()
        return patient
    except Exception:
        session.rollback()
        raise


# -- demo -----------------------------------------------------------------------------------------

# (study, site, subject, regimen, first dose in days from today, app username or None, locale)
DEMO_PATIENTS = [
    ("INET-PAC-RWS", "SH01", "SH01-001", "INET-PAC", -44, "patient1", "zh-CN"),
    ("INET-PAC-RWS", "SH01", "SH01-002", "INET-PAC-PER", -23, "patient2", "zh-CN"),
    ("INET-PAC-RWS", "SH01", "SH01-003", "INET-PAC", 3, None, "zh-CN"),
    ("INET-1L", "BJ01", "BJ01-001", "INET-PER-DOC", -65, "patient3", "zh-CN"),
    ("INET-1L", "BJ01", "BJ01-002", "INET-PYR-VNR", -12, None, "zh-CN"),
    ("INET-1L", "LDN01", "LDN01-001", "INET-PYR-VNR", -30, "patient4", "en"),
    ("INET-1L", "LDN01", "LDN01-002", "INET-PER-DOC", -2, None, "en"),
]


def load_demo_patients(password: str) -> list[str]:
    """A handful of patients across the demo sites and all four regimens, dosing visits up to a
    few days ago recorded as given; some with app accounts. Idempotent: existing subjects and
    usernames are left alone."""
    lines: list[str] = []
    for study_code, site_code, subject, regimen, offset, username, locale in DEMO_PATIENTS:
        study = db.session.scalar(sa.select(Study).where(Study.code == study_code))
        if study is None or db.session.scalar(sa.select(Patient.id).where(
                Patient.study_id == study.id, Patient.subject_id == subject)):
            continue
        site = db.session.scalar(sa.select(Site).where(Site.code == site_code))
        if site is None:
            continue
        today = calendars.local_today(site.timezone)
        first_dose = today + timedelta(days=offset)
        if first_dose > today:  # a first dose still to come is planned on a day the clinic is open
            clinic = calendars.clinic_for(site)
            while not clinic.is_open(first_dose):
                first_dose += timedelta(days=1)
        data: dict[str, Any] = {"study": study_code, "site": site_code, "subject_id": subject, "regimen": regimen,
                                "first_dose_date": first_dose, "locale": locale}
        if username and not db.session.scalar(sa.select(User.id).where(User.username == username)):
            data["account"] = {"username": username, "password": password}
        enrol_patient(None, data, visits=_demo_visits(data, site, today))
        account = f"; app sign-in {username}" if "account" in data else ""
        lines.append(f"patient {subject} ({regimen}, first dose {data['first_dose_date'].isoformat()}) "
                     f"enrolled at {site_code}{account}")
    return lines


def _demo_visits(data: Mapping[str, Any], site: Site, today: date) -> dict[str, EventFact]:
    """Dosing visits whose target is more than two days ago, given on their target date."""
    from schedules.calendar_planning import plan_calendar

    probe = Patient(study=db.session.scalar(sa.select(Study).where(Study.code == data["study"])), site=site,
                    regimen=data["regimen"], first_dose_date=data["first_dose_date"])
    planned = plan_calendar(calendars.build_plan_inputs(probe), {})
    return {e.key: EventFact(key=e.key, status="completed", actual_date=e.target_date)
            for e in planned if e.kind == "dose" and e.target_date < today - timedelta(days=2)}
