"""The state of a visit on a given day, derived from what was recorded and its window.

CONTRACT.md "Patients" (revision 2): `status` is what was recorded; `state` is derived from it, the
window and the site's today, the same in every view: `upcoming`, `due` (window open today), `overdue`
(window closed, nothing recorded; `days_overdue` is today − `window_end`), or the recorded
`completed`, `missed`, `held`, `cancelled`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

RECORDED = frozenset({"completed", "missed", "held", "cancelled"})


@dataclass(frozen=True)
class VisitState:
    state: str
    days_overdue: int | None = None


def visit_state(status: str, window_start: date, window_end: date, today: date) -> VisitState:
    """`status` as recorded (planned, completed, missed, held, cancelled) judged on `today`."""
    if status in RECORDED:
        return VisitState(status)
    if today < window_start:
        return VisitState("upcoming")
    if today <= window_end:
        return VisitState("due")
    return VisitState("overdue", (today - window_end).days)
