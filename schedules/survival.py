"""Kaplan-Meier estimates of PFS, OS and DoR: curve, median, rates and numbers at risk.

Pure: times are whole days on the per-patient ``days`` scale (``date - start + 1``), events are
booleans (``cnsr == 0``). Sources and conventions:

* Kaplan & Meier (JASA 1958) product-limit estimator; at a time with both events and censorings
  the events come first (the censored are still at risk at their own time).
* Greenwood's variance, and pointwise 95% intervals on the log(-log) scale (Kalbfleisch & Prentice;
  the default of SAS PROC LIFETEST ``CONFTYPE=LOGLOG`` and of lifelines): with
  ``V = sum d / (n (n - d))``, the bounds are ``S ** exp(± z sqrt(V) / log S)``.
* The median is the first time the estimate is at or below 0.5 (Brookmeyer & Crowley, Biometrics
  1982); its 95% interval is the first times the upper and lower bands are at or below 0.5 — as
  lifelines' ``median_survival_times`` of the confidence interval. ``None`` where not reached.
* 6- and 12-month rates at days 183 and 365 (FDA 2018 lists landmark rates as KM estimates), with
  the pointwise band; ``None`` when nobody is followed that long.
* Numbers at risk every 42 days (the 6-weekly assessment interval) from day 0: those whose time
  is at least the day (everyone at day 0).
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Z_95 = 1.959963984540054  # the standard normal 97.5% quantile
SIX_MONTHS, TWELVE_MONTHS = 183, 365
AT_RISK_EVERY = 42


@dataclass(frozen=True)
class Step:
    """The estimate just after ``day``: at risk, events and censored at that day, survival and band."""

    day: int
    at_risk: int
    events: int
    censored: int
    survival: float
    lower: float
    upper: float


def kaplan_meier(times: Sequence[int], events: Sequence[bool], z: float = Z_95) -> list[Step]:
    """One step per distinct observed time (events or censorings), after a day-0 step at 1."""
    if len(times) != len(events):
        raise ValueError("times and events must have the same length")
    if any(t < 0 for t in times):
        raise ValueError("times must not be negative")
    died = Counter(t for t, e in zip(times, events) if e)
    lost = Counter(t for t, e in zip(times, events) if not e)
    at_risk = len(times)
    survival, greenwood = 1.0, 0.0
    steps = [Step(0, at_risk, 0, 0, 1.0, 1.0, 1.0)]
    for day in sorted(set(times)):
        d, c = died[day], lost[day]
        if d:
            survival *= 1 - d / at_risk
            greenwood = greenwood + d / (at_risk * (at_risk - d)) if at_risk > d else math.inf
        lower, upper = _loglog_band(survival, greenwood, z)
        if day == 0:
            steps[0] = Step(0, at_risk, d, c, survival, lower, upper)
        else:
            steps.append(Step(day, at_risk, d, c, survival, lower, upper))
        at_risk -= d + c
    return steps


def _loglog_band(survival: float, variance: float, z: float) -> tuple[float, float]:
    if survival >= 1.0:
        return 1.0, 1.0
    if survival <= 0.0 or math.isinf(variance):
        return 0.0, 0.0  # the estimate reached 0: the band collapses onto it (lifelines too)
    log_s = math.log(survival)
    spread = z * math.sqrt(variance) / log_s  # negative: log S < 0
    centre = math.log(-log_s)
    return math.exp(-math.exp(centre - spread)), math.exp(-math.exp(centre + spread))


def _first_at_or_below(steps: Sequence[Step], attribute: str, level: float = 0.5) -> int | None:
    for step in steps:
        value = getattr(step, attribute)
        if value is not None and value <= level:
            return step.day
    return None


def median(steps: Sequence[Step]) -> int | None:
    return _first_at_or_below(steps, "survival")


def median_interval(steps: Sequence[Step]) -> tuple[int | None, int | None]:
    """Lower limit from the lower band, upper limit from the upper band."""
    return _first_at_or_below(steps, "lower"), _first_at_or_below(steps, "upper")


def at(steps: Sequence[Step], day: int) -> Step | None:
    """The estimate at ``day`` (the last step at or before it); None beyond the longest follow-up."""
    if not steps or day > steps[-1].day:
        return None
    return [s for s in steps if s.day <= day][-1]


def numbers_at_risk(times: Sequence[int], until: int | None = None,
                    every: int = AT_RISK_EVERY) -> list[dict[str, int]]:
    """Patients with a time of at least each multiple of ``every`` days, up to the longest time."""
    last = max(times, default=0) if until is None else until
    ordered = sorted(times)  # those at risk on `day` are the times from the first one >= day on
    return [{"day": day, "n": len(ordered) - bisect_left(ordered, day)} for day in range(0, last + 1, every)]


def summary(times: Sequence[int], events: Sequence[bool]) -> dict[str, Any]:
    """The contract's KM summary: n, events, censored, median and its interval, 6- and 12-month rates
    (``{"day", "rate", "ci"}``), numbers at risk and the curve."""
    steps = kaplan_meier(times, events)
    lower, upper = median_interval(steps)

    def landmark(day: int) -> dict[str, Any] | None:
        step = at(steps, day)
        return None if step is None else {"day": day, "rate": step.survival, "ci": [step.lower, step.upper]}

    n_events = sum(1 for e in events if e)
    return {
        "n": len(times), "events": n_events, "censored": len(times) - n_events,
        "median": median(steps), "median_ci": [lower, upper],
        "rate_6m": landmark(SIX_MONTHS), "rate_12m": landmark(TWELVE_MONTHS),
        "at_risk": numbers_at_risk(times),
        "curve": [{"day": s.day, "survival": s.survival, "lower": s.lower, "upper": s.upper,
                   "at_risk": s.at_risk, "events": s.events, "censored": s.censored} for s in steps],
    }
