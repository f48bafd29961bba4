"""Regimens are data: the built-in files, their validation, and study overrides."""
from __future__ import annotations

import pytest

from schedules.regimens import (
    REGIMEN_DIR,
    DosingWindows,
    RegimenError,
    builtin_regimens,
    load_regimen,
    parse_regimen,
)

INET = ("inetetamab", 6, "mg/kg", "IV", [1], 8, None, None)
PER = ("pertuzumab", 420, "mg", "IV", [1], 840, 42, 840)
PAC = ("paclitaxel", 80, "mg/m2", "IV", [1, 8, 15], None, None, None)
DOC = ("docetaxel", 75, "mg/m2", "IV", [1], None, None, None)
VNR = ("vinorelbine", 25, "mg/m2", "IV", [1, 8], None, None, None)
PYR = ("pyrotinib", 400, "mg", "oral", "continuous", None, None, None)
AGENT_KEYS = ("name", "dose", "unit", "route", "days", "loading_dose", "reload_after_days", "reload_dose")


@pytest.mark.parametrize(("code", "expected"), [
    pytest.param("INET-PAC", [INET, PAC], id="inetetamab 8 then 6 mg/kg d1; paclitaxel 80 mg/m2 d1,8,15"),
    pytest.param("INET-PAC-PER", [INET, PER, PAC], id="as INET-PAC plus pertuzumab 840 then 420, reload 840 after 42 days"),
    pytest.param("INET-PER-DOC", [INET, PER, DOC], id="inetetamab, pertuzumab, docetaxel 75 mg/m2 d1"),
    pytest.param("INET-PYR-VNR", [INET, VNR, PYR], id="inetetamab, vinorelbine 25 mg/m2 d1,8, pyrotinib 400 mg daily oral"),
])
def test_builtin_regimen_agents(code, expected):
    regimen = builtin_regimens()[code]
    assert regimen.to_dict() == {
        "code": code,
        "name": regimen.name,
        "cycle_length_days": 21,
        "max_cycles": None,
        "agents": [dict(zip(AGENT_KEYS, row)) for row in expected],
    }
    assert regimen.windows == DosingWindows(1, 3, 1, 1)


def test_builtin_regimens_are_the_four_files_and_cached():
    first = builtin_regimens()
    assert sorted(first) == ["INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR"]
    first.clear()  # a caller's dict is its own
    assert builtin_regimens()["INET-PAC"] is builtin_regimens()["INET-PAC"]  # read once


def test_clinic_days_and_continuous_agents():
    regimen = builtin_regimens()["INET-PYR-VNR"]
    assert regimen.clinic_days == (1, 8)
    assert [a.name for a in regimen.continuous_agents] == ["pyrotinib"]
    assert [a.name for a in regimen.agents_on(8)] == ["vinorelbine"]


@pytest.mark.parametrize("code", sorted(builtin_regimens()))
def test_file_round_trips(code):
    regimen = builtin_regimens()[code]
    assert load_regimen(REGIMEN_DIR / f"{code}.yaml") == regimen
    assert parse_regimen(regimen.to_raw(), "round trip") == regimen


# -- study overrides --------------------------------------------------------------------------------

def test_override_dose_and_window_leaves_the_builtin_alone():
    base = builtin_regimens()["INET-PAC"]
    study = base.with_overrides({
        "agents": {"paclitaxel": {"dose": 90}, "inetetamab": {"loading_dose": 4}},
        "windows": {"day_1": {"after": 5}},
        "max_cycles": 6,
    })
    assert [(a.name, a.dose, a.loading_dose) for a in study.agents] == [
        ("inetetamab", 6, 4), ("paclitaxel", 90, None)]
    assert study.windows == DosingWindows(day1_before=1, day1_after=5, other_before=1, other_after=1)
    assert study.max_cycles == 6
    assert builtin_regimens()["INET-PAC"] == base
    assert base.agents[1].dose == 80


@pytest.mark.parametrize(("rule", "overrides", "field"), [
    ("a dose must be positive", {"agents": {"paclitaxel": {"dose": 0}}}, "agents[1].dose"),
    ("an unknown agent is named", {"agents": {"trastuzumab": {"dose": 2}}}, "agents.trastuzumab"),
    ("an unknown agent field is named", {"agents": {"paclitaxel": {"colour": 2}}}, "agents.paclitaxel.colour"),
    ("the code is the regimen's identity", {"code": "OTHER"}, "code"),
    ("an unknown top-level field is named", {"cycles": 3}, "cycles"),
    ("windows must not overlap the next visit", {"windows": {"other_days": {"after": 6}}}, "windows"),
    ("a window is a whole number of days", {"windows": {"day_1": {"before": 1.5}}}, "windows.day_1.before"),
])
def test_override_is_validated_like_a_file(rule, overrides, field):
    with pytest.raises(RegimenError) as caught:
        builtin_regimens()["INET-PAC"].with_overrides(overrides)
    assert caught.value.field == field, rule
    assert caught.value.source == "INET-PAC overrides"
    assert str(caught.value).startswith(f"INET-PAC overrides: {field}: ")


