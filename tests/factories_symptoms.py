"""Factories for symptom reporting: survey events placed directly on a calendar, patients with accounts."""
from __future__ import annotations

from datetime import date, timedelta

import factory

from backend.models import Event, Patient, Site, User
from tests.factories import PatientFactory, UserFactory, _Base, staff_for


class SurveyEventFactory(_Base):
    """A planned `symptom_survey` event with a window of `window_days` either side of its target."""

    class Meta:
        model = Event
        exclude = ("patient", "window_days")

    patient = None
    window_days = 1
    patient_id = factory.LazyAttribute(lambda o: o.patient.id)
    key = factory.Sequence(lambda n: f"survey:{n}")
    kind = "symptom_survey"
    label = "Symptom survey"
    target_date = date(2026, 3, 12)
    protocol_date = factory.LazyAttribute(lambda o: o.target_date)
    window_start = factory.LazyAttribute(lambda o: o.target_date - timedelta(days=o.window_days))
    window_end = factory.LazyAttribute(lambda o: o.target_date + timedelta(days=o.window_days))
    status = "planned"


def patient_with_account(site: Site, **fields) -> tuple[Patient, User]:
    """A patient of `site` who can sign in."""
    user = UserFactory(role="patient")
    return PatientFactory(site=site, user_id=user.id, **fields), user


def reporting_world(site: Site, **patient_fields) -> dict:
    """`site` with its staff and one patient who can sign in: what the symptom, alert and adverse-event
    tests act on (`patient`, `patient_user`, and each staff role by name)."""
    patient, user = patient_with_account(site, **patient_fields)
    return {"site": site, "patient": patient, "patient_user": user, **staff_for(site)}
