"""Kaplan-Meier: a hand-worked cohort, and generated cohorts (ties, censoring at event times) against lifelines.

lifelines is the reference (requirements-dev only): its survival function, its log(-log) Greenwood
pointwise bands (`confidence_interval_`), and `median_survival_times` of those bands for the median's
interval.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from schedules import survival


def test_hand_worked_cohort():
    """Times 3, 5+, 5, 8, 8, 10+ (+ censored): S = 5/6 after day 3; at day 5 one event of 5 at risk (the
    censoring at 5 is still at risk) gives 2/3; at day 8 two of 3 give 2/9; the median is day 8."""
    times = [3, 5, 5, 8, 8, 10]
    events = [True, False, True, True, True, False]
    steps = survival.kaplan_meier(times, events)
    assert [(s.day, s.at_risk, s.events, s.censored) for s in steps] == [
        (0, 6, 0, 0), (3, 6, 1, 0), (5, 5, 1, 1), (8, 3, 2, 0), (10, 1, 0, 1)]
    assert [s.survival for s in steps] == pytest.approx([1, 5 / 6, 2 / 3, 2 / 9, 2 / 9])
    assert survival.median(steps) == 8
    summary = survival.summary(times, events)
    assert (summary["n"], summary["events"], summary["censored"]) == (6, 4, 2)
    assert summary["rate_6m"] is None  # nobody followed to day 183
    assert summary["at_risk"] == [{"day": 0, "n": 6}]


def test_numbers_at_risk_every_six_weeks():
    assert survival.numbers_at_risk([10, 42, 43, 100]) == [
        {"day": 0, "n": 4}, {"day": 42, "n": 3}, {"day": 84, "n": 1}]


def test_an_empty_group():
    summary = survival.summary([], [])
    assert (summary["n"], summary["median"], summary["median_ci"], summary["rate_12m"]) == (0, None, [None, None], None)


def test_landmark_rates_read_the_curve_at_days_183_and_365():
    times = [100, 200, 300, 400, 500]
    summary = survival.summary(times, [True] * 5)
    assert summary["rate_6m"]["rate"] == pytest.approx(0.8) and summary["rate_6m"]["day"] == 183
    assert summary["rate_12m"]["rate"] == pytest.approx(0.4)


def _none_if_inf(value: float) -> int | None:
    return None if math.isinf(value) else int(value)


cohorts = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 400), min_size=n, max_size=n),   # few distinct days: many ties
    st.lists(st.booleans(), min_size=n, max_size=n)))


@settings(max_examples=150, deadline=None)
@given(cohorts)
def test_agrees_with_lifelines(cohort):
    times, events = cohort
    fitter = KaplanMeierFitter().fit(times, events)
    bands = fitter.confidence_interval_
    steps = survival.kaplan_meier(times, events)
    for step in steps:
        assert step.survival == pytest.approx(fitter.survival_function_.loc[step.day].iloc[0], abs=1e-12)
        assert step.lower == pytest.approx(bands.loc[step.day].iloc[0], abs=1e-9)
        assert step.upper == pytest.approx(bands.loc[step.day].iloc[1], abs=1e-9)
    if all(abs(step.survival - 0.5) > 1e-9 for step in steps):
        # lifelines computes S as exp(sum of logs): where S is exactly 0.5 it may land a hair above it.
        assert survival.median(steps) == _none_if_inf(fitter.median_survival_time_)
    interval = median_survival_times(bands)
    assert survival.median_interval(steps) == (_none_if_inf(interval.iloc[0, 0]), _none_if_inf(interval.iloc[0, 1]))
    summary = survival.summary(times, events)
    for key, day in (("rate_6m", 183), ("rate_12m", 365)):
        if max(times) >= day:
            assert summary[key]["rate"] == pytest.approx(fitter.survival_function_at_times(day).iloc[0], abs=1e-12)


def test_ties_and_censoring_at_event_times_against_lifelines():
    times = [5, 5, 5, 7, 7, 7, 7, 9, 9, 12, 12, 12]
    events = [True, True, False, True, False, False, True, True, False, True, True, True]
    fitter = KaplanMeierFitter().fit(times, events)
    steps = survival.kaplan_meier(times, events)
    interval = median_survival_times(fitter.confidence_interval_)
    assert survival.median(steps) == fitter.median_survival_time_
    assert survival.median_interval(steps) == (_none_if_inf(interval.iloc[0, 0]), _none_if_inf(interval.iloc[0, 1]))
    assert steps[-1].survival == 0 and (steps[-1].lower, steps[-1].upper) == (0, 0)
