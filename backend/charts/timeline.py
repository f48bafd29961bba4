"""A patient's two clocks as a swimmer-style timeline, and the PRO-CTCAE grade strip under it.

Data in (dates, states, already-translated labels), SVG coordinates out: the console's template
only draws the shapes this module returns, so the picture can be tested without a browser. Lanes
share one horizontal scale (days since the first dose), so the dosing clock (cycles), the imaging
clock (assessment windows every 6 weeks from the first dose, RECIST 1.1), the weekly surveys and
the grade strip line up vertically. Colour is chosen by CSS class (`static/console/console.css`),
and every mark carries a `<title>`, so the state is also readable without colour.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WIDTH = 960
LABEL_WIDTH = 150
RIGHT_MARGIN = 24
AXIS_HEIGHT = 34
LANE_HEIGHT = 46
MILESTONE_ROOM = 30
STRIP_ROW = 18
TICK_DAYS = 21
MARK_SHAPES = {"dose": "circle", "scan": "diamond", "survey": "square"}


@dataclass(frozen=True)
class Mark:
    """One visit on a lane: its day, its state (a CSS class), a short label and a full title."""

    day: date
    state: str
    title: str
    label: str = ""


@dataclass(frozen=True)
class Span:
    """A shaded stretch on a lane (an assessment window)."""

    start: date
    end: date
    state: str
    title: str


@dataclass(frozen=True)
class Lane:
    name: str
    shape: str  # dose | scan | survey
    marks: Sequence[Mark] = ()
    spans: Sequence[Span] = ()


@dataclass(frozen=True)
class Milestone:
    """A vertical line across every lane: today, the PFS event or censoring, the protect deadline."""

    day: date
    state: str
    label: str


@dataclass(frozen=True)
class Shape:
    """One SVG element: `tag` with numeric/string attributes, a CSS class, optional text and title."""

    tag: str
    cls: str
    attrs: tuple[tuple[str, str], ...]
    text: str = ""
    title: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    shapes: tuple[Shape, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Scale:
    """Days to x: `first` at the left edge of the plot, `last` at the right."""

    first: date
    last: date
    width: int = WIDTH

    @property
    def left(self) -> float:
        return LABEL_WIDTH

    @property
    def right(self) -> float:
        return self.width - RIGHT_MARGIN

    @property
    def per_day(self) -> float:
        return (self.right - self.left) / max(1, (self.last - self.first).days)

    def x(self, day: date) -> float:
        return round(self.left + (day - self.first).days * self.per_day, 1)

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


def _shape(tag: str, cls: str, text: str = "", title: str = "", **attrs: float | str) -> Shape:
    return Shape(tag, cls, tuple((key.replace("_", "-"), str(value)) for key, value in attrs.items()), text, title)


def _mark(shape: str, x: float, y: float, mark: Mark) -> Shape:
    cls = f"mark {shape} state-{mark.state}"
    if shape == "circle":
        return _shape("circle", cls, title=mark.title, cx=x, cy=y, r=6)
    if shape == "diamond":
        points = f"{x},{y - 8} {x + 8},{y} {x},{y + 8} {x - 8},{y}"
        return _shape("polygon", cls, title=mark.title, points=points)
    return _shape("rect", cls, title=mark.title, x=round(x - 4, 1), y=y - 4, width=8, height=8)


def axis(scale: Scale, top: float, bottom: float, tick_label: Callable[[date], str]) -> list[Shape]:
    """Ticks every 3 weeks (or a multiple, so labels do not collide) from the first day."""
    shapes = [_shape("line", "axis", x1=scale.left, y1=top + AXIS_HEIGHT - 6, x2=scale.right, y2=top + AXIS_HEIGHT - 6)]
    step = TICK_DAYS
    while step * scale.per_day < 60:
        step += TICK_DAYS
    day = scale.first
    while day <= scale.last:
        x = scale.x(day)
        shapes.append(_shape("line", "grid", x1=x, y1=top + AXIS_HEIGHT - 10, x2=x, y2=bottom))
        shapes.append(_shape("text", "tick", tick_label(day), x=x, y=top + 14, text_anchor="middle"))
        day += timedelta(days=step)
    return shapes


def timeline(scale: Scale, lanes: Sequence[Lane], milestones: Sequence[Milestone],
             tick_label: Callable[[date], str]) -> Chart:
    """The swimmer chart: one lane per clock, marks at their days, milestones across all lanes."""
    top = MILESTONE_ROOM
    lanes_top = top + AXIS_HEIGHT
    bottom = lanes_top + LANE_HEIGHT * len(lanes)
    shapes = axis(scale, top, bottom, tick_label)
    for index, lane in enumerate(lanes):
        y0 = lanes_top + index * LANE_HEIGHT
        mid = y0 + LANE_HEIGHT / 2
        shapes.append(_shape("rect", "lane" + (" alt" if index % 2 else ""), x=0, y=y0, width=scale.width,
                             height=LANE_HEIGHT))
        shapes.append(_shape("text", "lane-name", lane.name, x=8, y=mid + 4))
        shapes.append(_shape("line", "lane-line", x1=scale.left, y1=mid, x2=scale.right, y2=mid))
        for span in lane.spans:
            start, end = max(span.start, scale.first), min(span.end, scale.last)
            if start > end:
                continue
            shapes.append(_shape("rect", f"span state-{span.state}", title=span.title, x=scale.x(start),
                                 y=y0 + 6, width=max(2.0, round(scale.x(end) - scale.x(start), 1)),
                                 height=LANE_HEIGHT - 12))
        for mark in lane.marks:
            if not scale.contains(mark.day):
                continue
            x = scale.x(mark.day)
            shapes.append(_mark(MARK_SHAPES.get(lane.shape, "square"), x, mid, mark))
            if mark.label:
                shapes.append(_shape("text", f"mark-label state-{mark.state}", mark.label, x=x, y=mid - 11,
                                     text_anchor="middle"))
    for number, milestone in enumerate(milestones):
        if not scale.contains(milestone.day):
            continue
        x = scale.x(milestone.day)
        shapes.append(_shape("line", f"milestone state-{milestone.state}", title=milestone.label,
                             x1=x, y1=top - 4 + (number % 2) * 12, x2=x, y2=bottom))
        anchor = "end" if x > scale.width * 0.7 else "start"
        shapes.append(_shape("text", f"milestone-label state-{milestone.state}", milestone.label,
                             x=x + (-4 if anchor == "end" else 4), y=top - 8 + (number % 2) * 12, text_anchor=anchor))
    return Chart(scale.width, int(bottom + 4), tuple(shapes))


@dataclass(frozen=True)
class GradeCell:
    """One symptom's PRO-CTCAE composite grade (0–3, None when not gradable) in one report."""

    day: date
    term: str
    grade: int | None
    title: str


def grade_strip(scale: Scale, terms: Sequence[str], cells: Sequence[GradeCell]) -> Chart:
    """One row per symptom, one cell per report, coloured by composite grade (Basch et al. 2021)."""
    rows = {term: index for index, term in enumerate(terms)}
    shapes: list[Shape] = []
    cell_width = max(6.0, round(scale.per_day * 7 - 2, 1))
    for term, index in rows.items():
        y = index * STRIP_ROW
        shapes.append(_shape("rect", "lane" + (" alt" if index % 2 else ""), x=0, y=y, width=scale.width,
                             height=STRIP_ROW))
        shapes.append(_shape("text", "strip-name", term, x=8, y=y + 13))
    for cell in cells:
        if cell.term not in rows or not scale.contains(cell.day):
            continue
        grade = "na" if cell.grade is None else str(cell.grade)
        shapes.append(_shape("rect", f"cell grade-{grade}", title=cell.title,
                             x=round(scale.x(cell.day) - cell_width / 2, 1), y=rows[cell.term] * STRIP_ROW + 2,
                             width=cell_width, height=STRIP_ROW - 4))
    return Chart(scale.width, max(STRIP_ROW, STRIP_ROW * len(rows)), tuple(shapes))
