"""A patient's calendar: dosing visits, dosing-diary days, tumour assessments and symptom surveys.

Three independent clocks, all starting at the first dose:

* **Dosing clock.** Cycle 1 day 1 is the first dose. Cycle n day 1 (protocol date) is the *anchor*
  of cycle n−1's day 1 plus the cycle length; later days (8, 15, ...) are ``anchor + (day − 1)``.
  The anchor of a day-1 visit is, in order: its actual date once completed; else the date it was
  rescheduled to by staff; else its protocol date. A shift for a clinic closure never moves the
  anchor. So a late day 1 delays every later dosing visit, while a held day 8 moves nothing.

  *Held (or missed) day 1*: the dose is not given, the event keeps its status, and the clock keeps
  running from that day 1's planned date (rescheduled date, else protocol date), exactly as if it
  had been given on time. Day 8/15 of that cycle stay planned (staff hold them separately if
  needed); a hold is for the whole visit, not for one agent.

  Doses: cycle 1 gets an agent's ``loading_dose``; so does the first dose ever given if earlier
  ones were all held. Otherwise, when ``reload_after_days`` or more days separate this dose from
  the agent's last dose (actual dates when recorded, else target dates), the ``reload_dose``.
  Dosing stops after ``max_cycles`` and at discontinuation: no dosing event has a protocol date on
  or after ``discontinued_on``.

  Continuous (daily oral) agents need no visit: one ``dosing_diary`` event per calendar day from
  cycle 1's anchor until dosing stops (the end of the last cycle, discontinuation or the horizon),
  keyed by date (``diary:YYYY-MM-DD``) so a delayed day 1 relabels but never re-keys diary days.
  Diary window = that day only.

* **Imaging clock** (:class:`AssessmentSchedule`). Never moved by dosing; continues after
  discontinuation until progression (``progression_on``), death or ``follow_up_end``.

* **Symptom surveys** (:class:`SurveySchedule`). Weekly PRO-CTCAE from the first dose until
  ``follow_up_end``.

Dose visits and tumour assessments are clinic visits: one on a closed day moves to the nearest
open day in its window (earlier first), or stays and is flagged ``clinic_closed``. Diary entries and
surveys are done at home and never shift. Nothing is planned on or after
``first_dose + horizon_days``.

Re-planning (:func:`replan`) keeps event ids by natural key and only changes the future.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from schedules.clinics import ClinicCalendar
from schedules.regimens import Agent, Dose, DosingWindows, Regimen

__all__ = [
    "AgentDose",
    "AssessmentSchedule",
    "CalendarChanges",
    "EventFact",
    "ExistingEvent",
    "PlanInputs",
    "PlannedEvent",
    "SurveySchedule",
    "plan_calendar",
    "replan",
]

KINDS = ("dose", "dosing_diary", "tumor_assessment", "symptom_survey")
STATUSES = ("planned", "completed", "missed", "held", "cancelled")
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_NOT_GIVEN = frozenset({"missed", "held", "cancelled"})


_DAY_DELTAS = tuple(timedelta(days=n) for n in range(512))


def _days(n: int) -> timedelta:
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
        return first_dose + _days(self.offset(k))

    def protocol_dates(self, first_dose: date, until: date) -> list[date]:
        """Protocol dates of assessments 1, 2, ... up to and including ``until``."""
        dates = []
        for offset in self.offsets():
            day = first_dose + _days(offset)
            if day > until:
                break
            dates.append(day)
        return dates

    def window(self, first_dose: date, k: int) -> tuple[date, date]:
        day = self.protocol_date(first_dose, k)
        return day - _days(self.window_days), day + _days(self.window_days)


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
        return self.first_dose + _days(self.horizon_days)

    @property
    def study_stop(self) -> date:
        """First day without assessments or surveys (exclusive)."""
        stop = self.horizon_end
        if self.follow_up_end is not None:
            stop = min(stop, self.follow_up_end + _days(1))
        return stop

    @property
    def imaging_stop(self) -> date:
        """First day without tumour assessments (exclusive): imaging goes on until progression
        (RECIST 1.1 PD ends tumour follow-up for PFS), death or the end of follow-up."""
        stop = self.study_stop
        if self.progression_on is not None:
            stop = min(stop, self.progression_on + _days(1))
        return stop

    @property
    def dosing_stop(self) -> date:
        """First day without dosing (exclusive)."""
        stop = self.study_stop
        if self.discontinued_on is not None:
            stop = min(stop, self.discontinued_on)
        return stop


# -- placing one event ----------------------------------------------------------------------------

def _place(fact: EventFact | None, protocol: date, start: date, end: date,
           clinic: ClinicCalendar | None) -> tuple[date, frozenset[str]]:
    """Target date and flags: recorded target kept; staff reschedule honoured; else closures."""
    if fact is not None:
        if fact.status != "planned" and fact.target_date is not None:
            return fact.target_date, frozenset()
        if fact.rescheduled_to is not None:
            flags = {"rescheduled"}
            if clinic is not None and not clinic.is_open(fact.rescheduled_to):
                flags.add("clinic_closed")
            if not start <= fact.rescheduled_to <= end:
                flags.add("outside_window")  # forced by staff: a deviation reconciliation lists
            return fact.rescheduled_to, frozenset(flags)
    if clinic is None:
        return protocol, frozenset()
    target = clinic.nearest_open(protocol, start, end)
    if target is None:
        return protocol, frozenset({"clinic_closed"})
    return target, frozenset()


def _anchor(fact: EventFact | None, protocol: date) -> date:
    """Where a day-1 visit anchors the dosing clock (never a closure-shifted target)."""
    if fact is None:
        return protocol
    if fact.status == "completed" and fact.actual_date is not None:
        return fact.actual_date
    return fact.rescheduled_to or protocol


def _given_on(fact: EventFact | None, target: date) -> date | None:
    """The day the dose was (or is expected to be) given; None when it was not given."""
    if fact is None:
        return target
    if fact.status in _NOT_GIVEN:
        return None
    if fact.status == "completed" and fact.actual_date is not None:
        return fact.actual_date
    return target


def _dose_for(agent: Agent, cycle: int, last_given: date | None, on: date) -> tuple[Dose, str | None]:
    """Loading in cycle 1 (or when never given); reload after a long gap, as the pertuzumab
    label has it (840 mg again when 6 weeks or more pass between infusions)."""
    if agent.loading_dose is not None and (cycle == 1 or last_given is None):
        return agent.loading_dose, "loading"
    if (agent.reload_after_days is not None and agent.reload_dose is not None
            and last_given is not None and (on - last_given).days >= agent.reload_after_days):
        return agent.reload_dose, "reload"
    return agent.dose, None


# -- the three clocks -----------------------------------------------------------------------------

def _dosing_events(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> list[PlannedEvent]:
    regimen = inputs.regimen
    windows = inputs.dosing_windows or regimen.windows
    stop = inputs.dosing_stop
    clinic = inputs.clinic
    cycle_length = _days(regimen.cycle_length_days)
    # Per clinic day, computed once: (day, offset from day 1, days early, days late, agents).
    layout = [(day, _days(day - 1), _days(windows.around(day)[0]), _days(windows.around(day)[1]),
               regimen.agents_on(day)) for day in regimen.clinic_days]
    doses: dict[tuple[str, Dose], AgentDose] = {}
    events: list[PlannedEvent] = []
    last_given: dict[str, date] = {}
    cycle_starts: list[date] = []

    cycle, protocol_d1 = 1, inputs.first_dose
    while protocol_d1 < stop and (regimen.max_cycles is None or cycle <= regimen.max_cycles):
        anchor = _anchor(facts.get(f"dose:C{cycle}D1"), protocol_d1)
        cycle_starts.append(anchor)
        for day, offset, before, after, agents in layout:
            protocol = protocol_d1 if day == 1 else anchor + offset
            if protocol >= stop:
                break
            key = f"dose:C{cycle}D{day}"
            fact = facts.get(key)
            start, end = protocol - before, protocol + after
            # The first dose date is cycle 1 day 1 by definition: the anchor of both clocks never moves.
            first_visit = cycle == 1 and day == 1
            target, flags = _place(fact, protocol, start, end, None if first_visit else clinic)
            given = _given_on(fact, target)
            given_doses = []
            for agent in agents:
                amount, why = _dose_for(agent, cycle, last_given.get(agent.name), given or target)
                if why is not None:
                    flags = flags | {why}
                dose = doses.get((agent.name, amount))
                if dose is None:
                    dose = doses[(agent.name, amount)] = AgentDose(agent.name, amount, agent.unit)
                given_doses.append(dose)
                if given is not None:
                    last_given[agent.name] = given
            events.append(PlannedEvent(
                key=key, kind="dose", cycle=cycle, day=day, label=f"Cycle {cycle} Day {day}",
                agents=tuple(given_doses), protocol_date=protocol, target_date=target,
                window_start=start, window_end=end, flags=flags,
            ))
        protocol_d1 = anchor + cycle_length
        cycle += 1

    if regimen.continuous_agents and cycle_starts:
        events.extend(_diary_events(inputs, facts, cycle_starts, min(stop, protocol_d1)))
    return events


def _diary_events(inputs: PlanInputs, facts: Mapping[str, EventFact], cycle_starts: list[date],
                  stop: date) -> Iterator[PlannedEvent]:
    """One diary entry per day, labelled with the cycle the day falls in."""
    agents = inputs.regimen.continuous_agents
    regular = tuple(AgentDose(a.name, a.dose, a.unit) for a in agents)
    loading = tuple(AgentDose(a.name, a.loading_dose or a.dose, a.unit) for a in agents)
    bounds = cycle_starts[1:] + [stop]
    for cycle, (start, end) in enumerate(zip(cycle_starts, bounds), start=1):
        day = start
        while day < min(end, stop):
            key = f"diary:{day.isoformat()}"
            target, flags = _place(facts.get(key), day, day, day, None)
            n = (day - start).days + 1
            yield PlannedEvent(
                key=key, kind="dosing_diary", cycle=cycle, day=n,
                label=f"Cycle {cycle} Day {n} dosing diary",
                agents=loading if cycle == 1 else regular, protocol_date=day, target_date=target,
                window_start=day, window_end=day, flags=flags,
            )
            day += _days(1)


def _assessment_events(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> Iterator[PlannedEvent]:
    schedule = inputs.assessments
    last = inputs.imaging_stop - _days(1)
    for k, protocol in enumerate(schedule.protocol_dates(inputs.first_dose, last), start=1):
        key = f"assessment:{k}"
        start = protocol - _days(schedule.window_days)
        end = protocol + _days(schedule.window_days)
        target, flags = _place(facts.get(key), protocol, start, end, inputs.clinic)
        yield PlannedEvent(
            key=key, kind="tumor_assessment", cycle=None, day=None,
            label=f"Tumour assessment {k}", agents=(), protocol_date=protocol,
            target_date=target, window_start=start, window_end=end, flags=flags,
        )


def _survey_events(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> Iterator[PlannedEvent]:
    schedule = inputs.surveys
    stop = inputs.study_stop
    n, protocol = 1, inputs.first_dose
    while protocol < stop:
        key = f"survey:{n}"
        end = protocol + _days(schedule.window_days)
        target, flags = _place(facts.get(key), protocol, protocol, end, None)
        yield PlannedEvent(
            key=key, kind="symptom_survey", cycle=None, day=None, label=f"Symptom survey {n}",
            agents=(), protocol_date=protocol, target_date=target, window_start=protocol,
            window_end=end, flags=flags,
        )
        n += 1
        protocol += _days(schedule.interval_days)


def _sort_key(event: PlannedEvent) -> tuple[date, int, int, int, str]:
    return (event.target_date, _KIND_ORDER[event.kind], event.cycle or 0, event.day or 0, event.key)


def plan_calendar(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> list[PlannedEvent]:
    """The whole calendar implied by the inputs and what has been recorded, sorted by
    (target date, kind, cycle, day, key). Pure: the same arguments give the same list."""
    events = _dosing_events(inputs, facts)
    events.extend(_assessment_events(inputs, facts))
    events.extend(_survey_events(inputs, facts))
    events = [event for event in events if _within_stops(event, inputs, facts)]
    events.sort(key=_sort_key)
    return events


def plan_assessments(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> list[PlannedEvent]:
    """The tumour assessments of `plan_calendar(inputs, facts)` alone (the imaging clock depends on
    nothing else), without planning doses, diary days and surveys."""
    return [event for event in _assessment_events(inputs, facts) if _within_stops(event, inputs, facts)]


def _within_stops(event: PlannedEvent, inputs: PlanInputs, facts: Mapping[str, EventFact]) -> bool:
    """A visit pushed by a clinic closure past a stop (death, end of follow-up, progression for
    scans, discontinuation for doses) is not planned there; what was recorded always stays."""
    fact = facts.get(event.key)
    if fact is not None and fact.status != "planned":
        return True
    if event.kind in ("dose", "dosing_diary"):
        stop = inputs.dosing_stop
    elif event.kind == "tumor_assessment":
        stop = inputs.imaging_stop
    else:
        stop = inputs.study_stop
    return event.target_date < stop


# -- re-planning ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExistingEvent:
    """An event already stored: its id, status and the fields it was last planned with."""

    id: str
    status: str
    event: PlannedEvent

    @property
    def key(self) -> str:
        return self.event.key


@dataclass(frozen=True)
class CalendarChanges:
    to_create: list[PlannedEvent] = field(default_factory=list)
    to_update: list[tuple[str, PlannedEvent]] = field(default_factory=list)
    to_cancel: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.to_create or self.to_update or self.to_cancel)


def replan(existing: Sequence[ExistingEvent], inputs: PlanInputs, facts: Mapping[str, EventFact],
           today: date) -> CalendarChanges:
    """Bring stored events in line with a fresh plan without rewriting history.

    * a key not stored yet is created (at enrolment that includes past-dated events);
    * a stored *planned* event is updated when any planned field differs, and cancelled when its
      key is no longer planned, **whatever its stored date**: an unrecorded planned visit is not
      history. Sites often record a visit days after it happened; until then the visits after
      it were planned from the old facts, and once the late day 1 is recorded they follow the
      clock again even if their old date has passed;
    * events with any other status (recorded, or cancelled) are never touched, and their keys are
      never created again. Ids are never reused.

    ``today`` (the site's today) does not limit what moves; it is kept so callers state the day
    they re-plan on.
    """
    by_key: dict[str, ExistingEvent] = {}
    for stored in existing:
        if stored.key in by_key:
            raise ValueError(f"two stored events share the key {stored.key!r}")
        by_key[stored.key] = stored

    changes = CalendarChanges()
    planned_keys: set[str] = set()
    for event in plan_calendar(inputs, facts):
        planned_keys.add(event.key)
        stored = by_key.get(event.key)
        if stored is None:
            changes.to_create.append(event)
        elif stored.status == "planned" and stored.event != event:
            changes.to_update.append((stored.id, event))
    for stored in existing:
        if stored.key not in planned_keys and stored.status == "planned":
            changes.to_cancel.append(stored.id)
    return changes