# -- validation of files ----------------------------------------------------------------------------

GOOD = """\
code: TEST-1
name: Test
cycle_length_days: 21
agents:
  - {name: inetetamab, dose: 6, unit: mg/kg, route: IV, days: [1], loading_dose: 8}
  - {name: pyrotinib, dose: 400, unit: mg, route: oral, days: continuous}
"""


def _without(line_start: str) -> str:
    return "\n".join(line for line in GOOD.splitlines() if not line.startswith(line_start)) + "\n"


@pytest.mark.parametrize(("rule", "text", "field"), [
    ("code is required", _without("code:"), "code"),
    ("code is upper case", GOOD.replace("TEST-1", "test 1"), "code"),
    ("cycle length is a whole number", GOOD.replace("21", "three weeks"), "cycle_length_days"),
    ("cycle length is at least one day", GOOD.replace("21", "0"), "cycle_length_days"),
    ("max_cycles is at least 1", GOOD + "max_cycles: 0\n", "max_cycles"),
    ("agents is a non-empty list", _without("  -").replace("agents:", "agents: []"), "agents"),
    ("an agent's dose is required", GOOD.replace("dose: 6, ", ""), "agents[0].dose"),
    ("a dose is a number", GOOD.replace("dose: 6", "dose: six"), "agents[0].dose"),
    ("a dose is positive", GOOD.replace("dose: 400", "dose: -400"), "agents[1].dose"),
    ("a unit is mg/kg, mg/m2 or mg", GOOD.replace("mg/kg", "mg/lb"), "agents[0].unit"),
    ("a route is IV or oral", GOOD.replace("route: IV", "route: SC"), "agents[0].route"),
    ("agent names are lower-case generic names", GOOD.replace("inetetamab", "Cipterbin"), "agents[0].name"),
    ("days are ascending", GOOD.replace("days: [1]", "days: [8, 1]"), "agents[0].days"),
    ("days fall inside the cycle", GOOD.replace("days: [1]", "days: [1, 22]"), "agents[0].days"),
    ("continuous dosing is oral", GOOD.replace("route: oral", "route: IV"), "agents[1].days"),
    ("a reload rule needs a reload dose", GOOD.replace("loading_dose: 8", "reload_after_days: 42"),
     "agents[0].reload_dose"),
    ("a reload dose needs a reload rule", GOOD.replace("loading_dose: 8", "reload_dose: 8"),
     "agents[0].reload_after_days"),
    ("an agent is listed once", GOOD.replace("pyrotinib", "inetetamab"), "agents[1].name"),
    ("some agent is given in clinic on day 1", GOOD.replace("days: [1]", "days: [8]"), "agents"),
    ("unknown fields are rejected", GOOD + "colour: blue\n", "colour"),
    ("unknown agent fields are rejected", GOOD.replace("loading_dose", "loading_dos"),
     "agents[0].loading_dos"),
    ("day-1 and day-8 windows must not overlap",
     GOOD.replace("days: [1]", "days: [1, 4]"), "windows"),
    ("the last day's window must not reach the next cycle",
     GOOD.replace("days: [1]", "days: [1, 21]"), "windows"),
    ("the file is valid YAML", GOOD + "agents: [\n", "<yaml>"),
    ("the file holds a mapping", "- just a list\n", "<root>"),
])
def test_invalid_file_names_file_and_field(tmp_path, rule, text, field):
    path = tmp_path / "BAD.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegimenError) as caught:
        load_regimen(path)
    assert caught.value.field == field, rule
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value) and field in str(caught.value)


def test_valid_file_loads(tmp_path):
    path = tmp_path / "TEST-1.yaml"
    path.write_text(GOOD, encoding="utf-8")
    regimen = load_regimen(path)
    assert regimen.code == "TEST-1" and regimen.max_cycles is None
    assert regimen.clinic_days == (1,)


def test_missing_file_is_a_regimen_error(tmp_path):
    with pytest.raises(RegimenError, match="<file>"):
        load_regimen(tmp_path / "NOPE.yaml")


def test_regimen_error_is_a_value_error():
    assert issubclass(RegimenError, ValueError)
