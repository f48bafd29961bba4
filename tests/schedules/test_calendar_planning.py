"""Calendar planning: the dosing, imaging and survey clocks, their windows and clinic closures."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.calendar_planning import plan_calendar
from schedules.calendars import AssessmentSchedule, EventFact, PlanInputs, SurveySchedule
from schedules.clinics import ClinicCalendar
from schedules.regimens import builtin_regimens
from tests.schedules.factories import (
    MONDAY,
    agents,
    by_key,
    check_windows_and_cycles,
    countries,
    days,
    first_doses,
    inputs,
    plan,
    regimens,
)

D = date
INET_LOAD, INET = ("inetetamab", 8, "mg/kg"), ("inetetamab", 6, "mg/kg")
PER_LOAD, PER = ("pertuzumab", 840, "mg"), ("pertuzumab", 420, "mg")
PAC, DOC, VNR = ("paclitaxel", 80, "mg/m2"), ("docetaxel", 75, "mg/m2"), ("vinorelbine", 25, "mg/m2")


# -- the four regimens from a fixed first dose (Mon 1 June 2026, GB: no holiday for weeks) ---------

@pytest.mark.parametrize(("code", "key", "protocol_date", "expected_agents"), [
    ("INET-PAC", "dose:C1D1", D(2026, 6, 1), (INET_LOAD, PAC)),
    ("INET-PAC", "dose:C1D8", D(2026, 6, 8), (PAC,)),
    ("INET-PAC", "dose:C1D15", D(2026, 6, 15), (PAC,)),
    ("INET-PAC", "dose:C2D1", D(2026, 6, 22), (INET, PAC)),
    ("INET-PAC", "dose:C2D8", D(2026, 6, 29), (PAC,)),
    ("INET-PAC", "dose:C2D15", D(2026, 7, 6), (PAC,)),
    ("INET-PAC-PER", "dose:C1D1", D(2026, 6, 1), (INET_LOAD, PER_LOAD, PAC)),
    ("INET-PAC-PER", "dose:C1D15", D(2026, 6, 15), (PAC,)),
    ("INET-PAC-PER", "dose:C2D1", D(2026, 6, 22), (INET, PER, PAC)),
    ("INET-PAC-PER", "dose:C2D8", D(2026, 6, 29), (PAC,)),
    ("INET-PER-DOC", "dose:C1D1", D(2026, 6, 1), (INET_LOAD, PER_LOAD, DOC)),
    ("INET-PER-DOC", "dose:C2D1", D(2026, 6, 22), (INET, PER, DOC)),
    ("INET-PYR-VNR", "dose:C1D1", D(2026, 6, 1), (INET_LOAD, VNR)),
    ("INET-PYR-VNR", "dose:C1D8", D(2026, 6, 8), (VNR,)),
    ("INET-PYR-VNR", "dose:C2D1", D(2026, 6, 22), (INET, VNR)),
    ("INET-PYR-VNR", "dose:C2D8", D(2026, 6, 29), (VNR,)),
])
def test_regimen_day_dates_and_doses(code, key, protocol_date, expected_agents):
    """Cycle 1 carries loading doses, later cycles maintenance; 21-day cycles; day 8/15 offsets."""
    event = plan(inputs(code))[key]
    assert (event.kind, event.protocol_date, event.target_date) == ("dose", protocol_date, protocol_date)
    assert agents(event) == expected_agents
    assert ("loading" in event.flags) is (event.cycle == 1 and event.day == 1)


@pytest.mark.parametrize(("code", "cycle_days"), [
    ("INET-PAC", ["D1", "D8", "D15"]),
    ("INET-PAC-PER", ["D1", "D8", "D15"]),
    ("INET-PER-DOC", ["D1"]),
    ("INET-PYR-VNR", ["D1", "D8"]),  # pyrotinib adds no clinic visit
])
def test_one_dose_event_per_cycle_day(code, cycle_days):
    keys = [k for k in plan(inputs(code)) if k.startswith(("dose:C1D", "dose:C2D"))]
    assert sorted(keys) == sorted(f"dose:C{c}{d}" for c in (1, 2) for d in cycle_days)


@pytest.mark.parametrize(("rule", "window_of", "expected"), [
    ("day 1 window is -1/+3 days", "dose:C2D1", (D(2026, 6, 21), D(2026, 6, 25))),
    ("day 8 window is +/-1 day", "dose:C2D8", (D(2026, 6, 28), D(2026, 6, 30))),
    ("day 15 window is +/-1 day", "dose:C2D15", (D(2026, 7, 5), D(2026, 7, 7))),
    ("tumour assessment window is +/-7 days", "assessment:1", (D(2026, 7, 6), D(2026, 7, 20))),
    ("survey window runs 3 days after the survey day", "survey:2", (D(2026, 6, 8), D(2026, 6, 11))),
])
def test_default_windows(rule, window_of, expected):
    event = plan(inputs("INET-PAC"))[window_of]
    assert (event.window_start, event.window_end) == expected, rule


def test_study_dosing_windows_override():
    regimen = builtin_regimens()["INET-PAC"].with_overrides({"windows": {"day_1": {"before": 2, "after": 4}}})
    event = plan(inputs(regimen))["dose:C2D1"]
    assert (event.window_start, event.window_end) == (D(2026, 6, 20), D(2026, 6, 26))


def test_pyrotinib_has_a_diary_entry_every_day():
    events = plan_calendar(inputs("INET-PYR-VNR"), {})
    diary = [e for e in events if e.kind == "dosing_diary"]
    assert len(diary) == 730  # every day of the default two-year horizon
    assert [e.protocol_date for e in diary] == [MONDAY + days(n) for n in range(730)]
    for entry in diary:
        assert entry.key == f"diary:{entry.protocol_date.isoformat()}"
        assert agents(entry) == (("pyrotinib", 400, "mg"),)
        assert entry.target_date == entry.window_start == entry.window_end == entry.protocol_date
    labels = by_key(diary)
    assert (labels["diary:2026-06-21"].cycle, labels["diary:2026-06-21"].day) == (1, 21)
    assert (labels["diary:2026-06-22"].cycle, labels["diary:2026-06-22"].day) == (2, 1)
    assert not any(e.kind == "dosing_diary" for e in plan_calendar(inputs("INET-PAC"), {}))


# -- pertuzumab loading and reload ----------------------------------------------------------------

@pytest.mark.parametrize(("rule", "facts", "key", "pertuzumab", "flag"), [
    ("cycle 1 is the 840 mg loading dose", [], "dose:C1D1", PER_LOAD, "loading"),
    ("on-time cycles get 420 mg", [], "dose:C3D1", PER, None),
    ("held C2D1: 42-day gap to C3D1 means an 840 mg reload",
     [EventFact("dose:C2D1", "held")], "dose:C3D1", PER_LOAD, "reload"),
    ("C1D1 a day late, C2D1 held: gap 23 Jun..14 Jul is 42 days: reload",
     [EventFact("dose:C1D1", "completed", D(2026, 6, 2)), EventFact("dose:C2D1", "held")],
     "dose:C3D1", PER_LOAD, "reload"),
    ("C1D1 a day late, C2D1 rescheduled a day early then held: gap 41 days: no reload",
     [EventFact("dose:C1D1", "completed", D(2026, 6, 2)),
      EventFact("dose:C2D1", "held", rescheduled_to=D(2026, 6, 22))],
     "dose:C3D1", PER, None),
    ("gap counts actual dates: C2D1 given 42 days after C1D1 is a reload",
     [EventFact("dose:C2D1", "completed", D(2026, 7, 13))], "dose:C2D1", PER_LOAD, "reload"),
    ("gap counts actual dates: C2D1 given 41 days after C1D1 is not",
     [EventFact("dose:C2D1", "completed", D(2026, 7, 12))], "dose:C2D1", PER, None),
    ("after a late C2D1 the clock restarts: C3D1 is 21 days later, 420 mg",
     [EventFact("dose:C2D1", "completed", D(2026, 7, 13))], "dose:C3D1", PER, None),
    ("C1D1 held: the first dose ever given is the loading dose",
     [EventFact("dose:C1D1", "held")], "dose:C2D1", PER_LOAD, "loading"),
])
def test_pertuzumab_reload(rule, facts, key, pertuzumab, flag):
    event = plan(inputs("INET-PAC-PER"), *facts)[key]
    assert agents(event)[1] == pertuzumab, rule
    assert {"loading", "reload"} & event.flags == ({flag} if flag else set()), rule


def test_inetetamab_loading_repeats_when_cycle_1_was_held():
    event = plan(inputs("INET-PAC"), EventFact("dose:C1D1", "held"))["dose:C2D1"]
    assert agents(event)[0] == INET_LOAD


# -- delays, holds, reschedules -------------------------------------------------------------------

def test_day1_delay_moves_later_dosing_but_no_assessment_or_survey():
    base = plan(inputs("INET-PAC"))
    late = plan(inputs("INET-PAC"), EventFact("dose:C2D1", "completed", D(2026, 6, 25), target_date=D(2026, 6, 22)))
    assert late["dose:C2D1"].target_date == D(2026, 6, 22)  # a recorded event keeps its target
    assert late["dose:C2D8"].protocol_date == D(2026, 7, 2)  # 3 days later
    assert late["dose:C3D1"].protocol_date == D(2026, 7, 16)
    for key in base.keys() & late.keys():
        before, after = base[key], late[key]
        if before.kind == "dose" and (before.cycle, before.day) > (2, 1):
            assert after.protocol_date - before.protocol_date == days(3), key
            assert after.window_start - before.window_start == days(3), key
        elif before.kind != "dose" or key == "dose:C2D1" or before.cycle == 1:
            assert (after.protocol_date, after.target_date) == (before.protocol_date, before.target_date), key


def test_held_day8_moves_nothing():
    base = plan_calendar(inputs("INET-PAC"), {})
    held = plan_calendar(inputs("INET-PAC"), {"dose:C1D8": EventFact("dose:C1D8", "held", target_date=D(2026, 6, 8))})
    assert held == base


def test_held_day1_keeps_the_cycle_clock_running():
    """A held day 1 is not given; the next cycle stays 21 days after the held visit's planned date."""
    base = plan_calendar(inputs("INET-PAC"), {})
    held = plan_calendar(inputs("INET-PAC"), {"dose:C2D1": EventFact("dose:C2D1", "held", target_date=D(2026, 6, 22))})
    assert held == base


