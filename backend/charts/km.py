"""Kaplan-Meier step curves as SVG coordinates, with the numbers-at-risk table under the axis.

Data in: the KM summaries of GET /studies/{code}/efficacy (``curve`` items ``{"day", "survival",
"censored"}`` and ``at_risk`` items ``{"day", "n"}``, `schedules.survival.summary`), one per series.
Coordinates out: a step path per series (``M x y H x V y ...``: the estimate stays flat until the next
event day, then drops), censoring ticks where patients were censored, axis ticks every 42 days and
at 0-100%, and one row of at-risk counts per series under the axis at the same x as the ticks.
The picture and the API answer come from the same derivation.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 36
ROW = 18  # height of a numbers-at-risk row
TICK_EVERY = 42


@dataclass(frozen=True)
class Tick:
    value: int | float
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Series:
    name: str
    path: str
    censor_marks: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AtRiskRow:
    name: str
    y: float
    cells: tuple[tuple[float, int], ...]  # (x, n)


@dataclass(frozen=True)
class KmChart:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # x, y, width, height of the plotting area
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    at_risk: tuple[AtRiskRow, ...]


def _round(value: float) -> float:
    return round(value, 1)


def km_chart(summaries: Mapping[str, Mapping[str, Any]], width: int = WIDTH, height: int = HEIGHT,
             max_day: int | None = None, tick_every: int = TICK_EVERY) -> KmChart:
    """One step curve per named summary on shared axes; days 0..``max_day`` (default: the longest curve,
    rounded up to a tick), survival 0..1 top to bottom."""
    longest = max((point["day"] for s in summaries.values() for point in s.get("curve") or ()), default=0)
    last = max_day if max_day is not None else max(tick_every, -(-longest // tick_every) * tick_every)
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x(day: float) -> float:
        return _round(LEFT + plot_w * min(day, last) / last)

    def y(survival: float) -> float:
        return _round(TOP + plot_h * (1 - survival))

    x_ticks = tuple(Tick(day, x(day), TOP + plot_h, str(day)) for day in range(0, last + 1, tick_every))
    y_ticks = tuple(Tick(value / 100, LEFT, y(value / 100), f"{value}%") for value in range(0, 101, 25))
    series, rows = [], []
    for index, (name, summary) in enumerate(summaries.items()):
        points = [p for p in summary.get("curve") or () if p["day"] <= last]
        path = [f"M{x(0)} {y(1.0)}"]
        for point in points:
            if point["day"] > 0:
                path.append(f"H{x(point['day'])}")
            path.append(f"V{y(point['survival'])}")
        marks = tuple((x(p["day"]), y(p["survival"])) for p in points if p.get("censored"))
        series.append(Series(name, " ".join(path), marks))
        counts = {entry["day"]: entry["n"] for entry in summary.get("at_risk") or ()}
        rows.append(AtRiskRow(name, height + ROW * (index + 1),
                              tuple((tick.x, counts.get(int(tick.value), 0)) for tick in x_ticks)))
    return KmChart(width, height + ROW * (len(summaries) + 1), (LEFT, TOP, plot_w, plot_h), x_ticks, y_ticks,
                   tuple(series), tuple(rows))

