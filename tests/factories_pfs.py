"""Calendar events for the PFS, worklist, compliance and reconciliation tests.

The calendar service is built in parallel, so these tests write events directly, shaped as the
calendar plans them (keys `dose:C{c}D{d}`, `assessment:{k}`, `survey:{n}`).
"""
from __future__ import annotations

from datetime import date, timedelta

import factory

from backend.extensions import db
from backend.models import Event, Patient, TumourAssessment
from tests.factories import _Base


class EventFactory(_Base):
    class Meta:
        model = Event

    patient_id = factory.LazyAttribute(lambda o: o.patient.id)
    key = factory.Sequence(lambda n: f"dose:C{n + 1}D1")
    kind = "dose"
    cycle = None
    day = None
    label = factory.LazyAttribute(lambda o: o.key)
    agents = factory.LazyFunction(list)
    protocol_date = date(2026, 1, 5)
    target_date = factory.LazyAttribute(lambda o: o.protocol_date)
    window_start = factory.LazyAttribute(lambda o: o.protocol_date - timedelta(days=3))
    window_end = factory.LazyAttribute(lambda o: o.protocol_date + timedelta(days=3))
    flags = factory.LazyFunction(list)
    status = "planned"
    actual_date = None

    class Params:
        patient = None


def dose_event(patient, cycle: int, protocol: date, *, day: int = 1, window: int = 3, **kwargs) -> Event:
    return EventFactory(patient=patient, key=f"dose:C{cycle}D{day}", kind="dose", cycle=cycle, day=day,
                        label=f"Cycle {cycle} Day {day}", protocol_date=protocol,
                        window_start=protocol - timedelta(days=window),
                        window_end=protocol + timedelta(days=window), **kwargs)


def assessment_event(patient, k: int, *, interval: int = 42, window: int = 7, **kwargs) -> Event:
    """Tumour assessment k on the imaging clock: first dose + k x interval, ± window."""
    protocol = patient.first_dose_date + timedelta(days=k * interval)
    return EventFactory(patient=patient, key=f"assessment:{k}", kind="tumor_assessment",
                        label=f"Tumour assessment {k}", protocol_date=protocol,
                        window_start=protocol - timedelta(days=window),
                        window_end=protocol + timedelta(days=window), **kwargs)


def survey_event(patient, n: int, **kwargs) -> Event:
    """Weekly survey n: first dose + (n - 1) weeks, open 3 days."""
    protocol = patient.first_dose_date + timedelta(days=7 * (n - 1))
    return EventFactory(patient=patient, key=f"survey:{n}", kind="symptom_survey", label=f"Symptom survey {n}",
                        protocol_date=protocol, window_start=protocol,
                        window_end=protocol + timedelta(days=3), **kwargs)


def scanned(patient: Patient, *history: tuple[date, str], baseline: date | None) -> Patient:
    """`patient` with a baseline scan on `baseline` (none when None) and a post-baseline overall response
    (RECIST 1.1) for each (date, response) of `history`, committed."""
    if baseline is not None:
        db.session.add(TumourAssessment(patient_id=patient.id, date=baseline, baseline=True))
    for day, response in history:
        db.session.add(TumourAssessment(patient_id=patient.id, date=day, overall_response=response))
    db.session.commit()
    return patient