def test_reschedule_overrides_target_keeps_window_and_moves_the_clock():
    events = plan(inputs("INET-PAC"), EventFact("dose:C2D1", "planned", rescheduled_to=D(2026, 6, 24)))
    c2d1 = events["dose:C2D1"]
    assert (c2d1.protocol_date, c2d1.target_date) == (D(2026, 6, 22), D(2026, 6, 24))
    assert (c2d1.window_start, c2d1.window_end) == (D(2026, 6, 21), D(2026, 6, 25))
    assert c2d1.flags == {"rescheduled"}
    assert events["dose:C2D8"].protocol_date == D(2026, 7, 1)
    assert events["dose:C3D1"].protocol_date == D(2026, 7, 15)


# -- stopping: discontinuation, max cycles, end of follow-up --------------------------------------

def test_discontinuation_stops_dosing_but_not_imaging_or_surveys():
    stop = D(2026, 7, 13)  # C3D1's protocol date
    events = plan_calendar(inputs("INET-PYR-VNR", discontinued_on=stop), {})
    dosing = [e for e in events if e.kind in ("dose", "dosing_diary")]
    assert max(e.protocol_date for e in dosing) == stop - days(1)
    assert sorted(e.key for e in events if e.kind == "dose") == [
        "dose:C1D1", "dose:C1D8", "dose:C2D1", "dose:C2D8"]
    assert len([e for e in events if e.kind == "tumor_assessment"]) == 17  # 42 x 17 = 714 < 730
    assert max(e.protocol_date for e in events if e.kind == "symptom_survey") > D(2028, 5, 1)


