"""The timeline's geometry, without a browser: one horizontal scale for every lane and the grade strip."""
from datetime import date

from backend.charts.timeline import GradeCell, Lane, Mark, Milestone, Scale, Span, grade_strip, timeline

FIRST = date(2026, 1, 5)
SCALE = Scale(FIRST, date(2026, 4, 5))


def test_days_map_to_x_from_the_label_column_to_the_right_margin():
    assert SCALE.x(FIRST) == SCALE.left
    assert SCALE.x(date(2026, 4, 5)) == SCALE.right


def test_marks_outside_the_range_are_left_out_and_windows_are_clipped():
    lanes = [Lane("Doses", "dose", [Mark(date(2026, 1, 5), "given", "C1D1"), Mark(date(2027, 1, 1), "planned", "x")]),
             Lane("Scans", "scan", [], [Span(date(2025, 12, 1), date(2026, 1, 10), "missed", "window")])]
    chart = timeline(SCALE, lanes, [Milestone(date(2026, 2, 1), "today", "Today")], str)
    marks = [s for s in chart.shapes if s.cls.startswith("mark circle")]
    assert [dict(s.attrs)["cx"] for s in marks] == [str(SCALE.x(FIRST))]
    [span] = [s for s in chart.shapes if s.cls.startswith("span")]
    assert dict(span.attrs)["x"] == str(SCALE.x(FIRST)) and "state-missed" in span.cls
    assert any(s.cls == "milestone state-today" for s in chart.shapes)


def test_the_grade_strip_shares_the_timelines_scale():
    strip = grade_strip(SCALE, ["Nausea"], [GradeCell(date(2026, 2, 2), "Nausea", 3, "Nausea grade 3")])
    [cell] = [s for s in strip.shapes if s.cls.startswith("cell")]
    attrs = dict(cell.attrs)
    assert cell.cls == "cell grade-3"
    assert abs(float(attrs["x"]) + float(attrs["width"]) / 2 - SCALE.x(date(2026, 2, 2))) < 0.2
