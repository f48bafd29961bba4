"""Clinical dates checked against the patient's time on study (schedules/plausibility.py holds the
rules and their sources): one call per recorded date, from every use case that records one."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from backend.errors import InvalidInput
from backend.models import Patient
from schedules.calendars import EventFact, PlannedEvent
from schedules.plausibility import Implausible, TimeOnStudy, horizon_days, screening_days


def time_on_study(patient: Patient, today: date | None = None) -> TimeOnStudy:
    """The span `patient`'s records may fall in; `today` defaults to the later of the clinic's and the
    patient's today (a date after it is in the future wherever the patient is)."""
    from backend.services.calendar_inputs import DEFAULT_HORIZON_DAYS, latest_today

    settings = patient.study.settings or {}
    try:
        horizon, screening = horizon_days(settings, DEFAULT_HORIZON_DAYS), screening_days(settings)
    except Implausible:  # a study stored before its settings were bounded: the bounds still hold
        from schedules.plausibility import DEFAULT_SCREENING_DAYS, MAX_HORIZON_DAYS

        horizon, screening = MAX_HORIZON_DAYS, DEFAULT_SCREENING_DAYS
    return TimeOnStudy(first_dose=patient.first_dose_date, today=today or latest_today(patient),
                       horizon_days=horizon, screening_days=screening)


def check_clinical_date(patient: Patient, value: date | None, field: str, *, earliest: date | None = None,
                        screening: bool = False, today: date | None = None) -> None:
    """422 naming `field` unless `value` (None passes) is plausible for `patient`."""
    if value is None:
        return
    try:
        time_on_study(patient, today).check(value, field, earliest=earliest, screening=screening)
    except Implausible as error:
        raise InvalidInput(field, error.message, reason=error.reason) from None


def check_calendar_size(events: int) -> None:
    """422 when a calendar would pass the hard ceiling on events (schedules.plausibility)."""
    from schedules.plausibility import check_event_count

    try:
        check_event_count(events)
    except Implausible as error:
        raise InvalidInput(error.field, error.message, reason=error.reason) from None


def check_recorded_dates(patient: Patient, facts: Mapping[str, EventFact],
                         planned: Sequence[PlannedEvent] | None = None) -> None:
    """Visits recorded elsewhere (an import line) are plausible for the patient: 422 naming `visits`
    and the visit. Without `planned`, the coarse check before planning (screening period to today);
    with it, each visit from its own window or the first dose, whichever is earlier."""
    span = time_on_study(patient)
    windows = {event.key: event.window_start for event in planned or ()}
    for key, fact in facts.items():
        if fact.actual_date is None:
            continue
        earliest = min(windows[key], span.first_dose) if key in windows else None
        try:
            span.check(fact.actual_date, key, earliest=earliest, screening=planned is None)
        except Implausible as error:
            raise InvalidInput("visits", f"{key}: {error.message}", reason=error.reason) from None
