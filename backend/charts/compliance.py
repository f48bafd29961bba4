"""Compliance per site as horizontal bars: one row per site, the share done out of what was due."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.charts.timeline import Chart, Shape

WIDTH = 340
LABEL_WIDTH = 64
VALUE_WIDTH = 96
ROW = 26


@dataclass(frozen=True)
class Rate:
    label: str
    numerator: int
    denominator: int

    @property
    def share(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


def _attrs(**attrs: float | str) -> tuple[tuple[str, str], ...]:
    return tuple((key.replace("_", "-"), str(value)) for key, value in attrs.items())


def rate_bars(rates: Sequence[Rate], width: int = WIDTH) -> Chart:
    """A track per row and a bar as long as the share; the count is written beside it ("7/9, 78%")."""
    plot = width - LABEL_WIDTH - VALUE_WIDTH
    shapes: list[Shape] = []
    for index, rate in enumerate(rates):
        y = index * ROW + 4
        share = rate.share
        text = f"{rate.numerator}/{rate.denominator}" + ("" if share is None else f", {round(share * 100)}%")
        shapes.append(Shape("text", "bar-label", _attrs(x=0, y=y + 13), rate.label))
        shapes.append(Shape("rect", "bar-track", _attrs(x=LABEL_WIDTH, y=y, width=plot, height=ROW - 10)))
        if share is not None:
            level = "good" if share >= 0.9 else "fair" if share >= 0.75 else "poor"
            shapes.append(Shape("rect", f"bar bar-{level}", _attrs(x=LABEL_WIDTH, y=y, width=round(plot * share, 1),
                                                                 height=ROW - 10), title=f"{rate.label}: {text}"))
        shapes.append(Shape("text", "bar-value", _attrs(x=LABEL_WIDTH + plot + 6, y=y + 13), text))
    return Chart(width, max(ROW, ROW * len(rates)), tuple(shapes))