def test_max_cycles_ends_dosing_and_the_diary_with_the_last_cycle():
    regimen = builtin_regimens()["INET-PYR-VNR"].with_overrides({"max_cycles": 2})
    events = plan_calendar(inputs(regimen), {})
    assert sorted(e.key for e in events if e.kind == "dose") == [
        "dose:C1D1", "dose:C1D8", "dose:C2D1", "dose:C2D8"]
    diary = [e for e in events if e.kind == "dosing_diary"]
    assert (len(diary), diary[-1].protocol_date, diary[-1].cycle, diary[-1].day) == (42, D(2026, 7, 12), 2, 21)


def test_follow_up_end_stops_everything_after_it():
    end = D(2026, 10, 12)  # assessment 3 is on 12 Oct (1 Jun + 126 days)
    events = plan_calendar(inputs("INET-PAC", follow_up_end=end), {})
    assert max(e.protocol_date for e in events) == end
    assert [e.key for e in events if e.kind == "tumor_assessment"] == [
        "assessment:1", "assessment:2", "assessment:3"]


# -- the imaging clock and survey clock -----------------------------------------------------------

@pytest.mark.parametrize(("rule", "schedule", "offsets"), [
    ("default: every 42 days from the first dose", AssessmentSchedule(), [42, 84, 126, 168]),
    ("a study interval", AssessmentSchedule(interval_days=56, window_days=7), [56, 112, 168, 224]),
    ("every 42 days up to day offset 336, then every 84",
     AssessmentSchedule(phases=((336, 42), (None, 84))), [42, 84, 126, 168, 210, 252, 294, 336, 420, 504]),
    ("a step past a phase's limit moves to the next phase from the last offset",
     AssessmentSchedule(phases=((100, 42), (None, 84))), [42, 84, 168, 252]),
    ("phases accept JSON lists", AssessmentSchedule(phases=[[100, 42], [None, 84]]), [42, 84, 168, 252]),
    ("a bounded last phase ends imaging", AssessmentSchedule(phases=((126, 42),)), [42, 84, 126]),
])
def test_assessment_offsets(rule, schedule, offsets):
    assert list(zip(range(len(offsets)), schedule.offsets())) == list(enumerate(offsets)), rule
    first = D(2026, 1, 5)
    until = first + days(offsets[-1])
    assert schedule.protocol_dates(first, until) == [first + days(o) for o in offsets]
    k = len(offsets)
    assert schedule.protocol_date(first, k) == until
    assert schedule.window(first, k) == (until - days(schedule.window_days), until + days(schedule.window_days))


