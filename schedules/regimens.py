"""Treatment regimens as data: one YAML file per regimen under ``schedules/regimens/``.

A regimen is read once, validated field by field, and turned into frozen dataclasses. Every problem
raises :class:`RegimenError` naming the file (or override) and the field, so a broken data file fails
loudly at start-up rather than producing a wrong calendar for a patient.

File layout (see ``INET-PAC.yaml``)::

    code: INET-PAC
    name: Inetetamab + weekly paclitaxel
    cycle_length_days: 21
    max_cycles: null            # optional; null = until discontinuation
    agents:
      - name: paclitaxel        # lower-case generic name
        dose: 80
        unit: mg/m2             # mg/kg | mg/m2 | mg (flat)
        route: IV               # IV | oral
        days: [1, 8, 15]        # days of the cycle, or "continuous" for daily oral dosing
        loading_dose: 8         # optional: the dose for cycle 1
        reload_after_days: 42   # optional: a gap this long since the last dose ...
        reload_dose: 840        # ... makes the next dose a reload
    windows:                    # optional dosing windows, in days around the protocol date
      day_1: {before: 1, after: 3}
      other_days: {before: 1, after: 1}
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Agent",
    "DosingWindows",
    "Regimen",
    "RegimenError",
    "builtin_regimens",
    "load_regimen",
    "parse_regimen",
]

REGIMEN_DIR = Path(__file__).with_name("regimens")
UNITS = ("mg/kg", "mg/m2", "mg")
ROUTES = ("IV", "oral")
CONTINUOUS = "continuous"

Dose = int | float

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
# Generic (INN) names are written lower case, e.g. "inetetamab"; the mobile app shows them as-is.
_GENERIC_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_REGIMEN_FIELDS = ("code", "name", "cycle_length_days", "max_cycles", "agents", "windows")
_AGENT_FIELDS = (
    "name", "dose", "unit", "route", "days", "loading_dose", "reload_after_days", "reload_dose",
)
_WINDOW_FIELDS = ("day_1", "other_days")


class RegimenError(ValueError):
    """A regimen file or override is invalid; ``source`` and ``field`` say where."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}")


@dataclass(frozen=True)
class DosingWindows:
    """How many days a dosing visit may be early (``before``) or late (``after``).

    Protocol defaults (Cadence scheduling issue): day 1 from −1 to +3 days, later days (8, 15,
    ...) ±1 day. A study may change them with :meth:`Regimen.with_overrides`.
    """

    day1_before: int = 1
    day1_after: int = 3
    other_before: int = 1
    other_after: int = 1

    def around(self, day: int) -> tuple[int, int]:
        """(days early, days late) allowed for a visit on ``day`` of the cycle."""
        if day == 1:
            return self.day1_before, self.day1_after
        return self.other_before, self.other_after

    def to_raw(self) -> dict[str, dict[str, int]]:
        return {
            "day_1": {"before": self.day1_before, "after": self.day1_after},
            "other_days": {"before": self.other_before, "after": self.other_after},
        }


@dataclass(frozen=True)
class Agent:
    """One drug of a regimen. ``days`` is empty when the agent is taken daily (``continuous``)."""

    name: str
    dose: Dose
    unit: str
    route: str
    days: tuple[int, ...]
    continuous: bool = False
    loading_dose: Dose | None = None
    reload_after_days: int | None = None
    reload_dose: Dose | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dose": self.dose,
            "unit": self.unit,
            "route": self.route,
            "days": CONTINUOUS if self.continuous else list(self.days),
            "loading_dose": self.loading_dose,
            "reload_after_days": self.reload_after_days,
            "reload_dose": self.reload_dose,
        }


@dataclass(frozen=True)
class Regimen:
    """A validated regimen. Build one with :func:`load_regimen` or :func:`parse_regimen`."""

    code: str
    name: str
    cycle_length_days: int
    agents: tuple[Agent, ...]
    max_cycles: int | None = None
    windows: DosingWindows = field(default_factory=DosingWindows)

    @functools.cached_property
    def clinic_days(self) -> tuple[int, ...]:
        """Days of the cycle with a clinic (infusion) visit, ascending."""
        return tuple(sorted({d for a in self.agents if not a.continuous for d in a.days}))

    @functools.cached_property
    def continuous_agents(self) -> tuple[Agent, ...]:
        """Agents taken every day at home (no visit; a dosing-diary entry instead)."""
        return tuple(a for a in self.agents if a.continuous)

    def agents_on(self, day: int) -> tuple[Agent, ...]:
        """Clinic agents given on ``day`` of the cycle, in file order."""
        return self._agents_by_day.get(day, ())

    @functools.cached_property
    def _agents_by_day(self) -> dict[int, tuple[Agent, ...]]:
        return {d: tuple(a for a in self.agents if d in a.days) for d in self.clinic_days}

    def to_dict(self) -> dict[str, Any]:
        """The ``GET /regimens`` representation."""
        return {
            "code": self.code,
            "name": self.name,
            "cycle_length_days": self.cycle_length_days,
            "max_cycles": self.max_cycles,
            "agents": [a.to_dict() for a in self.agents],
        }

    def to_raw(self) -> dict[str, Any]:
        """The file representation: ``parse_regimen(r.to_raw(), ...) == r``."""
        raw = self.to_dict()
        raw["windows"] = self.windows.to_raw()
        return raw

    def with_overrides(self, overrides: Mapping[str, Any]) -> Regimen:
        """A study's variant of this regimen, validated exactly like a file.

        ``overrides`` may change any field but ``code``; agents are addressed by name and
        cannot be added, e.g. ``{"agents": {"paclitaxel": {"dose": 90}},
        "windows": {"day_1": {"after": 5}}}``.
        """
        source = f"{self.code} overrides"
        if not isinstance(overrides, Mapping):
            raise RegimenError(source, "<root>", "must be a mapping")
        raw = self.to_raw()
        for key, value in overrides.items():
            if key == "code":
                raise RegimenError(source, "code", "cannot be overridden")
            if key not in _REGIMEN_FIELDS:
                raise RegimenError(source, str(key), "unknown field")
            if key == "agents":
                raw["agents"] = _override_agents(raw["agents"], value, source)
            elif key == "windows":
                raw["windows"] = _merge_windows(raw["windows"], value, source)
            else:
                raw[key] = value
        return parse_regimen(raw, source)


