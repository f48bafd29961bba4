"""Planning a patient's calendar: dosing visits, dosing-diary days, tumour assessments and symptom surveys.

This module is the planning itself: it turns `schedules.calendars.PlanInputs` and what has been
recorded into the list of `PlannedEvent`s, and nothing else. The value types live in
`schedules.calendars`; bringing a stored calendar in line with a new plan lives in
`schedules.calendar_replans`. The clock rules the code below applies:

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

Re-planning (`schedules.calendar_replans.replan`) keeps event ids by natural key and only changes
the future.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date

from schedules.calendars import KINDS, AgentDose, EventFact, PlanInputs, PlannedEvent, day_span
from schedules.clinics import ClinicCalendar
from schedules.regimens import Agent, Dose

__all__ = [
    "plan_calendar",
]

_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_NOT_GIVEN = frozenset({"missed", "held", "cancelled"})


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
    cycle_length = day_span(regimen.cycle_length_days)
    # Per clinic day, computed once: (day, offset from day 1, days early, days late, agents).
    layout = [(day, day_span(day - 1), day_span(windows.around(day)[0]), day_span(windows.around(day)[1]),
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
    next_day = day_span(1)
    for cycle, (start, end) in enumerate(zip(cycle_starts, bounds), start=1):
        day, last = start, min(end, stop)
        while day < last:
            key = f"diary:{day.isoformat()}"
            target, flags = _place(facts.get(key), day, day, day, None)
            n = (day - start).days + 1
            yield PlannedEvent(
                key=key, kind="dosing_diary", cycle=cycle, day=n,
                label=f"Cycle {cycle} Day {n} dosing diary",
                agents=loading if cycle == 1 else regular, protocol_date=day, target_date=target,
                window_start=day, window_end=day, flags=flags,
            )
            day += next_day


def _assessment_events(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> Iterator[PlannedEvent]:
    schedule = inputs.assessments
    last = inputs.imaging_stop - day_span(1)
    for k, protocol in enumerate(schedule.protocol_dates(inputs.first_dose, last), start=1):
        key = f"assessment:{k}"
        start = protocol - day_span(schedule.window_days)
        end = protocol + day_span(schedule.window_days)
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
        end = protocol + day_span(schedule.window_days)
        target, flags = _place(facts.get(key), protocol, protocol, end, None)
        yield PlannedEvent(
            key=key, kind="symptom_survey", cycle=None, day=None, label=f"Symptom survey {n}",
            agents=(), protocol_date=protocol, target_date=target, window_start=protocol,
            window_end=end, flags=flags,
        )
        n += 1
        protocol += day_span(schedule.interval_days)


def _sort_key(event: PlannedEvent) -> tuple[date, int, int, int, str]:
    return (event.target_date, _KIND_ORDER[event.kind], event.cycle or 0, event.day or 0, event.key)


def plan_calendar(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> list[PlannedEvent]:
    """The whole calendar implied by the inputs and what has been recorded, sorted by
    (target date, kind, cycle, day, key). Pure: the same arguments give the same list."""
    events = _dosing_events(inputs, facts)
    events.extend(_assessment_events(inputs, facts))
    events.extend(_survey_events(inputs, facts))
    within = _within_stops(inputs, facts)
    events = [event for event in events if within(event)]
    events.sort(key=_sort_key)
    return events


def plan_assessments(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> list[PlannedEvent]:
    """The tumour assessments of `plan_calendar(inputs, facts)` alone (the imaging clock depends on
    nothing else), without planning doses, diary days and surveys."""
    return list(filter(_within_stops(inputs, facts), _assessment_events(inputs, facts)))


def _within_stops(inputs: PlanInputs, facts: Mapping[str, EventFact]) -> Callable[[PlannedEvent], bool]:
    """Whether an event is planned: a visit pushed by a clinic closure past a stop (death, end of
    follow-up, progression for scans, discontinuation for doses) is not planned there; what was
    recorded always stays. The stops are worked out once per plan, not per event."""
    dosing = inputs.dosing_stop
    stops = {"dose": dosing, "dosing_diary": dosing, "tumor_assessment": inputs.imaging_stop,
             "symptom_survey": inputs.study_stop}

    def within(event: PlannedEvent) -> bool:
        fact = facts.get(event.key)
        return (fact is not None and fact.status != "planned") or event.target_date < stops[event.kind]

    return within
