"""Tumour assessments and their visits: the protocol's scan calendar and each visit's status.

`schedules.pfs` derives PFS from these; the compliance report and the worklist read them too, so
they stand on their own. Pure and clock-free, site-local clinical ``date``s. Sources: RECIST 1.1
(Eisenhauer et al., Eur J Cancer 2009;45:228-247) for overall responses and what makes an
assessment evaluable (NE is not); FDA Guidance for Industry
"Clinical Trial Endpoints for the Approval of Cancer Drugs and Biologics" (2018) for scanning
all arms on one schedule and for what counts as a missed visit in its PFS censoring table.

Interpretive choices (kept here so reviewers and the tests agree on them):

* A window closes at the end of its ``window_end`` day: it is *closed before* day D when
  ``window_end < D``, and a window containing the evaluation date is ``open``.
* Each adequate assessment belongs to exactly one visit. Inside a window it belongs to that
  visit (to the nearer target if windows overlap). Between two windows it belongs to the
  nearer target date; on a tie to the earlier visit (``late``). Before window 1 it belongs to
  visit 1 (``early``); after the last listed window to the last visit (``late``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from schedules.calendars import AssessmentSchedule

ADEQUATE_RESPONSES = frozenset({"CR", "PR", "SD", "NON_CR_NON_PD", "PD"})
"""RECIST 1.1 overall responses that make an assessment adequate (evaluable)."""

RESPONSES = ADEQUATE_RESPONSES | {"NE"}

DONE, EARLY, LATE = "done", "early", "late"
MISSED, NE_ONLY, OPEN, UPCOMING = "missed", "ne_only", "open", "upcoming"


@dataclass(frozen=True)
class ScheduledAssessment:
    """One protocol tumour-assessment visit: target date and its ± window (inclusive)."""

    number: int
    target_date: date
    window_start: date
    window_end: date

    def __post_init__(self) -> None:
        if not self.window_start <= self.target_date <= self.window_end:
            raise ValueError(f"visit {self.number}: target must lie inside its window")


@dataclass(frozen=True)
class AssessmentPlan:
    """The study's assessment calendar, counted from the first dose, never from dosing.

    Imaging follows the calendar from day 1 so both arms are scanned alike whatever the
    dose delays (FDA 2018, PFS discussion: assessments on the same schedule in all arms).
    The offsets, phases included, are exactly the calendar's (`schedules.calendars.AssessmentSchedule`),
    so the visits judged here are the visits the site was given.
    """

    interval_days: int = 42
    window_days: int = 7
    phases: tuple[tuple[int | None, int], ...] = ()

    def __post_init__(self) -> None:
        intervals = [self.interval_days, *(interval for _, interval in self.phases)]
        if any(interval <= 0 for interval in intervals) or self.window_days < 0:
            raise ValueError("intervals must be positive and the window not negative")

    def visits(self, first_dose: date, until: date) -> tuple[ScheduledAssessment, ...]:
        """Visits whose window opens on or before ``until``."""
        window = timedelta(days=self.window_days)
        return tuple(ScheduledAssessment(number, first_dose + offset, first_dose + offset - window,
                                         first_dose + offset + window)
                     for number, offset in enumerate(_offsets(self, (until - first_dose).days + self.window_days),
                                                     start=1))


@lru_cache(maxsize=4096)
def _offsets(plan: AssessmentPlan, last: int) -> tuple[timedelta, ...]:
    """The plan's visit offsets from the first dose, up to ``last`` days: the same for every patient of a
    study, so a study of a thousand patients computes them once per distinct follow-up length."""
    found = []
    for offset in AssessmentSchedule(plan.interval_days, plan.window_days, plan.phases).offsets():
        if offset > last:
            break
        found.append(timedelta(days=offset))
    return tuple(found)


def scheduled_assessments(
    first_dose: date,
    interval_days: int,
    window_days: int,
    until: date,
    phases: Sequence[tuple[int | None, int]] | None = None,
) -> tuple[ScheduledAssessment, ...]:
    """Visit k at ``first_dose + k x interval`` ± ``window_days``; windows opening by ``until``.

    The protocol calendar, not the dosing calendar: a dose delay never moves a scan.
    """
    plan = AssessmentPlan(interval_days, window_days, tuple(phases or ()))
    return plan.visits(first_dose, until)


@dataclass(frozen=True)
class Assessment:
    """A tumour assessment: the baseline scan, or a post-baseline RECIST 1.1 overall response."""

    date: date
    overall_response: str | None = None
    baseline: bool = False
    new_lesion_date: date | None = None
    scan_dates: tuple[date, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.overall_response is not None and self.overall_response not in RESPONSES:
            raise ValueError(f"unknown overall response {self.overall_response!r}")
        object.__setattr__(self, "scan_dates", tuple(self.scan_dates))

    @property
    def adequate(self) -> bool:
        """RECIST 1.1: every response but NE (or none recorded) is an evaluable assessment."""
        return not self.baseline and self.overall_response in ADEQUATE_RESPONSES

    @property
    def progression_date(self) -> date:
        """FDA 2018 table, row "Progression documented between scheduled visits".

        A new lesion dates progression at its first observation; otherwise the last scan of
        the measured lesions, or the assessment date when no scan dates were recorded.
        """
        if self.new_lesion_date is not None:
            return self.new_lesion_date
        return max(self.scan_dates, default=self.date)


@dataclass(frozen=True)
class VisitStatus:
    """A scheduled visit with its status on the evaluation date (contract ``visits`` item)."""

    number: int
    target_date: date
    window_start: date
    window_end: date
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "target_date": self.target_date,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "status": self.status,
        }


def visit_statuses(
    schedule: Sequence[ScheduledAssessment],
    assessments: Sequence[Assessment],
    evaluation_date: date,
) -> tuple[VisitStatus, ...]:
    """Status of each scheduled visit as known on ``evaluation_date``.

    An adequate scan outside every window still attends the nearer visit (early/late) so
    that an off-window scan is not counted as a missed visit (FDA 2018 table, row "Death or
    progression after more than one missed visit" counts visits without an adequate
    assessment). Baseline scans and scans after ``evaluation_date`` are ignored.
    """
    visits = sorted(schedule, key=lambda v: (v.target_date, v.number))
    known = sorted(
        (a for a in assessments if not a.baseline and a.date <= evaluation_date),
        key=lambda a: a.date,
    )
    in_window: dict[int, list[Assessment]] = {}
    off_window: dict[int, list[Assessment]] = {}
    for assessment in (a for a in known if a.adequate):
        index, inside = _attribute(visits, assessment.date)
        if index is not None:
            (in_window if inside else off_window).setdefault(index, []).append(assessment)

    result = []
    for index, visit in enumerate(visits):
        if index in in_window:
            status = DONE
        elif index in off_window:
            status = EARLY if off_window[index][0].date < visit.window_start else LATE
        elif visit.window_end < evaluation_date:
            inside = any(visit.window_start <= a.date <= visit.window_end for a in known)
            status = NE_ONLY if inside else MISSED
        elif visit.window_start > evaluation_date:
            status = UPCOMING
        else:
            status = OPEN
        result.append(
            VisitStatus(
                visit.number, visit.target_date, visit.window_start, visit.window_end, status
            )
        )
    return tuple(result)


def _attribute(visits: Sequence[ScheduledAssessment], day: date) -> tuple[int | None, bool]:
    """Index of the visit a scan on ``day`` belongs to, and whether it is inside its window.

    Nearest target wins; ties go to the earlier visit. One pass over the visits (sorted by target).
    """
    if not visits:
        return None, False
    best, best_distance = None, None
    previous = following = None
    for index, visit in enumerate(visits):
        if visit.window_start <= day <= visit.window_end:
            distance = abs((day - visit.target_date).days)
            if best_distance is None or distance < best_distance:
                best, best_distance = index, distance
        elif visit.window_end < day:
            previous = index
        elif following is None:  # visit.window_start > day
            following = index
    if best is not None:
        return best, True
    if previous is None:
        return following, False
    if following is None:
        return previous, False
    to_previous = (day - visits[previous].target_date).days
    to_following = (visits[following].target_date - day).days
    return (previous if to_previous <= to_following else following), False
