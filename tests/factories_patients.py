"""Enrolled patients with their planned calendars (through the enrolment service, as the API does)."""
from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from backend.extensions import db
from backend.models import Event, Patient, Site

_subjects = itertools.count(1)


def monday_after(day: date, weeks: int = 0) -> date:
    """The Monday on or after `day`, plus `weeks` weeks: dosing dates easy to check by hand."""
    return day + timedelta(days=(7 - day.weekday()) % 7 + 7 * weeks)


def enrol(site: Site, regimen: str = "INET-PAC", first_dose: date | None = None, **extra: Any) -> Patient:
    """Enrol through the service. Tests pick first doses relative to today, which may fall on a closed
    clinic day: `force` accepts them unless a test passes `force=False` (the rule itself is tested over
    HTTP in test_visit_states)."""
    from backend.services.patients import enrol_patient

    data = {"study": site.study.code, "site": site.code, "subject_id": f"P-{next(_subjects):05d}",
            "regimen": regimen, "first_dose_date": first_dose or monday_after(date.today(), 2), "locale": "en",
            "force": True}
    data.update(extra)
    return enrol_patient(None, data)


def events_by_key(patient_id) -> dict[str, Event]:
    db.session.expire_all()
    return {e.key: e for e in db.session.scalars(sa.select(Event).where(Event.patient_id == patient_id))}


def site_today(site: Site) -> date:
    """Today at the site: the day the services call today (tests may run near midnight UTC)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(site.timezone)).date()