def test_phases_in_the_calendar():
    events = plan(inputs("INET-PAC", assessments=AssessmentSchedule(phases=((336, 42), (None, 84)))))
    assert events["assessment:8"].protocol_date == MONDAY + days(336)
    assert events["assessment:9"].protocol_date == MONDAY + days(420)


@pytest.mark.parametrize(("rule", "kwargs"), [
    ("only the last phase is open-ended", {"phases": ((None, 42), (336, 84))}),
    ("phase limits increase", {"phases": ((336, 42), (300, 84), (None, 84))}),
    ("windows of consecutive assessments must not overlap", {"interval_days": 14, "window_days": 7}),
    ("a window is not negative", {"window_days": -1}),
])
def test_assessment_schedule_validation(rule, kwargs):
    with pytest.raises(ValueError):
        AssessmentSchedule(**kwargs)


def test_surveys_weekly_from_the_first_dose_day():
    events = plan_calendar(inputs("INET-PAC"), {})
    surveys = [e for e in events if e.kind == "symptom_survey"]
    assert surveys[0].protocol_date == MONDAY and surveys[0].label == "Symptom survey 1"
    assert [s.protocol_date for s in surveys[:3]] == [MONDAY, MONDAY + days(7), MONDAY + days(14)]
    assert all(s.window_end == s.protocol_date + days(3) == s.target_date + days(3) for s in surveys)
    assert len(surveys) == 105  # ceil(730 / 7)


