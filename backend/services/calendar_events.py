"""Stored events as plain rows, and back to the facts the clocks need.

A calendar read or re-plan loads hundreds of events: rows are namedtuples (`EventRow`, the same
attribute names as `Event`), built straight from a SELECT, with the JSON columns decoded once per
distinct value (`EventJson`).
"""
from __future__ import annotations

import json
import uuid
from datetime import date
from collections import namedtuple
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from backend.extensions import db
from backend.models import Event
from schedules.calendar_replans import ExistingEvent
from schedules.calendars import AgentDose, EventFact, PlannedEvent
from schedules.visit_states import VisitState, visit_state

_KIND_ORDER = {"dose": 0, "dosing_diary": 1, "tumor_assessment": 2, "symptom_survey": 3}

# One stored event, as plain data: the same attribute names as `Event`, read-only, cheap to build.
EVENT_COLUMNS = ("id", "patient_id", "key", "kind", "cycle", "day", "label", "agents", "protocol_date",
                 "target_date", "window_start", "window_end", "flags", "status", "actual_date", "reason",
                 "version", "created_at", "updated_at")
EventRow = namedtuple("EventRow", EVENT_COLUMNS)
_PLANNED_FIELDS = ("cycle", "day", "label", "agents", "protocol_date", "target_date", "window_start",
                   "window_end", "flags")

# -- stored events <-> the domain -----------------------------------------------------------------

class EventJson:
    """Agent and flag sets between the domain and their JSON text, once per distinct set: a
    calendar repeats a handful of them hundreds of times. The lists handed out are shared: treat
    rows as read-only."""

    _agents_out: dict[tuple[AgentDose, ...], tuple[list[dict[str, Any]], str]] = {}
    _flags_out: dict[frozenset[str], tuple[list[str], str]] = {}
    _agents_in: dict[str, tuple[list[dict[str, Any]], tuple[AgentDose, ...]]] = {}
    _flags_in: dict[str, tuple[list[str], frozenset[str]]] = {}
    LIMIT = 4096

    @classmethod
    def agents(cls, agents: tuple[AgentDose, ...]) -> tuple[list[dict[str, Any]], str]:
        hit = cls._agents_out.get(agents)
        if hit is None:
            cls._bound(cls._agents_out)
            value = [a.to_dict() for a in agents]
            hit = cls._agents_out[agents] = (value, json.dumps(value))
        return hit

    @classmethod
    def flags(cls, flags: frozenset[str]) -> tuple[list[str], str]:
        hit = cls._flags_out.get(flags)
        if hit is None:
            cls._bound(cls._flags_out)
            value = sorted(flags)
            hit = cls._flags_out[flags] = (value, json.dumps(value))
        return hit

    @classmethod
    def agents_from(cls, text: str | None) -> tuple[list[dict[str, Any]], tuple[AgentDose, ...]]:
        hit = cls._agents_in.get(text or "[]")
        if hit is None:
            cls._bound(cls._agents_in)
            value = json.loads(text or "[]")
            hit = cls._agents_in[text or "[]"] = (value, tuple(AgentDose(a["name"], a["dose"], a["unit"])
                                                               for a in value))
        return hit

    @classmethod
    def flags_from(cls, text: str | None) -> tuple[list[str], frozenset[str]]:
        hit = cls._flags_in.get(text or "[]")
        if hit is None:
            cls._bound(cls._flags_in)
            value = json.loads(text or "[]")
            hit = cls._flags_in[text or "[]"] = (value, frozenset(value))
        return hit

    @classmethod
    def _bound(cls, cache: dict) -> None:
        if len(cache) >= cls.LIMIT:
            cache.clear()


def event_columns() -> list:
    """Event columns in EVENT_COLUMNS order, the JSON ones as their text (decoded through EventJson)."""
    table = Event.__table__
    return [sa.cast(table.c[name], sa.Text).label(name) if name in ("agents", "flags") else table.c[name]
            for name in EVENT_COLUMNS]


def load_events(stmt, *, with_plans: bool = False) -> tuple[list[EventRow], list[ExistingEvent]]:
    """Run a SELECT of event_columns(): plain rows and, on demand, what the clocks planned."""
    rows, existing = [], []
    agents_from, flags_from = EventJson.agents_from, EventJson.flags_from
    for r in db.session.execute(stmt).all():
        agents, agent_doses = agents_from(r[7])
        flags, flag_set = flags_from(r[12])
        row = EventRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], agents, r[8], r[9], r[10], r[11], flags,
                       r[13], r[14], r[15], r[16], r[17], r[18])
        rows.append(row)
        if with_plans:
            existing.append(ExistingEvent(str(row.id), row.status, PlannedEvent(
                key=row.key, kind=row.kind, cycle=row.cycle, day=row.day, label=row.label, agents=agent_doses,
                protocol_date=row.protocol_date, target_date=row.target_date, window_start=row.window_start,
                window_end=row.window_end, flags=flag_set)))
    return rows, existing


def stored_events(patient_id: uuid.UUID) -> list[EventRow]:
    """Every event of the patient, cancelled ones included, as plain rows."""
    return load_events(sa.select(*event_columns()).where(Event.__table__.c.patient_id == patient_id))[0]


def facts_of(rows: Iterable[EventRow]) -> dict[str, EventFact]:
    """What has been recorded: every non-planned event, and planned visits staff rescheduled
    (flag `rescheduled`: their target is the date staff chose)."""
    facts = {}
    for row in rows:
        rescheduled = "rescheduled" in (row.flags or ())
        if row.status != "planned" or rescheduled:
            facts[row.key] = EventFact(key=row.key, status=row.status, actual_date=row.actual_date,
                                       rescheduled_to=row.target_date if rescheduled else None,
                                       target_date=row.target_date)
    return facts


def row_of(event: Event) -> EventRow:
    return EventRow(*(getattr(event, name) for name in EVENT_COLUMNS))


def event_sort_key(row: EventRow) -> tuple:
    return (row.target_date, _KIND_ORDER.get(row.kind, 9), row.cycle or 0, row.day or 0, row.key)


def state_of(row: Any, today: date) -> VisitState:
    """The event's derived state on the site's `today` (`schedules.visit_states.visit_state`): every
    view of an event (calendar, .ics, worklist, PFS, exports, reconciliation) calls this."""
    return visit_state(row.status, row.window_start, row.window_end, today)


def with_state(row: EventRow, today: date) -> dict[str, Any]:
    """The stored row as a dict, plus its derived `state` and `days_overdue`."""
    state = state_of(row, today)
    view = row._asdict()
    view["state"], view["days_overdue"] = state.state, state.days_overdue
    return view
