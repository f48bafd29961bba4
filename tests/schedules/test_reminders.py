"""Reminder planning (schedules/reminders.py): the default policy, quiet hours and time zones."""
from datetime import date, datetime, time, timezone

import pytest

from schedules.reminders import PolicyError, local_to_utc, parse_policy, plan_event

DEFAULT = parse_policy({})


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def planned(kind, target, policy=DEFAULT, zone="Asia/Shanghai", window_end=None):
    return {p.rule.name: p for p in plan_event(kind, target, window_end or target, policy, zone)}


def test_the_default_policy_by_event_kind():
    """Issue: dose the evening before 18:00 and the morning of 07:30; assessment 3 days and 1 day before
    at 18:00; survey when it opens 09:00, a nudge a day later, a staff call task after 3 days; diary none."""
    day = date(2026, 6, 10)
    table = {
        kind: {name: (p.local, p.rule.audience) for name, p in planned(kind, day, window_end=date(2026, 6, 14)).items()}
        for kind in ("dose", "tumor_assessment", "symptom_survey", "dosing_diary")
    }
    assert table == {
        "dose": {"dose.evening_before": (datetime(2026, 6, 9, 18, 0), "patient"),
                 "dose.morning_of": (datetime(2026, 6, 10, 7, 30), "patient")},
        "tumor_assessment": {"assessment.days_before": (datetime(2026, 6, 7, 18, 0), "patient"),
                             "assessment.day_before": (datetime(2026, 6, 9, 18, 0), "patient")},
        "symptom_survey": {"survey.open": (datetime(2026, 6, 10, 9, 0), "patient"),
                           "survey.nudge": (datetime(2026, 6, 11, 9, 0), "patient"),
                           "survey.call_patient": (datetime(2026, 6, 13, 9, 0), "staff")},
        "dosing_diary": {},
    }


# zone, dosing date, morning-of 07:30 in UTC, evening-before 18:00 (the day before) in UTC
DST_TABLE = [
    pytest.param("Europe/London", date(2026, 3, 28), utc(2026, 3, 28, 7, 30), utc(2026, 3, 27, 18, 0), id="london-before-spring"),
    pytest.param("Europe/London", date(2026, 3, 29), utc(2026, 3, 29, 6, 30), utc(2026, 3, 28, 18, 0), id="london-spring-day"),
    pytest.param("Europe/London", date(2026, 3, 30), utc(2026, 3, 30, 6, 30), utc(2026, 3, 29, 17, 0), id="london-after-spring"),
    pytest.param("Europe/London", date(2026, 10, 25), utc(2026, 10, 25, 7, 30), utc(2026, 10, 24, 17, 0), id="london-autumn-day"),
    pytest.param("Europe/London", date(2026, 10, 26), utc(2026, 10, 26, 7, 30), utc(2026, 10, 25, 18, 0), id="london-after-autumn"),
    pytest.param("America/New_York", date(2026, 3, 7), utc(2026, 3, 7, 12, 30), utc(2026, 3, 6, 23, 0), id="new-york-before-spring"),
    pytest.param("America/New_York", date(2026, 3, 8), utc(2026, 3, 8, 11, 30), utc(2026, 3, 7, 23, 0), id="new-york-spring-day"),
    pytest.param("America/New_York", date(2026, 3, 9), utc(2026, 3, 9, 11, 30), utc(2026, 3, 8, 22, 0), id="new-york-after-spring"),
    pytest.param("America/New_York", date(2026, 11, 1), utc(2026, 11, 1, 12, 30), utc(2026, 10, 31, 22, 0), id="new-york-autumn-day"),
    pytest.param("America/New_York", date(2026, 11, 2), utc(2026, 11, 2, 12, 30), utc(2026, 11, 1, 23, 0), id="new-york-after-autumn"),
    pytest.param("Asia/Shanghai", date(2026, 3, 8), utc(2026, 3, 7, 23, 30), utc(2026, 3, 7, 10, 0), id="shanghai-no-dst"),
    pytest.param("Asia/Shanghai", date(2026, 11, 1), utc(2026, 10, 31, 23, 30), utc(2026, 10, 31, 10, 0), id="shanghai-no-dst-autumn"),
]


