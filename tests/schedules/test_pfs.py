"""PFS censoring (FDA 2018 table) and the early warning, as scenario tables that read like the protocol.

The calendar used throughout is tests/schedules/pfs_histories.py's; the visits' own rules are
specified in test_pfs_assessments.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.pfs import Outcome, PfsResult, derive_pfs
from schedules.pfs_assessments import Assessment, AssessmentPlan, ScheduledAssessment, scheduled_assessments
from tests.schedules.pfs_histories import BASELINE, FIRST_DOSE, d, scan

def outcome(kind: str, month_day: str) -> Outcome:
    return Outcome(kind, d(month_day))


def evaluate(
    scans: list[Assessment],
    outcomes: Sequence[Outcome] = (),
    as_of: str = "06-30",
    rule: str = "visits",
    baseline: bool = True,
) -> PfsResult:
    """Run a patient history against a schedule reaching one interval past ``as_of``."""
    until = d(as_of) + timedelta(days=42)
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, until)
    history = [BASELINE, *scans] if baseline else list(scans)
    return derive_pfs(FIRST_DOSE, schedule, history, list(outcomes), d(as_of), missed_rule=rule)


def statuses(result: PfsResult) -> str:
    return " ".join(visit.status for visit in result.visits)


# Each row: history -> (status, date, days, cnsr, reason, visit statuses).
SCENARIOS = [
    pytest.param(
        [scan("02-16"), scan("04-06", "PD")], [], "06-30", "visits",
        ("event", "04-06", 92, 0, "progression", "done done"),
        id="progression-on-last-day-of-window-is-done-visit",
    ),
    pytest.param(
        [scan("02-16")], [outcome("death", "05-18")], "06-30", "visits",
        ("event", "05-18", 134, 0, "death", "done missed open"),
        id="death-on-last-day-of-third-window-one-missed-is-event",
    ),
    pytest.param(
        [scan("02-16")], [outcome("death", "05-19")], "06-30", "visits",
        ("censored", "02-16", 43, 5, "missed_assessments", "done missed missed"),
        id="death-day-after-third-window-closes-two-missed-censored",
    ),
    pytest.param(
        [scan("02-16"), scan("05-19", "PD")], [], "06-30", "visits",
        ("censored", "02-16", 43, 5, "missed_assessments", "done missed late"),
        id="pd-the-day-after-the-third-window-closed-follows-two-missed-windows-censored",
    ),
    pytest.param(
        [scan("02-23"), scan("06-20", "PD")], [], "06-30", "visits",
        ("censored", "02-23", 50, 5, "missed_assessments", "done missed missed done"),
        id="late-in-window-then-two-missed-then-pd-censored-at-last-adequate",
    ),
    pytest.param(
        [scan("02-16"), scan("05-18", "PD")], [], "06-30", "gap",
        ("event", "05-18", 134, 0, "progression", "done missed done"),
        id="gap-rule-event-exactly-2x-interval-plus-window-after-L-is-event",
    ),
    pytest.param(
        [scan("02-16"), scan("05-19", "PD")], [], "06-30", "gap",
        ("censored", "02-16", 43, 5, "missed_assessments", "done missed late"),
        id="gap-rule-one-day-more-is-censored",
    ),
    pytest.param(
        [], [outcome("death", "05-20")], "06-30", "gap",
        ("censored", "01-05", 1, 5, "missed_assessments", "missed missed missed"),
        id="gap-rule-no-adequate-scan-L-is-first-dose",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "NE"), scan("05-11", "NE"), scan("06-22", "PD")], [],
        "06-30", "visits",
        ("censored", "02-16", 43, 5, "missed_assessments", "done ne_only ne_only done"),
        id="ne-only-visits-count-as-missed",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "NE"), scan("05-11", "PD")], [], "06-30", "visits",
        ("event", "05-11", 127, 0, "progression", "done ne_only done"),
        id="one-ne-visit-then-pd-is-event",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30")], [outcome("new_anticancer_therapy", "03-30")],
        "06-30", "visits",
        ("censored", "02-16", 43, 4, "new_anticancer_therapy", "done done"),
        id="therapy-same-day-as-scan-scan-not-before-therapy",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "PD")], [outcome("new_anticancer_therapy", "03-30")],
        "06-30", "visits",
        ("event", "03-30", 85, 0, "progression", "done done"),
        id="progression-same-day-as-therapy-is-event",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "PD")], [outcome("new_anticancer_therapy", "03-29")],
        "06-30", "visits",
        ("censored", "02-16", 43, 4, "new_anticancer_therapy", "done open"),
        id="therapy-day-before-progression-censored",
    ),
    pytest.param(
        [], [outcome("new_anticancer_therapy", "02-01")], "06-30", "visits",
        ("censored", "01-05", 1, 4, "new_anticancer_therapy", ""),
        id="therapy-before-any-scan-censored-at-first-dose",
    ),
    pytest.param(
        [scan("02-16")],
        [outcome("new_anticancer_therapy", "03-01"), outcome("death", "03-10")],
        "06-30", "visits",
        ("censored", "02-16", 43, 4, "new_anticancer_therapy", "done"),
        id="therapy-before-death-censored",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "PD")], [], "06-30", "visits",
        ("censored", "01-05", 1, 2, "no_baseline", "done done"),
        id="no-baseline-censored-at-first-dose",
    ),
    pytest.param(
        [scan("02-16")], [outcome("death", "03-10")], "06-30", "visits",
        ("event", "03-10", 65, 0, "death", "done"),
        id="death-between-adequate-assessments-is-event",
    ),
    pytest.param(
        [], [outcome("death", "02-01")], "06-30", "visits",
        ("event", "02-01", 28, 0, "death", ""),
        id="death-before-first-assessment-is-event",
    ),
    pytest.param(
        [], [outcome("death", "05-20")], "06-30", "visits",
        ("censored", "01-05", 1, 5, "missed_assessments", "missed missed missed"),
        id="death-after-missed-visits-no-scan-censored-at-first-dose",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "PD", new_lesion_date=d("03-20"),
                             scan_dates=(d("03-25"), d("03-30")))],
        [], "06-30", "visits",
        ("event", "03-20", 75, 0, "progression", "done done"),
        id="new-lesion-dates-progression-before-the-assessment",
    ),
    pytest.param(
        [scan("02-16"), scan("04-02", "PD", scan_dates=(d("03-26"), d("03-28")))],
        [], "06-30", "visits",
        ("event", "03-28", 83, 0, "progression", "done done"),
        id="measured-progression-dated-by-last-scan",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30"), scan("05-11")], [outcome("follow_up_ended", "04-15")],
        "06-30", "visits",
        ("censored", "03-30", 85, 6, "follow_up_ended", "done done"),
        id="follow-up-ended-censored-at-last-adequate-later-scans-ignored",
    ),
    pytest.param(
        [scan("02-16")], [outcome("follow_up_ended", "04-15"), outcome("death", "04-20")],
        "06-30", "visits",
        ("censored", "02-16", 43, 6, "follow_up_ended", "done missed"),
        id="death-after-follow-up-ended-not-an-event",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30"), scan("05-11", "PD")],
        [outcome("treatment_discontinued", "03-01")], "06-30", "visits",
        ("event", "05-11", 127, 0, "progression", "done done done"),
        id="treatment-discontinued-does-not-stop-follow-up",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30"), scan("05-11")], [], "05-20", "visits",
        ("censored", "05-11", 127, 1, "ongoing", "done done done upcoming"),
        id="no-progression-ongoing-censored-at-last-adequate",
    ),
    pytest.param(
        [], [], "02-20", "visits",
        ("censored", "01-05", 1, 1, "ongoing", "open upcoming"),
        id="no-post-baseline-scan-ongoing-at-first-dose",
    ),
    pytest.param(
        [scan("02-26"), scan("05-11", "PD")], [], "06-30", "visits",
        ("event", "05-11", 127, 0, "progression", "late missed done"),
        id="late-gap-scan-is-L-one-missed-then-pd-is-event",
    ),
    pytest.param(
        [scan("03-02")], [], "03-10", "visits",
        ("censored", "03-02", 57, 1, "ongoing", "late upcoming"),
        id="dose-delay-irrelevant-calendar-from-first-dose",
    ),
    pytest.param(
        [scan("02-16"), scan("06-16"), scan("08-03", "PD")], [], "08-20", "visits",
        ("event", "08-03", 211, 0, "progression", "done missed missed done done"),
        id="adequate-scan-after-two-misses-resets-L",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "PD"), scan("05-11", "SD")],
        [outcome("death", "05-12")], "06-30", "visits",
        ("event", "03-30", 85, 0, "progression", "done done"),
        id="assessments-and-death-after-progression-ignored",
    ),
    pytest.param(
        [scan("02-16"), scan("03-30", "PD")], [outcome("death", "03-30")], "06-30", "visits",
        ("event", "03-30", 85, 0, "progression", "done done"),
        id="progression-and-death-same-day-reported-as-progression",
    ),
    pytest.param(
        [scan("02-16"), scan("07-01", "PD")], [outcome("death", "07-02")], "06-30", "visits",
        ("censored", "02-16", 43, 1, "ongoing", "done missed missed missed upcoming"),
        id="data-after-as-of-ignored",
    ),
]


@pytest.mark.parametrize(("scans", "outcomes", "as_of", "rule", "expected"), SCENARIOS)
def test_pfs_scenarios(
    scans: list[Assessment],
    outcomes: list[Outcome],
    as_of: str,
    rule: str,
    expected: tuple[str, str, int, int, str, str],
) -> None:
    status, when, days, cnsr, reason, visits = expected
    baseline = reason != "no_baseline"
    result = evaluate(scans, outcomes, as_of, rule, baseline=baseline)
    assert (result.status, result.date, result.days, result.cnsr, result.reason) == (
        status, d(when), days, cnsr, reason,
    )
    assert statuses(result) == visits
    assert result.days == (result.date - FIRST_DOSE).days + 1


# Early warning: after L, one missed visit puts the patient at risk until the next window
# closes; a second miss means an event now would be censored; an adequate scan resets L.
WARNINGS = [
    pytest.param([scan("02-16")], "04-06", "visits", (0, False, None),
                 id="window-open-on-its-last-day-not-yet-missed"),
    pytest.param([scan("02-16")], "04-07", "visits", (1, True, "05-18"),
                 id="one-missed-protect-by-end-of-next-window"),
    pytest.param([scan("02-16"), scan("03-30", "NE")], "04-10", "visits", (1, True, "05-18"),
                 id="ne-only-visit-counts-as-the-miss"),
    pytest.param([scan("02-16")], "05-19", "visits", (2, True, None),
                 id="two-missed-damage-done-no-deadline"),
    pytest.param([scan("02-16"), scan("05-01")], "05-05", "visits", (0, False, None),
                 id="adequate-early-scan-clears-the-risk"),
    pytest.param([scan("02-16")], "04-10", "gap", (1, True, "05-18"),
                 id="gap-rule-deadline-is-L-plus-2x-interval-plus-window"),
    pytest.param([scan("02-16")], "05-19", "gap", (2, True, None),
                 id="gap-rule-past-deadline-no-deadline"),
    pytest.param([], "03-01", "visits", (1, True, "04-06"),
                 id="no-scan-yet-L-is-first-dose"),
]


@pytest.mark.parametrize(("scans", "as_of", "rule", "expected"), WARNINGS)
def test_early_warning(
    scans: list[Assessment], as_of: str, rule: str, expected: tuple[int, bool, str | None]
) -> None:
    missed, at_risk, deadline = expected
    result = evaluate(scans, [], as_of, rule)
    assert result.reason == "ongoing"
    assert (result.consecutive_missed, result.at_risk, result.protect_deadline) == (
        missed, at_risk, d(deadline) if deadline else None,
    )


@pytest.mark.parametrize(
    ("scans", "outcomes"),
    [
        pytest.param([scan("02-16"), scan("05-19", "PD")], [], id="event"),
        pytest.param([scan("02-16")], [outcome("death", "06-01")], id="missed-censoring"),
        pytest.param([scan("02-16")], [outcome("follow_up_ended", "05-01")], id="follow-up-ended"),
        pytest.param([scan("02-16")], [outcome("new_anticancer_therapy", "05-01")],
                     id="new-therapy"),
    ],
)
def test_final_status_is_never_at_risk(scans: list[Assessment], outcomes: list[Outcome]) -> None:
    result = evaluate(scans, outcomes, "06-30")
    assert result.at_risk is False
    assert result.protect_deadline is None


def test_missed_count_reported_with_censoring() -> None:
    result = evaluate([scan("02-23"), scan("06-20", "PD")])
    assert result.consecutive_missed == 2
    assert result.last_adequate_assessment == d("02-23")


def test_protect_deadline_when_schedule_stops_at_as_of() -> None:
    """A schedule built only up to as_of is extended by one interval for the deadline."""
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, d("04-10"))
    result = derive_pfs(FIRST_DOSE, schedule, [BASELINE, scan("02-16")], [], d("04-10"))
    assert [v.number for v in result.visits] == [1, 2]
    assert result.protect_deadline == d("05-18")


def test_to_dict_has_exactly_the_contract_keys() -> None:
    body = evaluate([scan("02-16")], [], "04-10").to_dict()
    assert set(body) == {
        "status", "date", "days", "cnsr", "reason", "last_adequate_assessment",
        "consecutive_missed", "at_risk", "protect_deadline", "visits",
    }
    assert body["visits"][0] == {
        "number": 1, "target_date": d("02-16"), "window_start": d("02-09"),
        "window_end": d("02-23"), "status": "done",
    }
    assert body["date"] == d("02-16") and body["protect_deadline"] == d("05-18")


def test_last_adequate_assessment_none_without_post_baseline_scan() -> None:
    assert evaluate([], [], "03-01").last_adequate_assessment is None


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Assessment(d("02-16"), "MAYBE"), id="unknown-response"),
        pytest.param(lambda: Outcome("lost", d("02-16")), id="unknown-outcome"),
        pytest.param(lambda: evaluate([], [], "03-01", rule="weeks"), id="unknown-rule"),
        pytest.param(lambda: ScheduledAssessment(1, d("02-16"), d("02-17"), d("02-23")),
                     id="target-outside-window"),
        pytest.param(lambda: AssessmentPlan(0, 7), id="zero-interval"),
    ],
)
def test_invalid_input_is_rejected(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


RESPONSES = st.sampled_from(["CR", "PR", "SD", "NON_CR_NON_PD", "PD", "NE", None])
DAYS = st.integers(min_value=1, max_value=300)


@settings(max_examples=150, deadline=None)
@given(
    scans=st.lists(st.tuples(DAYS, RESPONSES), max_size=6),
    events=st.lists(
        st.tuples(st.sampled_from(["death", "new_anticancer_therapy", "follow_up_ended",
                                   "treatment_discontinued"]), DAYS),
        max_size=3,
    ),
    as_of=DAYS,
    rule=st.sampled_from(["visits", "gap"]),
)
def test_result_is_consistent_for_any_history(
    scans: list[tuple[int, str | None]],
    events: list[tuple[str, int]],
    as_of: int,
    rule: str,
) -> None:
    history = [BASELINE] + [
        Assessment(FIRST_DOSE + timedelta(days=n), response) for n, response in scans
    ]
    outcomes = [Outcome(kind, FIRST_DOSE + timedelta(days=n)) for kind, n in events]
    today = FIRST_DOSE + timedelta(days=as_of)
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, today + timedelta(days=42))
    result = derive_pfs(FIRST_DOSE, schedule, history, outcomes, today, missed_rule=rule)
    assert FIRST_DOSE <= result.date <= today
    assert result.days == (result.date - FIRST_DOSE).days + 1
    assert (result.status == "event") == (result.cnsr == 0)
    if result.at_risk is False:
        assert result.protect_deadline is None
    if result.reason != "ongoing":
        assert result.at_risk is False
    if result.status == "censored" and result.reason != "no_baseline":
        assert result.date == (result.last_adequate_assessment or FIRST_DOSE)


def test_the_protect_deadline_follows_the_phases_when_the_schedule_given_stops_at_the_miss() -> None:
    """Every 42 days until day 336, then every 84: after a miss at day 420 the next window ends day 511."""
    phases = ((336, 42), (None, 84))
    first = FIRST_DOSE
    schedule = AssessmentPlan(42, 7, phases).visits(first, first + timedelta(days=440))
    assessments = [Assessment(first - timedelta(days=7), baseline=True),
                   Assessment(first + timedelta(days=336), "SD")]
    result = derive_pfs(first, schedule, assessments, [], first + timedelta(days=440), phases=phases)
    assert (result.at_risk, result.protect_deadline) == (True, first + timedelta(days=511))


@pytest.mark.parametrize("rule", ["visits", "gap"])
def test_the_early_warning_is_the_same_under_both_missed_rules(rule) -> None:
    """One miss after L: at risk until the last day of the next scheduled window, whatever the rule."""
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, FIRST_DOSE + timedelta(days=200))
    assessments = [Assessment(FIRST_DOSE - timedelta(days=7), baseline=True),
                   Assessment(FIRST_DOSE + timedelta(days=50), "SD")]
    result = derive_pfs(FIRST_DOSE, schedule, assessments, [], FIRST_DOSE + timedelta(days=100), missed_rule=rule)
    assert (result.at_risk, result.protect_deadline) == (True, FIRST_DOSE + timedelta(days=133))
