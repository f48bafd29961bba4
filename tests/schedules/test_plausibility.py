"""schedules.plausibility: a clinical date is plausible for the patient, and a study's settings stay
within clinical bounds (issue 10, item 1)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from schedules.plausibility import (
    MAX_EVENTS_PER_CALENDAR,
    Implausible,
    TimeOnStudy,
    check_event_count,
    check_study_bounds,
)

D = timedelta
FIRST_DOSE = date(2026, 3, 2)
SPAN = TimeOnStudy(first_dose=FIRST_DOSE, today=date(2026, 6, 1), horizon_days=730)


@pytest.mark.parametrize("value, options, reason", [
    pytest.param(date(1, 1, 1), {}, "date_before_first_dose", id="year 1 (issue 10: re-anchored the dosing clock)"),
    pytest.param(date(1900, 1, 1), {}, "date_before_first_dose", id="a dose in 1900"),
    pytest.param(FIRST_DOSE - D(1), {}, "date_before_first_dose", id="the day before the first dose"),
    pytest.param(FIRST_DOSE - D(29), {"screening": True}, "date_before_first_dose",
                 id="a baseline 29 days early (RECIST 1.1: never more than 4 weeks)"),
    pytest.param(FIRST_DOSE - D(4), {"earliest": FIRST_DOSE - D(3)}, "date_before_first_dose",
                 id="before the visit's own window"),
    pytest.param(date(2026, 6, 2), {}, "date_in_future", id="tomorrow at the site"),
    pytest.param(date(9999, 12, 31), {}, "date_in_future", id="year 9999"),
])
def test_implausible_dates_are_refused_with_a_reason(value, options, reason):
    with pytest.raises(Implausible) as refused:
        SPAN.check(value, "date", **options)
    assert refused.value.reason == reason and refused.value.field == "date"


@pytest.mark.parametrize("value, options", [
    pytest.param(FIRST_DOSE, {}, id="the first dose"),
    pytest.param(FIRST_DOSE - D(28), {"screening": True}, id="a baseline 28 days early"),
    pytest.param(FIRST_DOSE - D(3), {"earliest": FIRST_DOSE - D(3)}, id="the first day of the visit's window"),
    pytest.param(date(2026, 6, 1), {}, id="today at the site"),
])
def test_plausible_dates_pass(value, options):
    SPAN.check(value, "date", **options)


def test_nothing_is_recorded_past_the_planning_horizon():
    late = TimeOnStudy(first_dose=FIRST_DOSE, today=FIRST_DOSE + D(1000), horizon_days=730)
    late.check(FIRST_DOSE + D(729), "date")
    with pytest.raises(Implausible) as refused:
        late.check(FIRST_DOSE + D(730), "date")
    assert refused.value.reason == "date_beyond_horizon"


def test_a_calendar_has_a_hard_ceiling_on_events():
    check_event_count(MAX_EVENTS_PER_CALENDAR)
    with pytest.raises(Implausible):
        check_event_count(MAX_EVENTS_PER_CALENDAR + 1)


@pytest.mark.parametrize("settings, schedule, field", [
    pytest.param({"planning_horizon_days": 100_000}, (42, 7, None), "planning_horizon_days",
                 id="a horizon of 274 years (issue 10: events until 2300)"),
    pytest.param({"planning_horizon_days": 1827}, (42, 7, None), "planning_horizon_days", id="past five years"),
    pytest.param({"planning_horizon_days": True}, (42, 7, None), "planning_horizon_days", id="a boolean horizon"),
    pytest.param({"screening_period_days": 91}, (42, 7, None), "screening_period_days", id="a 91-day screening"),
    pytest.param({}, (366, 7, None), "assessment_schedule.interval_days", id="scans more than a year apart"),
    pytest.param({}, (42, 7, [[None, 1_000_000_000]]), "assessment_schedule.phases", id="a phase of a billion days"),
    pytest.param({}, (42, 7, [[100_000, 42], [None, 84]]), "assessment_schedule.phases", id="a phase past 5 years"),
    pytest.param({}, (42, 7, [[1, 42]] * 21), "assessment_schedule.phases", id="21 phases"),
    pytest.param({"survey": {"interval_days": 400}}, (42, 7, None), "survey.interval_days",
                 id="surveys more than a year apart"),
    pytest.param({"survey": "x"}, (42, 7, None), "survey", id="a survey that is not an object"),
])
def test_study_settings_have_clinical_bounds(settings, schedule, field):
    with pytest.raises(Implausible) as refused:
        check_study_bounds(settings, *schedule, default_horizon=730)
    assert refused.value.field == field


def test_the_seed_studies_settings_are_within_bounds():
    check_study_bounds({"planning_horizon_days": 1826, "survey": {"interval_days": 7, "window_days": 3},
                        "screening_period_days": 28}, 42, 7, [[336, 42], [None, 84]], default_horizon=730)
