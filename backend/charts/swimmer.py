"""A swimmer plot: one bar per patient from the first dose to the end of follow-up, with the response
(first CR/PR, confirmation) and progression marked, and an arrow on the patients still followed.

Data in: a `Lane` per patient on the study-day scale of GET /patients/{id}/response (day 1 is the
first dose; ``os.days`` is the end of follow-up). Coordinates out: bars longest first, marker
positions, and arrow polygons, all in SVG units.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
LABEL = 80
RIGHT = 24
BAR = 10
GAP = 6
TICK_EVERY = 42
MARKER_KINDS = ("response", "confirmation", "progression", "death")


@dataclass(frozen=True)
class Lane:
    """One patient: label, days followed, whether follow-up goes on, and (kind, day) markers."""

    label: str
    days: int
    ongoing: bool
    markers: tuple[tuple[str, int], ...] = ()
    best_response: str = ""

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("a lane lasts at least day 1")
        unknown = [kind for kind, _ in self.markers if kind not in MARKER_KINDS]
        if unknown:
            raise ValueError(f"unknown marker kinds {unknown}")


@dataclass(frozen=True)
class Bar:
    label: str
    best_response: str
    x: float
    y: float
    width: float
    height: float
    markers: tuple[tuple[str, float, float], ...]  # (kind, cx, cy)
    arrow: str | None  # polygon points, for ongoing patients


@dataclass(frozen=True)
class SwimmerChart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    x_ticks: tuple[tuple[int, float], ...]  # (day, x)


def swimmer_chart(lanes: Sequence[Lane], width: int = WIDTH, tick_every: int = TICK_EVERY) -> SwimmerChart:
    """Bars sorted longest first (then by label); the day axis spans the longest lane, rounded up to a tick."""
    longest = max((lane.days for lane in lanes), default=1)
    last = max(tick_every, -(-longest // tick_every) * tick_every)
    plot = width - LABEL - RIGHT

    def x(day: float) -> float:
        return round(LABEL + plot * day / last, 1)

    bars = []
    for index, lane in enumerate(sorted(lanes, key=lambda lane: (-lane.days, lane.label))):
        top = GAP + index * (BAR + GAP)
        middle = top + BAR / 2
        end = x(lane.days)
        arrow = None
        if lane.ongoing:
            arrow = f"{end},{top - 2} {round(end + 8, 1)},{middle} {end},{top + BAR + 2}"
        markers = tuple((kind, x(min(day, lane.days)), middle) for kind, day in lane.markers)
        bars.append(Bar(lane.label, lane.best_response, LABEL, top, round(end - LABEL, 1), BAR, markers, arrow))
    height = GAP + len(bars) * (BAR + GAP) + 20
    return SwimmerChart(width, height, tuple(bars), tuple((day, x(day)) for day in range(0, last + 1, tick_every)))
