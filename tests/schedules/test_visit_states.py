"""A visit's state on a day (CONTRACT.md "Patients": state and days_overdue)."""
from datetime import date

import pytest

from schedules.visit_states import VisitState, visit_state

START, END = date(2026, 3, 9), date(2026, 3, 13)


@pytest.mark.parametrize("status, today, expected", [
    ("planned", date(2026, 3, 8), VisitState("upcoming")),        # window not open yet
    ("planned", START, VisitState("due")),                       # window open today (first day)
    ("planned", END, VisitState("due")),                         # last day of the window
    ("planned", date(2026, 3, 16), VisitState("overdue", 3)),     # closed, nothing recorded: today - window_end
    ("completed", date(2026, 3, 16), VisitState("completed")),   # what was recorded wins
    ("missed", START, VisitState("missed")),
    ("held", START, VisitState("held")),
    ("cancelled", START, VisitState("cancelled")),
])
def test_visit_state(status, today, expected):
    assert visit_state(status, START, END, today) == expected
