"""The vocabulary of a patient's calendar: planned events, recorded facts, the imaging and survey
schedules, and the inputs the clocks plan from.

These frozen values are shared by planning (`schedules.calendar_planning`), re-planning
(`schedules.calendar_replans`) and the services that store events. They sit in a module of their
own so that each of those can use them without the planning code, and so the rules that place
events (described in `schedules.calendar_planning`) read apart from the data they produce.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from schedules.clinics import ClinicCalendar
from schedules.regimens import Dose, DosingWindows, Regimen

__all__ = [
    "AgentDose",
    "AssessmentSchedule",
    "EventFact",
    "PlanInputs",
    "PlannedEvent",
    "SurveySchedule",
]

KINDS = ("dose", "dosing_diary", "tumor_assessment", "symptom_survey")
STATUSES = ("planned", "completed", "missed", "held", "cancelled")


_DAY_DELTAS = tuple(timedelta(days=n) for n in range(512))


def day_span(n: int) -> timedelta:
    """``timedelta(days=n)``, from a table for the small counts planning uses all the time."""
    return _DAY_DELTAS[n] if 0 <= n < 512 else timedelta(days=n)


@dataclass(frozen=True)
class AgentDose:
    name: str
    dose: Dose
    unit: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dose": self.dose, "unit": self.unit}


@dataclass(frozen=True)
class PlannedEvent:
    """One calendar entry as the clocks place it.

    ``key`` is the stable natural key: ``dose:C{cycle}D{day}``, ``diary:YYYY-MM-DD``,
    ``assessment:{k}``, ``survey:{n}``. Flags: ``loading``, ``reload``, ``rescheduled``,
    ``clinic_closed`` (on a closed day because no open day was left in the window),
    ``outside_window`` (rescheduled by staff, with ``force``, outside its window).
    """

    key: str
    kind: str
    cycle: int | None
    day: int | None
    label: str
    agents: tuple[AgentDose, ...]
    protocol_date: date
    target_date: date
    window_start: date
    window_end: date
    flags: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "cycle": self.cycle,
            "day": self.day,
            "label": self.label,
            "agents": [a.to_dict() for a in self.agents],
            "protocol_date": self.protocol_date.isoformat(),
            "target_date": self.target_date.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "flags": sorted(self.flags),
        }


@dataclass(frozen=True)
class EventFact:
    """What has been recorded about an event the calendar already holds.

    ``target_date`` is the stored target; it is kept as-is for recorded (non-planned) events.
    ``rescheduled_to`` is a staff reschedule of a planned visit: it replaces the target (no
    closure shift) while the window stays around the protocol date.
    """

    key: str
    status: str = "planned"
    actual_date: date | None = None
    rescheduled_to: date | None = None
    target_date: date | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"{self.key}: unknown status {self.status!r}")


@dataclass(frozen=True)
class AssessmentSchedule:
    """Tumour assessments at ``first_dose + offset``, offset growing by the phase's interval.

    ``phases`` (optional, replaces ``interval_days``) is ``((until_offset, interval), ...,
    (None, interval))``: offsets step by a phase's interval while the result stays ``<=
    until_offset``; the next phase then steps on from the last offset. Offsets count the first
    dose as 0, so ``((336, 42), (None, 84))`` gives 42, 84, ..., 336, then 420, 504, ...
    (every 6 weeks up to week 48, then every 12). A last phase with an ``until`` ends imaging.
    Window: protocol date ± ``window_days``.
    """

    interval_days: int = 42
    window_days: int = 7
    phases: tuple[tuple[int | None, int], ...] = ()

    def __post_init__(self) -> None:
        phases = tuple((None if u is None else int(u), int(i)) for u, i in self.phases)
        object.__setattr__(self, "phases", phases)
        steps = phases or ((None, self.interval_days),)
        previous = 0
        for n, (until, interval) in enumerate(steps):
            if interval < 1:
                raise ValueError("assessment intervals must be at least 1 day")
            if 2 * self.window_days >= interval:
                raise ValueError(f"a ±{self.window_days}-day window overlaps the next assessment "
                                 f"{interval} days later")
            if until is None and n != len(steps) - 1:
                raise ValueError("only the last assessment phase may be open-ended")
            if until is not None and until <= previous:
                raise ValueError("assessment phase limits must increase")
            previous = until if until is not None else previous
        if self.window_days < 0:
            raise ValueError("assessment window_days must not be negative")

    def offsets(self) -> Iterator[int]:
        """Offsets (days after the first dose) of assessments 1, 2, ...; may be endless."""
        offset = 0
        for until, interval in self.phases or ((None, self.interval_days),):
            while until is None or offset + interval <= until:
                offset += interval
                yield offset

    def offset(self, k: int) -> int:
        if k < 1:
            raise ValueError("assessments are numbered from 1")
        for n, offset in enumerate(self.offsets(), start=1):
            if n == k:
                return offset
        raise ValueError(f"this schedule has no assessment {k}")

    def protocol_date(self, first_dose: date, k: int) -> date:
        return first_dose + day_span(self.offset(k))

    def protocol_dates(self, first_dose: date, until: date) -> list[date]:
        """Protocol dates of assessments 1, 2, ... up to and including ``until``."""
        dates = []
        for offset in self.offsets():
            day = first_dose + day_span(offset)
            if day > until:
                break
            dates.append(day)
        return dates

    def window(self, first_dose: date, k: int) -> tuple[date, date]:
        day = self.protocol_date(first_dose, k)
        return day - day_span(self.window_days), day + day_span(self.window_days)


@dataclass(frozen=True)
class SurveySchedule:
    """Weekly PRO-CTCAE surveys. Survey 1 is on the first-dose day; survey n is
    ``first_dose + (n − 1) × interval_days``. It may be completed from its protocol date through
    ``window_days`` days later: the window is [protocol, protocol + window_days] and never
    reaches the next survey.
    """

    interval_days: int = 7
    window_days: int = 3

    def __post_init__(self) -> None:
        if self.interval_days < 1 or not 0 <= self.window_days < self.interval_days:
            raise ValueError("survey window_days must be in [0, interval_days) and interval >= 1")


@dataclass(frozen=True)
class PlanInputs:
    """Everything the clocks need. ``dosing_windows`` None means the regimen's own windows."""

    regimen: Regimen
    first_dose: date
    clinic: ClinicCalendar
    assessments: AssessmentSchedule = field(default_factory=AssessmentSchedule)
    surveys: SurveySchedule = field(default_factory=SurveySchedule)
    dosing_windows: DosingWindows | None = None
    horizon_days: int = 730
    discontinued_on: date | None = None
    follow_up_end: date | None = None
    progression_on: date | None = None

    @property
    def horizon_end(self) -> date:
        """First day *not* planned."""
        return self.first_dose + day_span(self.horizon_days)

    @property
    def study_stop(self) -> date:
        """First day without assessments or surveys (exclusive)."""
        stop = self.horizon_end
        if self.follow_up_end is not None:
            stop = min(stop, self.follow_up_end + day_span(1))
        return stop

    @property
    def imaging_stop(self) -> date:
        """First day without tumour assessments (exclusive): imaging goes on until progression
        (RECIST 1.1 PD ends tumour follow-up for PFS), death or the end of follow-up."""
        stop = self.study_stop
        if self.progression_on is not None:
            stop = min(stop, self.progression_on + day_span(1))
        return stop

    @property
    def dosing_stop(self) -> date:
        """First day without dosing (exclusive)."""
        stop = self.study_stop
        if self.discontinued_on is not None:
            stop = min(stop, self.discontinued_on)
        return stop
