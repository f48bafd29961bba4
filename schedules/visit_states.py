"""What state a visit is in: the one derivation every view of a visit uses.

The stored ``status`` is what was recorded (``planned`` until someone records an outcome). The
derived ``state`` adds what time says about a visit nobody has recorded yet, on the site's today:

* ``upcoming`` — planned, its window opens after today;
* ``due`` — planned, its window is open today (``window_start <= today <= window_end``);
* ``overdue`` — planned, its window closed before today with nothing recorded; ``days_overdue`` is
  ``today − window_end`` (1 on the day after the window closed);
* ``completed``, ``missed``, ``held``, ``cancelled`` — the recorded status, whatever the date.

Source: the visit windows of the protocol (ICH E6(R2) 4.5.3 — a visit outside its window is a
deviation to document), and CONTRACT.md's event ``state``. The state depends on nothing but the
recorded status, the window and today: the calendar, the ``.ics`` feed, the worklist, PFS visits,
exports and reconciliation all call :func:`visit_state`, so they cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["RECORDED_STATES", "STATES", "VisitState", "visit_state"]

RECORDED_STATES = ("completed", "missed", "held", "cancelled")
STATES = ("upcoming", "due", "overdue", *RECORDED_STATES)


@dataclass(frozen=True)
class VisitState:
    """A visit's derived state; ``days_overdue`` is set for ``overdue`` only."""

    state: str
    days_overdue: int | None = None


_RECORDED = {status: VisitState(status) for status in RECORDED_STATES}
_UPCOMING, _DUE = VisitState("upcoming"), VisitState("due")


def visit_state(status: str, window_start: date, window_end: date, today: date) -> VisitState:
    """The state of a visit recorded as ``status`` with window [window_start, window_end] on ``today``
    (the site's today). Raises ValueError for a status the calendar does not store."""
    recorded = _RECORDED.get(status)
    if recorded is not None:
        return recorded
    if status != "planned":
        raise ValueError(f"unknown visit status {status!r}")
    if today < window_start:
        return _UPCOMING
    if today <= window_end:
        return _DUE
    return VisitState("overdue", (today - window_end).days)
