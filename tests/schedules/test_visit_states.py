"""A visit's derived state: one function, one answer per visit, from its status, window and today."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedules.calendars import STATUSES
from schedules.visit_states import RECORDED_STATES, STATES, VisitState, visit_state

D = date
WINDOW = (D(2026, 3, 10), D(2026, 3, 17))


@pytest.mark.parametrize(("status", "today", "expected"), [
    ("planned", D(2026, 3, 9), VisitState("upcoming")),          # window opens tomorrow
    ("planned", D(2026, 3, 10), VisitState("due")),              # first day of the window
    ("planned", D(2026, 3, 17), VisitState("due")),              # last day of the window: still due
    ("planned", D(2026, 3, 18), VisitState("overdue", 1)),       # the day after it closed
    ("planned", D(2026, 4, 17), VisitState("overdue", 31)),
    ("completed", D(2026, 4, 17), VisitState("completed")),      # recorded: whatever the date
    ("missed", D(2026, 3, 1), VisitState("missed")),
    ("held", D(2026, 3, 12), VisitState("held")),
    ("cancelled", D(2026, 3, 20), VisitState("cancelled")),
])
def test_state_of_a_visit(status, today, expected):
    assert visit_state(status, *WINDOW, today) == expected


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        visit_state("booked", *WINDOW, D(2026, 3, 12))


dates = st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 12, 31))


@given(status=st.sampled_from(STATUSES), start=dates, length=st.integers(0, 30), today=dates)
def test_every_event_has_exactly_one_state(status, start, length, today):
    end = start + timedelta(days=length)
    result = visit_state(status, start, end, today)
    assert result.state in STATES
    upcoming, due, overdue = today < start, start <= today <= end, today > end
    assert upcoming + due + overdue == 1
    if status in RECORDED_STATES:
        assert result == VisitState(status)
    else:
        assert result.state == ("upcoming" if upcoming else "due" if due else "overdue")
    assert (result.days_overdue is not None) == (result.state == "overdue")
    if result.state == "overdue":
        assert result.days_overdue == (today - end).days >= 1


@given(status=st.sampled_from(STATUSES), start=dates, length=st.integers(0, 30), today=dates)
def test_the_state_depends_on_the_event_its_window_and_today_only(status, start, length, today):
    """Called twice with the same arguments the answer is the same (no clock, no hidden input); the
    function takes nothing else, so a target date, a kind or a site cannot change it."""
    end = start + timedelta(days=length)
    assert visit_state(status, start, end, today) == visit_state(status, start, end, today)
    assert visit_state.__code__.co_argcount == 4
    tomorrow = today + timedelta(days=1)
    first, second = visit_state(status, start, end, today), visit_state(status, start, end, tomorrow)
    if status == "planned" and first.state == "overdue":
        assert second.days_overdue == first.days_overdue + 1   # time only moves a late visit further
