"""Re-planning a stored calendar: a fresh plan turned into events to create, update and cancel.

Planning (`schedules.calendar_planning`) only says where the clocks put things. Re-planning is
about events already stored, with ids, statuses and history that must not be rewritten, so it has
a module of its own: the one place that decides what of an existing calendar may still change.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from schedules.calendar_planning import plan_calendar
from schedules.calendars import EventFact, PlanInputs, PlannedEvent

__all__ = [
    "CalendarChanges",
    "ExistingEvent",
    "replan",
]


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
