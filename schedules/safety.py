"""The safety table: treatment-emergent adverse events by CTCAE term and worst grade, and the
patients' own PRO-CTCAE reports by worst composite grade.

Pure: the cut-off is a parameter. Sources:

* CTCAE v5.0 (NCI, 2017): terms, their MedDRA system organ class, grades 1-5.
* ICH E3 section 12.2 and the seed protocols ("from the first dose to 30 days after the last
  dose"): an adverse event is treatment-emergent when its onset is on or after the first dose and
  no later than ``TEAE_WINDOW_DAYS`` after the last dose given (and by the cut-off).
* Patients, not events, are counted: once per term at their worst grade, once per grade column;
  "serious" and the actions taken (CDISC AEACN: dose reduced, drug interrupted, drug withdrawn)
  count a patient when any of their events of that term has it.
* PRO-CTCAE composite grades 0-3 (Basch et al., JAMA Oncol 2021): a patient counts for a term
  when the worst post-baseline composite grade (reports after the first-dose day, by the cut-off)
  is at least 1, and at least 3. The denominator is the patients with a post-baseline report.
* Percentages are fractions of the safety population (patients dosed by the cut-off), as the
  contract's rates are.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

TEAE_WINDOW_DAYS = 30
ACTIONS = ("dose_reduced", "drug_interrupted", "drug_withdrawn")
GRADES = (1, 2, 3, 4, 5)
ANY_TERM = "ANY ADVERSE EVENT"


@dataclass(frozen=True)
class AdverseEventRecord:
    term: str
    soc: str
    grade: int
    onset: date
    serious: bool = False
    action: str = "dose_not_changed"


@dataclass(frozen=True)
class SymptomGrade:
    """One PRO-CTCAE symptom of a report: the day it was completed and its composite grade."""

    term: str
    day: date
    composite_grade: int | None


@dataclass(frozen=True)
class SafetyPatient:
    regimen: str
    first_dose: date
    last_dose: date | None
    adverse_events: tuple[AdverseEventRecord, ...] = ()
    symptoms: tuple[SymptomGrade, ...] = field(default=())


def treatment_emergent(event: AdverseEventRecord, first_dose: date, last_dose: date | None,
                       cutoff: date) -> bool:
    """Onset on or after the first dose, within 30 days of the last dose given, by the cut-off."""
    last = max(last_dose or first_dose, first_dose)
    return first_dose <= event.onset <= min(last + timedelta(days=TEAE_WINDOW_DAYS), cutoff)


def _cell(n: int, population: int) -> dict[str, Any]:
    return {"n": n, "rate": n / population if population else None}


def teae_rows(patients: Sequence[SafetyPatient], cutoff: date) -> list[dict[str, Any]]:
    """One row per (SOC, term), the "any adverse event" row first, then by SOC and term."""
    population = len(patients)
    # per (soc, term): patient index -> (worst grade, serious, actions)
    worst: dict[tuple[str, str], dict[int, list[Any]]] = defaultdict(dict)
    for index, patient in enumerate(patients):
        for event in patient.adverse_events:
            if not treatment_emergent(event, patient.first_dose, patient.last_dose, cutoff):
                continue
            for key in ((ANY_TERM, ANY_TERM), (event.soc, event.term)):
                seen = worst[key].setdefault(index, [0, False, set()])
                seen[0] = max(seen[0], event.grade)
                seen[1] = seen[1] or event.serious
                seen[2].add(event.action)
    rows = []
    for (soc, term) in sorted(worst, key=lambda k: (k[0] != ANY_TERM, k[0], k[1])):
        found = worst[(soc, term)].values()
        row: dict[str, Any] = {"soc": soc, "term": term, "any_grade": _cell(len(found), population)}
        for grade in GRADES:
            row[f"grade_{grade}"] = _cell(sum(1 for g, _, _ in found if g == grade), population)
        row["grade_3_plus"] = _cell(sum(1 for g, _, _ in found if g >= 3), population)
        row["serious"] = _cell(sum(1 for _, s, _ in found if s), population)
        for action in ACTIONS:
            row[action] = _cell(sum(1 for _, _, a in found if action in a), population)
        rows.append(row)
    return rows


def pro_ctcae_rows(patients: Sequence[SafetyPatient], cutoff: date) -> tuple[int, list[dict[str, Any]]]:
    """(patients with a post-baseline report, one row per PRO-CTCAE term by worst composite grade)."""
    worst: dict[str, dict[int, int]] = defaultdict(dict)
    reporting = 0
    for index, patient in enumerate(patients):
        post = [s for s in patient.symptoms if patient.first_dose < s.day <= cutoff]
        reporting += bool(post)
        for symptom in post:
            if symptom.composite_grade is not None:
                current = worst[symptom.term].get(index, 0)
                worst[symptom.term][index] = max(current, symptom.composite_grade)
    rows = [{"term": term,
             "grade_1_plus": _cell(sum(1 for g in grades.values() if g >= 1), reporting),
             "grade_3_plus": _cell(sum(1 for g in grades.values() if g >= 3), reporting)}
            for term, grades in sorted(worst.items())]
    return reporting, rows


def safety_table(patients: Iterable[SafetyPatient], cutoff: date) -> dict[str, Any]:
    """The table for one group of patients: its population, TEAE rows and PRO-CTCAE rows."""
    group = [p for p in patients if p.first_dose <= cutoff]
    reporting, pro = pro_ctcae_rows(group, cutoff)
    return {"population": len(group), "teae": teae_rows(group, cutoff),
            "pro_ctcae": {"patients": reporting, "terms": pro}}
