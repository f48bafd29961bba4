"""Which days a site's clinic is open, and where a visit goes when it falls on a closed day.

A clinic is closed on the country's weekend, on its public holidays and on the site's own closure
days. Holidays come from the ``holidays`` package, which also models China's adjusted working days
(调休): some Saturdays and Sundays around Spring Festival and National Day are official working
days (``HolidayBase.weekend_workdays``), and on those the clinic is open. For 2026 the package gives
the State Council General Office's published arrangement (Spring Festival off 15–23 Feb,
working Saturdays 14 and 28 Feb); years not yet published (e.g. 2027) are the package's estimate
and change when the package is upgraded.

Closed days are computed once per (country, subdivision, year) and cached, so planning thousands
of calendars never rebuilds a holiday table.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays

__all__ = ["ClinicCalendar"]

_ONE_DAY = timedelta(days=1)


@functools.lru_cache(maxsize=64)
def _check_country(country: str, subdiv: str | None) -> None:
    try:
        holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as exc:
        raise ValueError(f"no holiday calendar for country {country!r}, subdivision {subdiv!r}") from exc


@functools.lru_cache(maxsize=1024)
def _closed_days(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """Every day of ``year`` that is not an official working day (weekends, holidays, bridges)."""
    table = holidays.country_holidays(country, subdiv=subdiv, years=year)
    closed: set[date] = set()
    day = date(year, 1, 1)
    while day.year == year:
        if not table.is_working_day(day):
            closed.add(day)
        day += _ONE_DAY
    return frozenset(closed)


@dataclass(frozen=True)
class ClinicCalendar:
    """Open and closed days of one clinic.

    ``country`` is an ISO 3166-1 code (``"CN"``, ``"GB"``); ``subdiv`` an optional subdivision
    (``"ENG"``: without it the UK calendar holds only the holidays common to all four nations, so
    Easter Monday is missing). ``closures`` are the site's extra closed dates.
    """

    country: str
    closures: frozenset[date] = field(default_factory=frozenset)
    subdiv: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country", self.country.upper())
        if not isinstance(self.closures, frozenset):
            object.__setattr__(self, "closures", frozenset(self._as_dates(self.closures)))
        _check_country(self.country, self.subdiv)

    @staticmethod
    def _as_dates(values: Iterable[date | str]) -> Iterable[date]:
        for value in values:
            yield date.fromisoformat(value) if isinstance(value, str) else value

    def is_open(self, day: date) -> bool:
        return day not in self.closures and day not in _closed_days(self.country, self.subdiv, day.year)

    def nearest_open(self, target: date, window_start: date, window_end: date) -> date | None:
        """The open day nearest ``target`` inside the window, the earlier one on a tie.

        Tries target, target−1, target+1, target−2, target+2, ... and never leaves
        [window_start, window_end]. ``None`` when every day of the window is closed.
        """
        if window_start <= target <= window_end and self.is_open(target):
            return target
        step = 1
        while True:
            earlier, later = target - timedelta(days=step), target + timedelta(days=step)
            in_before, in_after = earlier >= window_start, later <= window_end
            if not (in_before or in_after):
                return None
            if in_before and earlier <= window_end and self.is_open(earlier):
                return earlier
            if in_after and later >= window_start and self.is_open(later):
                return later
            step += 1
