"""Clinic open days: weekends, public holidays (with China's adjusted working days), site closures."""
from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest

from schedules import clinics
from schedules.clinics import ClinicCalendar

D = date


@pytest.mark.parametrize(("rule", "country", "subdiv", "day", "is_open"), [
    ("an ordinary weekday is open", "CN", None, D(2026, 3, 4), True),
    ("Saturday is closed", "CN", None, D(2026, 3, 7), False),
    ("Sunday is closed", "GB", None, D(2026, 3, 8), False),
    # China 2026: Spring Festival off 15-23 Feb; Saturdays 14 and 28 Feb are working days (调休).
    ("CN 2026 Spring Festival starts Sunday 15 Feb", "CN", None, D(2026, 2, 15), False),
    ("CN 2026 Chinese New Year's Eve (Mon 16 Feb) is off", "CN", None, D(2026, 2, 16), False),
    ("CN 2026 Chinese New Year (Tue 17 Feb) is off", "CN", None, D(2026, 2, 17), False),
    ("CN 2026 bridge day Fri 20 Feb is off", "CN", None, D(2026, 2, 20), False),
    ("CN 2026 festival weekend Sat 21 Feb is off", "CN", None, D(2026, 2, 21), False),
    ("CN 2026 Spring Festival ends Mon 23 Feb (off)", "CN", None, D(2026, 2, 23), False),
    ("CN 2026 work resumes Tue 24 Feb", "CN", None, D(2026, 2, 24), True),
    ("CN 2026 Sat 14 Feb is an adjusted working day: open", "CN", None, D(2026, 2, 14), True),
    ("CN 2026 Sat 28 Feb is an adjusted working day: open", "CN", None, D(2026, 2, 28), True),
    ("CN 2026 Sun 4 Jan is an adjusted working day: open", "CN", None, D(2026, 1, 4), True),
    ("CN 2026 National Day Thu 1 Oct is off", "CN", None, D(2026, 10, 1), False),
    # China 2027 (package estimate until the State Council publishes): New Year is Sat 6 Feb.
    ("CN 2027 Chinese New Year's Eve Fri 5 Feb is off", "CN", None, D(2027, 2, 5), False),
    ("CN 2027 Spring Festival Mon 8 Feb is off", "CN", None, D(2027, 2, 8), False),
    ("CN 2027 Spring Festival Tue 9 Feb is off", "CN", None, D(2027, 2, 9), False),
    ("CN 2027 Spring Festival Wed 10 Feb is off", "CN", None, D(2027, 2, 10), False),
    ("CN 2027 a normal weekday in March is open", "CN", None, D(2027, 3, 3), True),
    # United Kingdom bank holidays.
    ("GB Christmas Day Fri 25 Dec 2026 is closed", "GB", None, D(2026, 12, 25), False),
    ("GB Boxing Day on a Saturday is observed Mon 28 Dec", "GB", None, D(2026, 12, 28), False),
    ("GB Good Friday 3 Apr 2026 is closed", "GB", None, D(2026, 4, 3), False),
    ("GB Early May bank holiday 4 May 2026 is closed", "GB", None, D(2026, 5, 4), False),
    ("GB without a nation: Easter Monday is not UK-wide", "GB", None, D(2026, 4, 6), True),
    ("GB England: Easter Monday 6 Apr 2026 is closed", "GB", "ENG", D(2026, 4, 6), False),
    ("GB England: summer bank holiday 31 Aug 2026 is closed", "GB", "ENG", D(2026, 8, 31), False),
    ("GB Scotland: summer bank holiday is 3 Aug 2026", "GB", "SCT", D(2026, 8, 3), False),
    ("country codes are case-insensitive", "gb", None, D(2026, 12, 25), False),
])
def test_is_open(rule, country, subdiv, day, is_open):
    assert ClinicCalendar(country, subdiv=subdiv).is_open(day) is is_open, rule


def test_cn_spring_festival_2026_week_is_closed_end_to_end():
    clinic = ClinicCalendar("CN")
    festival = [D(2026, 2, 15) + timedelta(days=n) for n in range(9)]  # 15..23 Feb
    assert not any(clinic.is_open(day) for day in festival)
    assert clinic.is_open(D(2026, 2, 13)) and clinic.is_open(D(2026, 2, 24))


def test_site_closures_add_to_holidays():
    clinic = ClinicCalendar("GB", closures=frozenset({D(2026, 6, 3)}))
    assert not clinic.is_open(D(2026, 6, 3))
    assert clinic.is_open(D(2026, 6, 4))
    from_json = ClinicCalendar("GB", closures=["2026-06-03"])  # type: ignore[arg-type]
    assert from_json == clinic


def test_unknown_country_is_rejected():
    with pytest.raises(ValueError, match="XX"):
        ClinicCalendar("XX")


# The week of 1 June 2026 in GB: Mon 1 .. Fri 5 open, Sat 6 and Sun 7 closed, Mon 8 open.
@pytest.mark.parametrize(("rule", "closures", "target", "window", "expected"), [
    ("an open target stays", (), D(2026, 6, 3), (-1, 3), D(2026, 6, 3)),
    ("Saturday moves to Friday: earlier first", (), D(2026, 6, 6), (-1, 3), D(2026, 6, 5)),
    ("Sunday moves to Monday when Saturday is closed too", (), D(2026, 6, 7), (-1, 1), D(2026, 6, 8)),
    ("Sunday: d-1 closed, d+1 open beats d-2 open", (), D(2026, 6, 7), (-2, 2), D(2026, 6, 8)),
    ("a tie at distance 2 goes earlier", (D(2026, 6, 8),), D(2026, 6, 7), (-2, 2), D(2026, 6, 5)),
    ("never leaves the window early", (), D(2026, 6, 6), (0, 3), D(2026, 6, 8)),
    ("never leaves the window late", (D(2026, 6, 5),), D(2026, 6, 6), (-1, 1), None),
    ("a window of one closed day has no open day", (), D(2026, 6, 6), (0, 0), None),
])
def test_nearest_open(rule, closures, target, window, expected):
    clinic = ClinicCalendar("GB", closures=frozenset(closures))
    start, end = target + timedelta(days=window[0]), target + timedelta(days=window[1])
    assert clinic.nearest_open(target, start, end) == expected, rule


def test_holiday_tables_are_built_once_per_year(monkeypatch):
    calls: list[object] = []
    real = holidays.country_holidays

    def counting(*args, **kwargs):
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)

    clinics._closed_days.cache_clear()
    monkeypatch.setattr(holidays, "country_holidays", counting)
    clinic = ClinicCalendar("CN")
    start = D(2026, 1, 1)
    for _ in range(3):
        for n in range(730):
            clinic.is_open(start + timedelta(days=n))
    assert calls.count(2026) == 1 and calls.count(2027) == 1
    assert len([c for c in calls if c is not None]) == 2
