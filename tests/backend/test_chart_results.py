"""Chart geometry of the Results page: Kaplan-Meier step curves with numbers at risk, and the swimmer plot."""
from __future__ import annotations

import pytest

from backend.charts.km import LEFT, TOP, km_chart
from backend.charts.swimmer import LABEL, Lane, swimmer_chart
from schedules.survival import summary


def test_a_km_curve_is_a_step_path_that_drops_on_event_days():
    # Times 42 (event), 84 (censored), 126 (event): S 1 -> 2/3 at 42, stays at 84, 0 at 126.
    chart = km_chart({"PFS": summary([42, 84, 126], [True, False, True])}, width=56 + 16 + 126, height=12 + 36 + 100)
    (series,) = chart.series
    # One day is one unit wide, 100% is 100 units tall: x = 56 + day, y = 12 + 100 (1 - S).
    assert series.path == "M56.0 12.0 V12.0 H98.0 V45.3 H140.0 V45.3 H182.0 V112.0"
    assert series.censor_marks == ((140.0, 45.3),)
    assert [t.label for t in chart.x_ticks] == ["0", "42", "84", "126"]
    assert [t.label for t in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert chart.plot == (LEFT, TOP, 126, 100)


def test_numbers_at_risk_sit_under_the_axis_at_the_ticks():
    chart = km_chart({"PFS": summary([42, 84, 126], [True, False, True]),
                      "OS": summary([200, 300], [False, False])})
    pfs, os = chart.at_risk
    assert [n for _, n in pfs.cells] == [3, 3, 2, 1, 0, 0, 0, 0, 0]  # at risk on day d: followed to d or longer
    assert [x for x, _ in pfs.cells] == [t.x for t in chart.x_ticks]
    assert TOP < chart.plot[1] + chart.plot[3] < pfs.y < os.y <= chart.height
    assert [n for _, n in os.cells][:2] == [2, 2]


def test_a_km_chart_of_nobody_still_has_axes():
    chart = km_chart({"DoR": summary([], [])})
    assert chart.series[0].path.startswith("M") and chart.x_ticks


def test_swimmer_bars_run_from_the_first_dose_longest_first():
    chart = swimmer_chart([
        Lane("001", 100, False, (("response", 43), ("confirmation", 85), ("progression", 100)), "PR"),
        Lane("002", 200, True, (), "SD"),
    ], width=LABEL + 24 + 210)
    first, second = chart.bars
    assert (first.label, first.x, first.width, first.arrow is not None) == ("002", LABEL, 200.0, True)
    assert (second.label, second.width, second.arrow) == ("001", 100.0, None)
    assert [(kind, x) for kind, x, _ in second.markers] == [
        ("response", LABEL + 43.0), ("confirmation", LABEL + 85.0), ("progression", LABEL + 100.0)]
    assert second.y > first.y and chart.height > second.y + second.height
    assert chart.x_ticks[-1] == (210, LABEL + 210.0)


def test_swimmer_lanes_are_checked():
    with pytest.raises(ValueError):
        Lane("001", 0, False)
    with pytest.raises(ValueError):
        Lane("001", 10, False, (("teleport", 3),))