@pytest.mark.parametrize("zone, day, morning_utc, evening_utc", DST_TABLE)
def test_wall_clock_times_stay_put_across_dst(zone, day, morning_utc, evening_utc):
    """07:30 stays 07:30 local (and 18:00 stays 18:00) whatever the UTC offset that day."""
    plans = planned("dose", day, zone=zone)
    assert plans["dose.morning_of"].send_at == morning_utc
    assert plans["dose.evening_before"].send_at == evening_utc
    assert plans["dose.morning_of"].send_at.tzinfo == timezone.utc


@pytest.mark.parametrize("zone, local, expected", [
    pytest.param("America/New_York", datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7, 30), id="gap-new-york-resolves-forward-to-03:30-EDT"),
    pytest.param("Europe/London", datetime(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 30), id="gap-london-resolves-forward-to-02:30-BST"),
    pytest.param("America/New_York", datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30), id="repeat-new-york-first-occurrence-EDT"),
    pytest.param("Europe/London", datetime(2026, 10, 25, 1, 30), utc(2026, 10, 25, 0, 30), id="repeat-london-first-occurrence-BST"),
    pytest.param("Asia/Shanghai", datetime(2026, 3, 8, 2, 30), utc(2026, 3, 7, 18, 30), id="shanghai-plain"),
])
def test_nonexistent_and_repeated_local_times(zone, local, expected):
    """fold=0: a time in the spring gap lands forward by the gap; a repeated time is its first occurrence."""
    assert local_to_utc(local, zone) == expected


def test_a_rule_planned_inside_the_spring_gap_is_sent_just_after_it():
    policy = parse_policy({"quiet_hours": None, "rules": {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "02:30"}]}})
    (plan,) = plan_event("dose", date(2026, 3, 8), date(2026, 3, 8), policy, "America/New_York")
    assert plan.send_at == utc(2026, 3, 8, 7, 30)


def _policy(rules, **extra):
    return parse_policy({"rules": rules, **extra})


@pytest.mark.parametrize("kind, rules, extra, window_end, expected_local, moved", [
    pytest.param("dose", {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "07:30"}]}, {}, None,
                 datetime(2026, 6, 10, 8, 0), "quiet_hours_end", id="in-quiet-hours-moves-to-their-end"),
    pytest.param("dose", {"dose": [{"rule": "dose.evening_before", "day": -1, "at": "22:30"}]}, {}, None,
                 datetime(2026, 6, 10, 8, 0), "quiet_hours_end", id="late-evening-moves-to-next-morning-if-before-visit"),
    pytest.param("dose", {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "06:00"}]},
                 {"visit_time": {"dose": "07:00"}}, None,
                 datetime(2026, 6, 9, 21, 0), "quiet_hours_start", id="end-after-the-visit-moves-to-the-evening-before"),
    pytest.param("dose", {"dose": [{"rule": "dose.evening_before", "day": -1, "at": "23:30"}]},
                 {"visit_time": {"dose": "07:45"}}, None,
                 datetime(2026, 6, 9, 21, 0), "quiet_hours_start", id="late-evening-moves-back-when-morning-is-too-late"),
    pytest.param("dose", {"dose": [{"rule": "dose.evening_before", "day": -1, "at": "21:00"}]}, {}, None,
                 datetime(2026, 6, 9, 21, 0), None, id="the-start-of-quiet-hours-is-allowed"),
    pytest.param("dose", {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "08:00"}]}, {}, None,
                 datetime(2026, 6, 10, 8, 0), None, id="the-end-of-quiet-hours-is-allowed"),
    pytest.param("dose", {"dose": [{"rule": "dose.evening_before", "day": -1, "at": "21:01"}]}, {}, None,
                 datetime(2026, 6, 10, 8, 0), "quiet_hours_end", id="a-minute-into-quiet-hours-moves"),
    pytest.param("dose", {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "07:30", "quiet_hours": False}]}, {}, None,
                 datetime(2026, 6, 10, 7, 30), None, id="an-exempt-rule-is-not-moved"),
    pytest.param("symptom_survey", {"symptom_survey": [{"rule": "survey.nudge", "day": 1, "at": "23:00"}]}, {},
                 date(2026, 6, 13), datetime(2026, 6, 12, 8, 0), "quiet_hours_end", id="survey-nudge-moves-to-morning-within-window"),
    pytest.param("symptom_survey", {"symptom_survey": [{"rule": "survey.nudge", "day": 1, "at": "23:00"}]}, {},
                 date(2026, 6, 11), datetime(2026, 6, 11, 21, 0), "quiet_hours_start", id="survey-nudge-stays-before-the-due-day-ends"),
    pytest.param("symptom_survey", {"symptom_survey": [{"rule": "survey.call_patient", "day": 3, "at": "23:00"}]}, {},
                 date(2026, 6, 14), datetime(2026, 6, 13, 23, 0), None, id="staff-tasks-ignore-quiet-hours"),
    pytest.param("dose", {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "07:30"}]}, {"quiet_hours": None}, None,
                 datetime(2026, 6, 10, 7, 30), None, id="a-study-without-quiet-hours"),
    pytest.param("dose", {"dose": [{"rule": "dose.evening_before", "day": -1, "at": "12:30"}]},
                 {"quiet_hours": "12:00-14:00"}, None, datetime(2026, 6, 9, 14, 0), "quiet_hours_end",
                 id="a-daytime-window-works-too"),
])
def test_quiet_hours(kind, rules, extra, window_end, expected_local, moved):
    (plan,) = plan_event(kind, date(2026, 6, 10), window_end or date(2026, 6, 10), _policy(rules, **extra), "Asia/Shanghai")
    assert (plan.local, plan.moved) == (expected_local, moved)


