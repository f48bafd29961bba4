"""Re-planning a stored calendar: only what nobody recorded changes, ids are stable, nothing is deleted,
imaging never moves with dosing, and re-planning with the same facts changes nothing."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.calendar_planning import plan_calendar
from schedules.calendar_replans import ExistingEvent, replan
from schedules.regimens import builtin_regimens
from tests.schedules.factories import (
    MONDAY,
    Store,
    agents,
    check_windows_and_cycles,
    countries,
    day1_outcomes,
    days,
    first_doses,
    inputs,
    regimens,
)

D = date


def test_enrolment_creates_everything_and_replanning_is_idempotent():
    store = Store()
    first = store.replan(inputs("INET-PAC-PER"), today=MONDAY)
    assert len(first.to_create) == len(plan_calendar(inputs("INET-PAC-PER"), {}))
    assert not first.to_update and not first.to_cancel
    assert not store.replan(inputs("INET-PAC-PER"), today=MONDAY)


def test_recorded_late_day1_replans_only_the_future_and_keeps_ids():
    inp = inputs("INET-PAC")
    store = Store()
    store.replan(inp, today=MONDAY)
    ids = store.ids()
    store.record("dose:C2D1", "completed", actual_date=D(2026, 6, 25))
    before = dict(store.events)
    changes = store.replan(inp, today=D(2026, 6, 25))
    assert not changes.to_create
    updated = {before_id for before_id, _ in changes.to_update}
    for key, old in before.items():
        if old.id in updated:
            assert old.event.kind == "dose" and old.event.target_date >= D(2026, 6, 25), key
            assert (old.event.cycle, old.event.day) > (2, 1), key
    assert store.events["dose:C2D8"].event.protocol_date == D(2026, 7, 2)
    assert {k: v for k, v in store.ids().items() if k in ids} == ids
    for key, event in store.events.items():
        if event.event.kind == "tumor_assessment":
            assert event == before[key]


def test_a_study_override_changes_every_unrecorded_planned_event_and_nothing_recorded():
    """An unrecorded planned visit is not history: past or future, it follows the plan."""
    store = Store()
    store.replan(inputs("INET-PAC"), today=MONDAY)
    store.record("dose:C1D1", "completed", actual_date=MONDAY)
    store.record("dose:C2D8", "missed")
    higher = builtin_regimens()["INET-PAC"].with_overrides({"agents": {"paclitaxel": {"dose": 90}}})
    today = D(2026, 6, 22)
    changes = store.replan(inputs(higher), today=today)
    changed = {e.key for _, e in changes.to_update}
    assert "dose:C1D1" not in changed and "dose:C2D8" not in changed  # recorded
    assert {"dose:C1D8", "dose:C1D15", "dose:C2D1", "dose:C2D15", "dose:C3D1"} <= changed
    assert agents(store.events["dose:C1D15"].event) == (("paclitaxel", 90, "mg/m2"),)
    assert agents(store.events["dose:C2D15"].event) == (("paclitaxel", 90, "mg/m2"),)


def test_discontinuation_cancels_unrecorded_dosing_after_it_and_leaves_recorded_visits_and_imaging():
    store = Store()
    store.replan(inputs("INET-PAC"), today=MONDAY)
    store.record("dose:C1D1", "completed", actual_date=MONDAY)
    before = dict(store.events)
    today = D(2026, 7, 10)
    changes = store.replan(inputs("INET-PAC", discontinued_on=D(2026, 7, 1)), today=today)
    assert not changes.to_create and not changes.to_update
    cancelled = {k for k, e in store.events.items() if e.status == "cancelled"}
    assert cancelled == {k for k, e in before.items()
                         if e.event.kind == "dose" and e.event.protocol_date >= D(2026, 7, 1)}
    # 6 Jul: after the discontinuation, past, never recorded: not planned any more.
    assert store.events["dose:C2D15"].status == "cancelled"
    assert store.events["dose:C1D1"].status == "completed"
    assert {k: v.id for k, v in store.events.items()} == {k: v.id for k, v in before.items()}
    # Taking the discontinuation back does not resurrect cancelled events: their keys stay used.
    again = store.replan(inputs("INET-PAC"), today=today)
    assert not again.to_create and not again.to_cancel


def test_duplicate_stored_keys_are_refused():
    event = plan_calendar(inputs("INET-PAC"), {})[0]
    with pytest.raises(ValueError, match="share the key"):
        replan([ExistingEvent("a", "planned", event), ExistingEvent("b", "cancelled", event)],
               inputs("INET-PAC"), {}, MONDAY)


# -- properties over random regimens, first doses and day-1 outcomes ------------------------------

@settings(max_examples=50, deadline=None, database=None)
@given(regimen=regimens, first_dose=first_doses, country=countries, outcomes=day1_outcomes,
       horizon=st.integers(120, 300))
def test_replanning_properties(regimen, first_dose, country, outcomes, horizon):
    inp = inputs(regimen, first_dose=first_dose, country=country, horizon_days=horizon)
    store = Store()
    store.replan(inp, today=first_dose)
    imaging = {k: e for k, e in store.events.items() if e.event.kind == "tumor_assessment"}

    for cycle, outcome in enumerate(outcomes, start=1):
        key = f"dose:C{cycle}D1"
        stored = store.events.get(key)
        if stored is None or stored.status != "planned":
            break
        before = dict(store.events)
        if outcome == "held":
            today = stored.event.target_date
            store.record(key, "held")
        else:
            today = stored.event.target_date + days(outcome)
            store.record(key, "completed", actual_date=today)
        changes = replan(list(store.events.values()), inp, store.facts, today)
        for event_id, _ in changes.to_update + [(i, None) for i in changes.to_cancel]:
            old = next(e for e in before.values() if e.id == event_id)
            assert old.status == "planned"  # only what nobody recorded, whatever its date
        store.apply(changes)

        # ids are stable and nothing is ever deleted
        assert all(store.events[k].id == e.id for k, e in before.items())
        # re-planning with the same facts changes nothing, and plans identically
        assert not replan(list(store.events.values()), inp, store.facts, today)
        events = plan_calendar(inp, store.facts)
        assert events == plan_calendar(inp, dict(store.facts))
        # imaging is never moved by dosing
        assert {k: e for k, e in store.events.items() if e.event.kind == "tumor_assessment"} == imaging
        check_windows_and_cycles(events, store.facts, regimen.cycle_length_days)
