"""Tumour-assessment visits (RECIST 1.1 scans on the protocol's schedule): the visits the schedule lists,
and each visit's status on an evaluation date, early and late scans between windows included."""
from __future__ import annotations

import pytest

from schedules.pfs_assessments import (
    Assessment,
    AssessmentPlan,
    ScheduledAssessment,
    scheduled_assessments,
    visit_statuses,
)
from tests.schedules.pfs_histories import BASELINE, FIRST_DOSE, d, scan

# Visit statuses on an evaluation date, including early/late attribution in the gaps.
VISITS = [
    pytest.param([scan("02-09")], "04-30", "done missed",
                 id="first-day-of-window-is-inside"),
    pytest.param([scan("02-26")], "04-30", "late missed", id="gap-nearer-previous-is-late"),
    pytest.param([scan("03-18")], "04-30", "missed early",
                 id="gap-nearer-next-is-early"),
    pytest.param([scan("03-09")], "04-30", "late missed", id="gap-midpoint-tie-goes-to-earlier"),
    pytest.param([scan("03-10")], "04-30", "missed early", id="gap-day-after-midpoint-is-early"),
    pytest.param([scan("02-01")], "04-30", "early missed", id="before-first-window-is-early"),
    pytest.param([scan("02-16"), scan("02-26")], "04-30", "done missed",
                 id="extra-gap-scan-on-done-visit-keeps-done"),
    pytest.param([scan("02-26", "NE")], "04-30", "missed missed", id="ne-in-gap-attends-nothing"),
    pytest.param([scan("05-01")], "05-02", "missed late",
                 id="after-last-listed-window-attends-last-visit-late"),
    pytest.param([scan("02-20", "NE")], "04-30", "ne_only missed", id="ne-in-window-is-ne-only"),
    pytest.param([scan("02-20", None)], "04-30", "ne_only missed",
                 id="no-response-in-window-is-ne-only"),
    pytest.param([scan("02-20", "NE")], "02-23", "open upcoming",
                 id="ne-in-still-open-window-is-open"),
    pytest.param([], "02-23", "open upcoming", id="window-containing-evaluation-date-is-open"),
    pytest.param([], "02-24", "missed upcoming", id="window-closed-before-evaluation-date"),
    pytest.param([scan("03-10")], "03-15", "missed early",
                 id="early-scan-attends-visit-before-window-opens"),
    pytest.param([scan("05-03")], "05-02", "missed missed",
                 id="scan-after-evaluation-date-ignored"),
]


@pytest.mark.parametrize(("scans", "evaluation_date", "expected"), VISITS)
def test_visit_statuses(scans: list[Assessment], evaluation_date: str, expected: str) -> None:
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, d("03-23"))
    result = visit_statuses(schedule, [BASELINE, *scans], d(evaluation_date))
    assert " ".join(v.status for v in result) == expected


def test_scheduled_assessments_follow_first_dose() -> None:
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, d("05-04"))
    assert schedule == (
        ScheduledAssessment(1, d("02-16"), d("02-09"), d("02-23")),
        ScheduledAssessment(2, d("03-30"), d("03-23"), d("04-06")),
        ScheduledAssessment(3, d("05-11"), d("05-04"), d("05-18")),
    )
    assert len(scheduled_assessments(FIRST_DOSE, 42, 7, d("05-03"))) == 2


def test_scheduled_assessments_phases() -> None:
    """q6w while the target is within day 84 after the first dose, then q12w (the calendar's phases)."""
    schedule = scheduled_assessments(FIRST_DOSE, 84, 7, d("12-31"), phases=((84, 42), (None, 84)))
    offsets = [(v.target_date - FIRST_DOSE).days for v in schedule]
    assert offsets[:4] == [42, 84, 168, 252]
    assert AssessmentPlan(84, 7, ((84, 42), (None, 84))).visits(FIRST_DOSE, d("12-31")) == schedule
    # A last phase with a limit ends imaging, as on the calendar.
    assert len(AssessmentPlan(84, 7, ((84, 42),)).visits(FIRST_DOSE, d("12-31"))) == 2
