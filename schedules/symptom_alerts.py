"""Alerts raised by a patient's PRO-CTCAE report, under study-configurable rules.

Default rules (each a study may change or switch off):
- composite_grade: a PRO-CTCAE composite grade of 3 or more (Basch E et al., Composite grading
  algorithm for the NCI PRO-CTCAE, Clin Trials 2021;18(1):104-114; grade 3 is the table's top grade).
- severe_symptom: a severity item answered Severe (3) or Very severe (4) (NCI PRO-CTCAE item library,
  severity scale None/Mild/Moderate/Severe/Very severe = 0..4).
- worsening: any item 2 or more points higher than in the patient's first report or previous report.

Items are compared after branching (``proctcae_answers.expand_answers``): a follow-up that was not asked
because the first item was 0 counts as 0. Null answers ("Not applicable", "Prefer not to answer") and
items missing from a baseline are not compared.

These are alerts for the study team to review. PRO-CTCAE is not meant for diagnosis or treatment
decisions (NCI PRO-CTCAE terms of use), and a composite grade is not a CTCAE grade.

Pure code: no clock, no I/O beyond the packaged item library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schedules.proctcae import items_by_code
from schedules.proctcae_answers import expand_answers
from schedules.proctcae_grades import SymptomGrade

__all__ = ["RULES", "AlertFinding", "AlertRules", "evaluate_alerts", "most_serious_first"]

#: Rule slugs, in the order findings for one term are listed.
RULES = ("composite_grade", "severe_symptom", "worsening")


@dataclass(frozen=True)
class AlertRules:
    """A study's alert thresholds; ``None`` switches a rule off.

    - ``composite_grade_at_least``: 1..3 (Basch 2021 composite grades run 0..3).
    - ``severity_at_least``: 1..4 on a severity item (3 = Severe).
    - ``rise_at_least``: 1..4 points on any item against the first or the previous report.
    """

    composite_grade_at_least: int | None = 3
    severity_at_least: int | None = 3
    rise_at_least: int | None = 2

    def __post_init__(self) -> None:
        for name, low, high in (
            ("composite_grade_at_least", 1, 3),
            ("severity_at_least", 1, 4),
            ("rise_at_least", 1, 4),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer {low}..{high} or None, not {value!r}")


@dataclass(frozen=True)
class AlertFinding:
    """One alert: which rule fired for which PRO-CTCAE term, the item it concerns (``None`` for a
    composite grade), and the values that made it fire."""

    rule: str
    term_number: int
    term: str
    item_code: str | None
    detail: dict[str, Any]


Answers = Mapping[str, int | None]


def evaluate_alerts(
    current: Sequence[SymptomGrade],
    previous: Answers | None = None,
    first: Answers | None = None,
    rules: AlertRules = AlertRules(),
) -> list[AlertFinding]:
    """The alerts for a report, ordered by term number, then rule (composite_grade, severe_symptom,
    worsening).

    ``current`` is the report's ``proctcae_grades.grade_report`` (answers already expanded, grades
    computed);
    ``previous`` and ``first`` are the raw answers of the patient's previous and first reports, or
    ``None`` when there are none (for a patient's second report they are the same report).

    At most one finding per (rule, term):
    - composite_grade: the term's grade.
    - severe_symptom: the term's severity item (a term has at most one).
    - worsening: the term's item with the largest rise (earliest item on a tie); ``detail`` keeps
      the rise against each baseline and lists every item of the term that rose enough, so one
      symptom getting worse on several items or against both baselines is one alert, not several.
    """
    findings: list[AlertFinding] = []
    for grade in sorted(current, key=lambda g: g.term_number):
        composite = _composite_finding(grade, rules)
        if composite is not None:
            findings.append(composite)
        severe = _severe_finding(grade, rules)
        if severe is not None:
            findings.append(severe)
        worsening = _worsening_finding(grade, previous, first, rules)
        if worsening is not None:
            findings.append(worsening)
    return findings


def _composite_finding(grade: SymptomGrade, rules: AlertRules) -> AlertFinding | None:
    """Rule composite_grade (Basch 2021): composite grade at or above the study's threshold."""
    threshold = rules.composite_grade_at_least
    if threshold is None or grade.composite_grade is None or grade.composite_grade < threshold:
        return None
    return AlertFinding(
        rule="composite_grade",
        term_number=grade.term_number,
        term=grade.term,
        item_code=None,
        detail={"composite_grade": grade.composite_grade, "threshold": threshold},
    )


def _severe_finding(grade: SymptomGrade, rules: AlertRules) -> AlertFinding | None:
    """Rule severe_symptom (PRO-CTCAE severity scale): a severity answer at or above the threshold."""
    threshold = rules.severity_at_least
    if threshold is None:
        return None
    for code, value in grade.answers.items():
        item = items_by_code()[code]
        if item.attribute == "severity" and value is not None and value >= threshold:
            return AlertFinding(
                rule="severe_symptom",
                term_number=grade.term_number,
                term=grade.term,
                item_code=code,
                detail={"value": value, "label": item.label(value), "threshold": threshold},
            )
    return None


def _worsening_finding(
    grade: SymptomGrade,
    previous: Answers | None,
    first: Answers | None,
    rules: AlertRules,
) -> AlertFinding | None:
    """Rule worsening: an item at least ``rise_at_least`` points above the same item, after
    branching, in the first or the previous report."""
    threshold = rules.rise_at_least
    if threshold is None:
        return None
    baselines = {
        name: expand_answers(grade.term_number, answers)
        for name, answers in (("first", first), ("previous", previous))
        if answers is not None
    }
    best: tuple[int, str, dict[str, Any]] | None = None
    rising: list[str] = []
    for code, value in grade.answers.items():
        if value is None:
            continue
        earlier = {name: baseline.get(code) for name, baseline in baselines.items()}
        rises = {name: value - before for name, before in earlier.items() if before is not None}
        against = [name for name, rise in rises.items() if rise >= threshold]
        if not against:
            continue
        rising.append(code)
        top = max(rises[name] for name in against)
        if best is None or top > best[0]:
            detail = {
                "value": value,
                "first": earlier.get("first"),
                "previous": earlier.get("previous"),
                "rise": top,
                "against": against,
                "threshold": threshold,
            }
            best = (top, code, detail)
    if best is None:
        return None
    _, code, detail = best
    detail["items"] = rising
    return AlertFinding(
        rule="worsening",
        term_number=grade.term_number,
        term=grade.term,
        item_code=code,
        detail=detail,
    )


def most_serious_first(findings: Sequence[AlertFinding], current: Sequence[SymptomGrade]) -> list[AlertFinding]:
    """The findings of one report, the most serious first: one alert lists them all.

    Order: the term's PRO-CTCAE composite grade, highest first (Basch et al. 2021: grade 3 is the
    table's top grade); then the rule (composite_grade, severe_symptom, worsening: a grade and a
    severity answer are the patient's state, a rise is a change); then the value that fired
    (severity answer or rise), highest first; then the term number.
    """
    grades = {grade.term_number: grade.composite_grade or 0 for grade in current}

    def key(finding: AlertFinding) -> tuple[int, int, int, int]:
        value = finding.detail.get("rise", finding.detail.get("value", finding.detail.get("composite_grade", 0)))
        return (-grades.get(finding.term_number, 0), RULES.index(finding.rule), -(value or 0), finding.term_number)

    return sorted(findings, key=key)
