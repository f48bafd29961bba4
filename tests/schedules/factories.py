"""Builders for calendar tests: plan inputs, an in-memory event store, hypothesis strategies."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from schedules.calendar_planning import plan_calendar
from schedules.calendar_replans import CalendarChanges, ExistingEvent, replan
from schedules.calendars import (
    AssessmentSchedule,
    EventFact,
    PlanInputs,
    PlannedEvent,
    SurveySchedule,
)
from schedules.clinics import ClinicCalendar
from schedules.regimens import Regimen, builtin_regimens, parse_regimen

# A Monday with no GB public holiday for the next six weeks: dates below are easy to check by hand.
MONDAY = date(2026, 6, 1)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def inputs(code: str | Regimen = "INET-PAC", first_dose: date = MONDAY, country: str = "GB",
           **overrides: Any) -> PlanInputs:
    regimen = builtin_regimens()[code] if isinstance(code, str) else code
    fields: dict[str, Any] = {
        "regimen": regimen,
        "first_dose": first_dose,
        "clinic": ClinicCalendar(country),
        "assessments": AssessmentSchedule(),
        "surveys": SurveySchedule(),
    }
    fields.update(overrides)
    return PlanInputs(**fields)


def by_key(events: Iterable[PlannedEvent]) -> dict[str, PlannedEvent]:
    return {e.key: e for e in events}


def plan(inp: PlanInputs, *facts: EventFact) -> dict[str, PlannedEvent]:
    return by_key(plan_calendar(inp, {f.key: f for f in facts}))


def agents(event: PlannedEvent) -> tuple[tuple[str, float, str], ...]:
    return tuple((a.name, a.dose, a.unit) for a in event.agents)


class Store:
    """What the service keeps: events by key with ids, statuses and what was recorded."""

    def __init__(self) -> None:
        self.events: dict[str, ExistingEvent] = {}
        self.facts: dict[str, EventFact] = {}
        self._ids = itertools.count(1)

    def replan(self, inp: PlanInputs, today: date) -> CalendarChanges:
        changes = replan(list(self.events.values()), inp, self.facts, today)
        self.apply(changes)
        return changes

    def apply(self, changes: CalendarChanges) -> None:
        by_id = {e.id: e for e in self.events.values()}
        for event in changes.to_create:
            assert event.key not in self.events
            self.events[event.key] = ExistingEvent(f"ev-{next(self._ids)}", "planned", event)
        for event_id, event in changes.to_update:
            old = by_id[event_id]
            assert old.key == event.key
            self.events[event.key] = replace(old, event=event)
        for event_id in changes.to_cancel:
            old = by_id[event_id]
            self.events[old.key] = replace(old, status="cancelled")

    def record(self, key: str, status: str, actual_date: date | None = None,
               rescheduled_to: date | None = None) -> None:
        stored = self.events[key]
        self.facts[key] = EventFact(key, status, actual_date, rescheduled_to, stored.event.target_date)
        self.events[key] = replace(stored, status=status)

    def ids(self) -> dict[str, str]:
        return {key: e.id for key, e in self.events.items()}


# -- hypothesis strategies -----------------------------------------------------------------------

@st.composite
def generated_regimens(draw: st.DrawFn) -> Regimen:
    """Random but valid regimens: day 1 always, later days at least 3 apart (windows ±1 never
    touch), the last day at least 2 before the next cycle, sometimes a daily oral agent."""
    cycle_length = draw(st.integers(14, 35))
    candidates = draw(st.lists(st.integers(6, cycle_length - 2), max_size=3, unique=True))
    later: list[int] = []
    for day in sorted(candidates):
        if not later or day - later[-1] >= 3:
            later.append(day)
    agents: list[dict[str, Any]] = [{
        "name": "alphamab", "dose": draw(st.integers(1, 10)), "unit": "mg/kg", "route": "IV",
        "days": [1], "loading_dose": draw(st.none() | st.integers(1, 12)),
    }]
    if later:
        agents.append({"name": "betaxel", "dose": 80, "unit": "mg/m2", "route": "IV",
                       "days": [1, *later]})
    if draw(st.booleans()):
        agents.append({"name": "gammamab", "dose": 420, "unit": "mg", "route": "IV", "days": [1],
                       "loading_dose": 840, "reload_after_days": draw(st.integers(cycle_length + 1, 3 * cycle_length)),
                       "reload_dose": 840})
    if draw(st.booleans()):
        agents.append({"name": "deltinib", "dose": 400, "unit": "mg", "route": "oral",
                       "days": "continuous"})
    raw = {"code": "GEN-1", "name": "Generated", "cycle_length_days": cycle_length,
           "max_cycles": draw(st.none() | st.integers(1, 8)), "agents": agents}
    return parse_regimen(raw, "generated")


regimens = st.sampled_from(sorted(builtin_regimens().values(), key=lambda r: r.code)) | generated_regimens()
first_doses = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))
countries = st.sampled_from(["CN", "GB", "US", "DE"])
# What happens at each successive day-1 visit: completed `delay` days after its target, or held.
day1_outcomes = st.lists(st.one_of(st.integers(-1, 10), st.just("held")), min_size=1, max_size=6)


def facts_by_key(facts: Iterable[EventFact]) -> Mapping[str, EventFact]:
    return {f.key: f for f in facts}


# --- assertions shared by the planning and re-planning properties ---------------------------------
def check_windows_and_cycles(events, facts, cycle_length):
    """Every target inside its window (a clinic-closed one on its protocol date); no cycle overlaps the
    next; each day 1 sits a cycle length after the previous day 1's anchor (its actual date once given)."""
    for event in events:
        assert event.window_start <= event.protocol_date <= event.window_end, event.key
        assert event.window_start <= event.target_date <= event.window_end, event.key
        if "clinic_closed" in event.flags:
            assert event.target_date == event.protocol_date, event.key

    def when(event):
        fact = facts.get(event.key)
        return fact.actual_date if fact and fact.actual_date else event.target_date

    cycles: dict[int, list] = {}
    for event in events:
        if event.kind == "dose":
            cycles.setdefault(event.cycle, []).append(event)
    for n in sorted(cycles)[:-1]:
        this, following = cycles[n], cycles[n + 1]
        day1 = next(e for e in following if e.day == 1)
        assert max(when(e) for e in this) < when(day1), f"cycle {n} overlaps cycle {n + 1}"
        assert day1.protocol_date == _day1_anchor(this, facts) + days(cycle_length)


def _day1_anchor(cycle_events, facts):
    day1 = next(e for e in cycle_events if e.day == 1)
    fact = facts.get(day1.key)
    return fact.actual_date if fact and fact.status == "completed" else day1.protocol_date
