"""Per-site tallies for the study compliance report: scans, dosing and surveys.

Pure counting over data the caller has already derived (visit statuses from
``schedules.pfs_assessments.visit_statuses``, dosing and survey windows); never reads the clock.
Visit categories follow ``schedules.pfs_assessments``: ``ne_only`` is reported apart from ``missed``
because RECIST 1.1 NE scans were attended yet count as missed for PFS (FDA 2018 guidance,
PFS censoring table, row "Death or progression after more than one missed visit").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta

from schedules.pfs_assessments import DONE, EARLY, LATE, MISSED, NE_ONLY, OPEN, UPCOMING, VisitStatus


@dataclass(frozen=True)
class VisitTally:
    """Counts of scan visits by status; open and upcoming visits are not yet due."""

    done: int = 0
    early: int = 0
    late: int = 0
    missed: int = 0
    ne_only: int = 0
    open: int = 0
    upcoming: int = 0

    @property
    def due(self) -> int:
        """Visits whose window has closed or that were attended."""
        return self.done + self.early + self.late + self.missed + self.ne_only

    def __add__(self, other: VisitTally) -> VisitTally:
        return VisitTally(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(VisitTally))
        )


_VISIT_FIELDS = {DONE, EARLY, LATE, MISSED, NE_ONLY, OPEN, UPCOMING}


def tally_visits(visits: Iterable[VisitStatus]) -> VisitTally:
    counts = dict.fromkeys(_VISIT_FIELDS, 0)
    for visit in visits:
        counts[visit.status] += 1
    return VisitTally(**counts)


def visits_by_site(
    patients: Iterable[tuple[str, Iterable[VisitStatus]]],
) -> dict[str, VisitTally]:
    """``(site, visits of one patient)`` pairs -> one tally per site."""
    result: dict[str, VisitTally] = {}
    for site, visits in patients:
        result[site] = result.get(site, VisitTally()) + tally_visits(visits)
    return result


@dataclass(frozen=True)
class DosingVisit:
    """A dosing visit: ``protocol_date`` is when it was due (``target`` shifted by accepted
    delays), ``window_days`` the protocol's tolerance, ``status`` given | held | planned."""

    target: date
    protocol_date: date
    window_days: int
    status: str
    actual_date: date | None = None

    def __post_init__(self) -> None:
        if self.status not in {"given", "held", "planned"}:
            raise ValueError(f"unknown dosing status {self.status!r}")
        if self.status == "given" and self.actual_date is None:
            raise ValueError("a given dose needs its actual date")


@dataclass(frozen=True)
class DosingTally:
    """Doses given inside ± window of the protocol date, after it, before it, or held."""

    on_time: int = 0
    delayed: int = 0
    early: int = 0
    held: int = 0


def tally_dosing(visits: Iterable[DosingVisit]) -> DosingTally:
    """Planned doses are not counted: nothing has happened yet."""
    counts = {"on_time": 0, "delayed": 0, "early": 0, "held": 0}
    for visit in visits:
        if visit.status == "held":
            counts["held"] += 1
        elif visit.status == "given" and visit.actual_date is not None:
            window = timedelta(days=visit.window_days)
            if visit.actual_date > visit.protocol_date + window:
                counts["delayed"] += 1
            elif visit.actual_date < visit.protocol_date - window:
                counts["early"] += 1
            else:
                counts["on_time"] += 1
    return DosingTally(**counts)


@dataclass(frozen=True)
class SurveyWindow:
    """One expected ePRO survey: its window and whether the patient completed it in it."""

    opens: date
    closes: date
    completed: bool


@dataclass(frozen=True)
class SurveyCompletion:
    completed: int
    expected: int

    @property
    def rate(self) -> float | None:
        """completed ÷ expected; ``None`` while nothing is due yet."""
        return self.completed / self.expected if self.expected else None


def survey_completion(windows: Iterable[SurveyWindow], as_of: date) -> SurveyCompletion:
    """Only windows closed by ``as_of`` (``closes < as_of``) are expected, so a survey still
    open is neither a failure nor a success yet."""
    due = [w for w in windows if w.closes < as_of]
    return SurveyCompletion(sum(w.completed for w in due), len(due))
