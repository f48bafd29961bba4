"""Patient histories for the PFS and assessment-visit tests, on one calendar: first dose Mon 2026-01-05,
scans every 42 days ± 7.
  visit 1  target 02-16  window 02-09..02-23
  visit 2  target 03-30  window 03-23..04-06
  visit 3  target 05-11  window 05-04..05-18
  visit 4  target 06-22  window 06-15..06-29
  visit 5  target 08-03  window 07-27..08-10
"""
from __future__ import annotations

from datetime import date
from typing import Any

from schedules.pfs_assessments import Assessment

FIRST_DOSE = date(2026, 1, 5)
BASELINE = Assessment(date(2025, 12, 29), baseline=True)


def d(month_day: str) -> date:
    """'03-30' -> 2026-03-30."""
    month, day = month_day.split("-")
    return date(2026, int(month), int(day))


def scan(month_day: str, response: str | None = "SD", **extra: Any) -> Assessment:
    return Assessment(d(month_day), response, **extra)
