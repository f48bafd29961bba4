"""Site compliance tallies: scan visits, dosing visits and survey completion."""

from __future__ import annotations

from datetime import date

import pytest

from schedules.compliance import (
    DosingTally,
    DosingVisit,
    SurveyWindow,
    VisitTally,
    survey_completion,
    tally_dosing,
    visits_by_site,
)
from schedules.pfs_assessments import VisitStatus

DAY = date(2026, 2, 16)


def visit(number: int, status: str) -> VisitStatus:
    return VisitStatus(number, DAY, DAY, DAY, status)


def test_visits_are_tallied_per_site() -> None:
    patients = [
        ("S01", [visit(1, "done"), visit(2, "late"), visit(3, "open")]),
        ("S01", [visit(1, "ne_only"), visit(2, "missed")]),
        ("S02", [visit(1, "early"), visit(2, "upcoming")]),
    ]
    result = visits_by_site(patients)
    assert result["S01"] == VisitTally(done=1, late=1, open=1, ne_only=1, missed=1)
    assert result["S01"].due == 4
    assert result["S02"] == VisitTally(early=1, upcoming=1)


@pytest.mark.parametrize(
    ("dose", "category"),
    [
        pytest.param(DosingVisit(DAY, DAY, 3, "given", date(2026, 2, 19)), "on_time",
                     id="last-day-of-window-on-time"),
        pytest.param(DosingVisit(DAY, DAY, 3, "given", date(2026, 2, 20)), "delayed",
                     id="day-after-window-delayed"),
        pytest.param(DosingVisit(DAY, DAY, 3, "given", date(2026, 2, 12)), "early",
                     id="before-window-early"),
        pytest.param(DosingVisit(DAY, date(2026, 2, 23), 3, "given", date(2026, 2, 23)),
                     "on_time", id="on-time-against-protocol-date-after-accepted-delay"),
        pytest.param(DosingVisit(DAY, DAY, 3, "held"), "held", id="held"),
    ],
)
def test_dosing_visit_classification(dose: DosingVisit, category: str) -> None:
    assert tally_dosing([dose]) == DosingTally(**{category: 1})


def test_planned_doses_are_not_counted() -> None:
    assert tally_dosing([DosingVisit(DAY, DAY, 3, "planned")]) == DosingTally()


def test_given_dose_needs_a_date() -> None:
    with pytest.raises(ValueError):
        DosingVisit(DAY, DAY, 3, "given")


def test_survey_completion_counts_only_closed_windows() -> None:
    windows = [
        SurveyWindow(date(2026, 2, 1), date(2026, 2, 3), completed=True),
        SurveyWindow(date(2026, 2, 8), date(2026, 2, 10), completed=False),
        SurveyWindow(date(2026, 2, 15), date(2026, 2, 17), completed=True),  # closes on as_of
    ]
    result = survey_completion(windows, as_of=date(2026, 2, 17))
    assert (result.completed, result.expected, result.rate) == (1, 2, 0.5)
    assert survey_completion([], as_of=DAY).rate is None