def _override_agents(agents: list[dict[str, Any]], value: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise RegimenError(source, "agents", "must map agent names to fields")
    by_name = {a["name"]: dict(a) for a in agents}
    for name, changes in value.items():
        where = f"agents.{name}"
        if name not in by_name:
            raise RegimenError(source, where, "no such agent in this regimen")
        if not isinstance(changes, Mapping):
            raise RegimenError(source, where, "must be a mapping of fields")
        for key, new in changes.items():
            if key not in _AGENT_FIELDS or key == "name":
                raise RegimenError(source, f"{where}.{key}", "unknown or fixed field")
            by_name[name][key] = new
    return [by_name[a["name"]] for a in agents]


def _merge_windows(current: dict[str, Any], value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise RegimenError(source, "windows", "must be a mapping")
    merged = {k: dict(v) for k, v in current.items()}
    for key, part in value.items():
        if key not in _WINDOW_FIELDS:
            raise RegimenError(source, f"windows.{key}", "unknown field")
        if not isinstance(part, Mapping):
            raise RegimenError(source, f"windows.{key}", "must be a mapping")
        merged[key].update(part)
    return merged


# -- validation -----------------------------------------------------------------------------------

def _require_mapping(value: Any, source: str, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RegimenError(source, where, "must be a mapping")
    for key in value:
        if key not in allowed:
            raise RegimenError(source, f"{where}.{key}" if where != "<root>" else str(key),
                               "unknown field")
    return value


def _int(value: Any, source: str, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RegimenError(source, where, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise RegimenError(source, where, f"must be at least {minimum}, got {value}")
    return value


def _dose(value: Any, source: str, where: str) -> Dose:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RegimenError(source, where, f"must be a number, got {value!r}")
    if not value > 0 or value != value or value == float("inf"):
        raise RegimenError(source, where, f"must be a positive finite number, got {value!r}")
    return value


def _text(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegimenError(source, where, "must be a non-empty string")
    return value


def _parse_agent(raw: Any, source: str, where: str, cycle_length: int) -> Agent:
    raw = _require_mapping(raw, source, where, _AGENT_FIELDS)
    for required in ("name", "dose", "unit", "route", "days"):
        if required not in raw:
            raise RegimenError(source, f"{where}.{required}", "is required")
    name = _text(raw["name"], source, f"{where}.name")
    if not _GENERIC_NAME.match(name):
        raise RegimenError(source, f"{where}.name", f"must be a lower-case generic name, got {name!r}")
    dose = _dose(raw["dose"], source, f"{where}.dose")
    unit = raw["unit"]
    if unit not in UNITS:
        raise RegimenError(source, f"{where}.unit", f"must be one of {', '.join(UNITS)}, got {unit!r}")
    route = raw["route"]
    if route not in ROUTES:
        raise RegimenError(source, f"{where}.route", f"must be one of {', '.join(ROUTES)}, got {route!r}")

    days_raw = raw["days"]
    continuous = days_raw == CONTINUOUS
    days: tuple[int, ...] = ()
    if continuous:
        if route != "oral":
            raise RegimenError(source, f"{where}.days", "continuous dosing is for oral agents only")
    else:
        if not isinstance(days_raw, list) or not days_raw:
            raise RegimenError(source, f"{where}.days",
                               f"must be a non-empty list of cycle days or {CONTINUOUS!r}")
        days = tuple(_int(d, source, f"{where}.days", 1) for d in days_raw)
        if list(days) != sorted(set(days)):
            raise RegimenError(source, f"{where}.days", "must be ascending without repeats")
        if days[-1] > cycle_length:
            raise RegimenError(source, f"{where}.days",
                               f"day {days[-1]} is past the {cycle_length}-day cycle")

    loading = raw.get("loading_dose")
    if loading is not None:
        loading = _dose(loading, source, f"{where}.loading_dose")
    reload_after = raw.get("reload_after_days")
    reload_dose = raw.get("reload_dose")
    if (reload_after is None) != (reload_dose is None):
        missing = "reload_dose" if reload_dose is None else "reload_after_days"
        raise RegimenError(source, f"{where}.{missing}",
                           "reload_after_days and reload_dose go together")
    if reload_after is not None:
        if continuous:
            raise RegimenError(source, f"{where}.reload_after_days",
                               "a daily (continuous) agent has no reload rule")
        reload_after = _int(reload_after, source, f"{where}.reload_after_days", 1)
        reload_dose = _dose(reload_dose, source, f"{where}.reload_dose")
    return Agent(name=name, dose=dose, unit=unit, route=route, days=days, continuous=continuous,
                 loading_dose=loading, reload_after_days=reload_after, reload_dose=reload_dose)


def _parse_windows(raw: Any, source: str) -> DosingWindows:
    if raw is None:
        return DosingWindows()
    raw = _require_mapping(raw, source, "windows", _WINDOW_FIELDS)
    defaults = DosingWindows()
    values: dict[str, int] = {}
    for key, prefix in (("day_1", "day1"), ("other_days", "other")):
        part = _require_mapping(raw.get(key, {}), source, f"windows.{key}", ("before", "after"))
        for side in ("before", "after"):
            attr = f"{prefix}_{side}"
            values[attr] = _int(part.get(side, getattr(defaults, attr)), source,
                                f"windows.{key}.{side}", 0)
    return DosingWindows(**values)


def _check_windows_apart(regimen: Regimen, source: str) -> None:
    """Windows of consecutive visits must not touch, so cycles and visits can never overlap."""
    days = list(regimen.clinic_days) + [regimen.cycle_length_days + 1]  # + next cycle's day 1
    w = regimen.windows
    for here, nxt in zip(days, days[1:]):
        latest = here + w.around(here)[1]
        earliest = nxt - w.around(nxt)[0]
        if latest >= earliest:
            label = f"day {nxt}" if nxt <= regimen.cycle_length_days else "the next cycle's day 1"
            raise RegimenError(source, "windows",
                               f"the window of day {here} overlaps the window of {label}")


def parse_regimen(raw: Any, source: str) -> Regimen:
    """Validate a mapping read from YAML (or built by overrides); ``source`` names it in errors."""
    raw = _require_mapping(raw, source, "<root>", _REGIMEN_FIELDS)
    for required in ("code", "name", "cycle_length_days", "agents"):
        if required not in raw:
            raise RegimenError(source, required, "is required")
    code = _text(raw["code"], source, "code")
    if not _CODE.match(code):
        raise RegimenError(source, "code", f"must be upper-case letters, digits and '-', got {code!r}")
    name = _text(raw["name"], source, "name")
    cycle_length = _int(raw["cycle_length_days"], source, "cycle_length_days", 1)
    max_cycles = raw.get("max_cycles")
    if max_cycles is not None:
        max_cycles = _int(max_cycles, source, "max_cycles", 1)

    agents_raw = raw["agents"]
    if not isinstance(agents_raw, list) or not agents_raw:
        raise RegimenError(source, "agents", "must be a non-empty list")
    agents = tuple(_parse_agent(a, source, f"agents[{i}]", cycle_length)
                   for i, a in enumerate(agents_raw))
    seen: set[str] = set()
    for i, agent in enumerate(agents):
        if agent.name in seen:
            raise RegimenError(source, f"agents[{i}].name", f"{agent.name!r} is listed twice")
        seen.add(agent.name)
    if not any(1 in a.days for a in agents):
        # The dosing clock runs from each cycle's day-1 visit, so there must be one.
        raise RegimenError(source, "agents", "no agent is given in clinic on day 1")

    regimen = Regimen(code=code, name=name, cycle_length_days=cycle_length, agents=agents,
                      max_cycles=max_cycles, windows=_parse_windows(raw.get("windows"), source))
    _check_windows_apart(regimen, source)
    return regimen


def load_regimen(path: str | Path) -> Regimen:
    """Read and validate one regimen file; errors name the file."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegimenError(source, "<file>", f"cannot be read ({exc.strerror})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegimenError(source, "<yaml>", f"is not valid YAML ({exc})") from exc
    return parse_regimen(raw, source)


@functools.cache
def _builtin() -> tuple[Regimen, ...]:
    regimens: dict[str, Regimen] = {}
    for path in sorted(REGIMEN_DIR.glob("*.yaml")):
        regimen = load_regimen(path)
        if regimen.code != path.stem:
            raise RegimenError(str(path), "code", f"{regimen.code!r} does not match the file name")
        regimens[regimen.code] = regimen
    return tuple(regimens.values())


def builtin_regimens() -> dict[str, Regimen]:
    """The regimens shipped in ``schedules/regimens/``, by code (files are read once)."""
    return {r.code: r for r in _builtin()}