def test_survey_schedule_validation():
    assert SurveySchedule(interval_days=14, window_days=5)
    with pytest.raises(ValueError):
        SurveySchedule(interval_days=7, window_days=7)


# -- clinic closures ------------------------------------------------------------------------------

CN_2026 = D(2026, 1, 5)  # Monday; cycle 3 day 1 and assessment 1 fall on Mon 16 Feb (Spring Festival)


@pytest.mark.parametrize(("rule", "key", "protocol_date", "target_date", "flags"), [
    ("a whole window inside Spring Festival: stays on its date, flagged",
     "dose:C3D1", D(2026, 2, 16), D(2026, 2, 16), {"clinic_closed"}),
    ("day 8 on the last festival day moves to the next open day in its window",
     "dose:C3D8", D(2026, 2, 23), D(2026, 2, 24), set()),
    ("the next cycle is anchored on the protocol date, not moved",
     "dose:C4D1", D(2026, 3, 9), D(2026, 3, 9), set()),
    ("an assessment moves to the adjusted working Saturday 14 Feb (nearest, earlier first)",
     "assessment:1", D(2026, 2, 16), D(2026, 2, 14), set()),
    ("a survey is done at home: never shifted", "survey:7", D(2026, 2, 16), D(2026, 2, 16), set()),
])
def test_cn_spring_festival_2026(rule, key, protocol_date, target_date, flags):
    event = plan(inputs("INET-PAC", first_dose=CN_2026, country="CN"))[key]
    assert (event.protocol_date, event.target_date, set(event.flags) - {"loading"}) == (
        protocol_date, target_date, flags), rule
    assert event.window_start <= event.target_date <= event.window_end


def test_cn_spring_festival_2027_and_diary_not_shifted():
    first = D(2027, 2, 8) - days(84)  # cycle 5 day 1 on Mon 8 Feb 2027
    events = plan(inputs("INET-PYR-VNR", first_dose=first, country="CN"))
    c5d1 = events["dose:C5D1"]
    assert c5d1.protocol_date == D(2027, 2, 8)
    # 5-10 Feb are off (package estimate until the 2027 arrangement is published): Thu 11 Feb.
    assert c5d1.target_date == D(2027, 2, 11)
    assert events["dose:C6D1"].protocol_date == D(2027, 3, 1)
    assert events["diary:2027-02-08"].target_date == D(2027, 2, 8)


@pytest.mark.parametrize(("rule", "first_dose", "facts", "key", "protocol_date", "target_date"), [
    ("the first dose is cycle 1 day 1 wherever it falls", D(2026, 6, 6), [], "dose:C1D1", D(2026, 6, 6), D(2026, 6, 6)),
    ("a Saturday day 8 moves to Friday", D(2026, 6, 6), [], "dose:C1D8", D(2026, 6, 13), D(2026, 6, 12)),
    ("cycle 2 runs from the protocol day 1, not the shifted one", D(2026, 6, 6), [], "dose:C2D1",
     D(2026, 6, 27), D(2026, 6, 26)),
    ("once recorded, the actual date anchors the clock", D(2026, 6, 6),
     [EventFact("dose:C1D1", "completed", D(2026, 6, 5), target_date=D(2026, 6, 5))], "dose:C2D1",
     D(2026, 6, 26), D(2026, 6, 26)),
    ("a Sunday day 8 moves to Monday (Saturday is closed too)", D(2026, 6, 7), [], "dose:C1D8",
     D(2026, 6, 14), D(2026, 6, 15)),
    ("GB Christmas Day (Fri): day 1 moves to Thu 24 Dec", D(2026, 12, 25) - days(168), [], "dose:C9D1",
     D(2026, 12, 25), D(2026, 12, 24)),
    ("GB New Year's Day (Fri): day 8 moves to Thu 31 Dec", D(2026, 12, 25) - days(168), [], "dose:C9D8",
     D(2027, 1, 1), D(2026, 12, 31)),
    ("GB: the cycle after Christmas is not moved", D(2026, 12, 25) - days(168), [], "dose:C10D1",
     D(2027, 1, 15), D(2027, 1, 15)),
])
def test_weekend_and_gb_bank_holiday_shifts(rule, first_dose, facts, key, protocol_date, target_date):
    event = plan(inputs("INET-PAC", first_dose=first_dose), *facts)[key]
    assert (event.protocol_date, event.target_date) == (protocol_date, target_date), rule