def test_the_default_morning_reminder_is_exempt_from_quiet_hours_and_stays_at_0730():
    plans = planned("dose", date(2026, 6, 10))
    assert plans["dose.morning_of"].local == datetime(2026, 6, 10, 7, 30)
    assert plans["dose.morning_of"].moved is None


def test_the_quiet_hours_setting_replaces_the_default_window():
    rules = {"dose": [{"rule": "dose.evening_before", "day": -1, "at": "21:30"}]}
    default_window = plan_event("dose", date(2026, 6, 10), None, parse_policy({"rules": rules}), "UTC")[0]
    later_window = plan_event("dose", date(2026, 6, 10), None,
                              parse_policy({"rules": rules}, default_quiet_hours="22:00-07:00"), "UTC")[0]
    assert default_window.moved == "quiet_hours_end"
    assert later_window.local == datetime(2026, 6, 9, 21, 30) and later_window.moved is None


@pytest.mark.parametrize("settings, field", [
    pytest.param({"rules": {"dose": [{"rule": "survey.open", "day": 0, "at": "09:00"}]}}, "reminder_policy.rules.dose", id="rule-of-another-kind"),
    pytest.param({"rules": {"dose": [{"rule": "dose.morning_of", "day": 0, "at": "25:00"}]}}, "reminder_policy.rules.dose.at", id="bad-time"),
    pytest.param({"rules": {"dose": [{"rule": "dose.morning_of", "day": "0", "at": "07:00"}]}}, "reminder_policy.rules.dose", id="day-not-a-number"),
    pytest.param({"rules": {"dose": [{"rule": "dose.morning_of", "day": 0}]}}, "reminder_policy.rules.dose", id="missing-time"),
    pytest.param({"rules": {"tumor_assessment": [{"rule": "assessment.days_before", "day": -1, "at": "18:00"}]}},
                 "reminder_policy.rules.tumor_assessment", id="days-before-needs-two-days"),
    pytest.param({"rules": {"visits": []}}, "reminder_policy.rules", id="unknown-kind"),
    pytest.param({"quiet_hours": "9pm to 8am"}, "reminder_policy.quiet_hours", id="bad-quiet-hours"),
    pytest.param({"visit_time": {"dose": "noon"}}, "reminder_policy.visit_time.dose", id="bad-visit-time"),
    pytest.param({"reminders": {}}, "reminder_policy", id="unknown-key"),
])
def test_a_bad_policy_names_its_field(settings, field):
    with pytest.raises(PolicyError) as caught:
        parse_policy(settings)
    assert caught.value.field == field


def test_a_study_can_switch_a_kind_off_or_on():
    policy = parse_policy({"rules": {"symptom_survey": [], "dosing_diary": []}})
    assert plan_event("symptom_survey", date(2026, 6, 10), date(2026, 6, 12), policy, "UTC") == []
    assert [p.rule.name for p in plan_event("dose", date(2026, 6, 10), None, policy, "UTC")] == [
        "dose.evening_before", "dose.morning_of"]
    assert DEFAULT.visit_times["dose"] == time(9, 0)