def test_site_closure_with_no_open_day_in_window_is_flagged():
    closures = frozenset(D(2026, 6, 7) + days(n) for n in range(3))  # Sun 7 + Mon 8, Tue 9
    event = plan(inputs("INET-PAC", clinic=ClinicCalendar("GB", closures=closures)))["dose:C1D8"]
    assert (event.target_date, event.flags) == (D(2026, 6, 8), {"clinic_closed"})


def test_rescheduled_onto_a_closed_day_is_kept_and_flagged():
    event = plan(inputs("INET-PAC"), EventFact("dose:C1D8", rescheduled_to=D(2026, 6, 7)))["dose:C1D8"]
    assert (event.target_date, event.flags) == (D(2026, 6, 7), {"rescheduled", "clinic_closed"})


# -- properties over random regimens, first doses and day-1 outcomes ------------------------------

@settings(max_examples=50, deadline=None, database=None)
@given(regimen=regimens, first_dose=first_doses, country=countries)
def test_fresh_plans_keep_targets_in_windows_and_keys_unique(regimen, first_dose, country):
    events = plan_calendar(inputs(regimen, first_dose=first_dose, country=country, horizon_days=400), {})
    assert len({e.key for e in events}) == len(events)
    assert events == sorted(events, key=lambda e: (e.target_date, ["dose", "dosing_diary", "tumor_assessment",
                                                                    "symptom_survey"].index(e.kind)))
    check_windows_and_cycles(events, {}, regimen.cycle_length_days)
    clinic = ClinicCalendar(country)
    for event in events:
        first_dose_visit = event.key == "dose:C1D1"  # the first dose date itself, never moved
        if event.kind in ("dose", "tumor_assessment") and "clinic_closed" not in event.flags and not first_dose_visit:
            assert clinic.is_open(event.target_date), event.key


def test_progression_ends_the_imaging_clock_but_not_dosing_or_surveys():
    """Tumour assessments run until progression (RECIST 1.1 PD); dosing stops only at discontinuation."""
    plan_inputs = PlanInputs(regimen=builtin_regimens()["INET-PAC"], first_dose=date(2026, 1, 5),
                             clinic=ClinicCalendar("CN"), horizon_days=365, progression_on=date(2026, 4, 2))
    events = plan_calendar(plan_inputs, {})
    scans = [e.protocol_date for e in events if e.kind == "tumor_assessment"]
    assert scans == [date(2026, 2, 16), date(2026, 3, 30)]
    assert max(e.protocol_date for e in events if e.kind == "dose") > date(2026, 4, 2)
    assert max(e.protocol_date for e in events if e.kind == "symptom_survey") > date(2026, 4, 2)


def test_cycle_1_day_1_stays_on_the_first_dose_date_even_on_a_closed_day():
    """The first dose is day 1 of both clocks; a Saturday first dose is not moved to Friday."""
    saturday = date(2026, 1, 10)
    events = {e.key: e for e in plan_calendar(PlanInputs(regimen=builtin_regimens()["INET-PAC"], first_dose=saturday,
                                                          clinic=ClinicCalendar("CN"), horizon_days=60), {})}
    assert events["dose:C1D1"].target_date == saturday
    assert events["dose:C1D8"].protocol_date == date(2026, 1, 17)
