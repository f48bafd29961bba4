"""PRO-CTCAE® composite grades: one 0-3 grade per symptom term from its item answers.

Source: Basch E, Becker C, Rogak LJ, et al. Composite grading algorithm for the National Cancer
Institute's PRO-CTCAE. Clin Trials. 2021;18(1):104-114. The published table is packaged as
``reference/pro_ctcae_composite_grades.csv``; each term's pattern comes from its items' attributes
(``schedules.proctcae``), and branching is applied first (``schedules.proctcae_answers``).

A composite grade describes tolerability and is not a CTCAE grade; reports also carry the CTCAE v5.0
term NCI maps the symptom to (a mapping of terms, not of grades).

Pure code: stdlib only; reads the packaged table lazily.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from schedules.proctcae import lookup_term, open_reference
from schedules.proctcae_answers import AnswerError, AnswerProblem, Answers, expand_answers, terms_answered

__all__ = [
    "SymptomGrade",
    "composite_table",
    "grade_report",
    "grade_term",
]

COMPOSITE_FILE = "pro_ctcae_composite_grades.csv"

_TableKey = tuple[str, int | None, int | None, int | None]


def _optional_int(text: str) -> int | None:
    return int(text) if text != "" else None


@functools.cache
def composite_table() -> Mapping[_TableKey, int]:
    """Basch 2021 composite grading table: ``(pattern, frequency, severity, interference_or_amount)``
    → grade 0..3 (179 rows; ``None`` where the pattern has no such item)."""
    with open_reference(COMPOSITE_FILE) as handle:
        rows = list(csv.DictReader(handle))
    table = {
        (
            row["pattern"],
            _optional_int(row["frequency"]),
            _optional_int(row["severity"]),
            _optional_int(row["interference_or_amount"]),
        ): int(row["composite_grade"])
        for row in rows
    }
    if len(table) != len(rows):
        raise ValueError(f"{COMPOSITE_FILE}: duplicate rows")
    return MappingProxyType(table)


_COLUMN = {"frequency": 1, "severity": 2, "interference": 3, "amount": 3}


def grade_term(term_number: int, answers: Answers) -> int | None:
    """The PRO-CTCAE composite grade (0..3) of one term (Basch E et al., Clin Trials 2021;18(1):104-114).

    Branching is applied first (``expand_answers``). The pattern comes from the term's attributes;
    the frequency, severity and interference-or-amount answers are looked up in the published table.
    ``None`` when the term is presence/absence (no composite grade) or when an answer the pattern
    needs is missing or null ("Not applicable", "Prefer not to answer").
    """
    term = lookup_term(term_number)
    if term.pattern is None:
        return None
    expanded = expand_answers(term_number, answers)
    key: list[Any] = [term.pattern, None, None, None]
    for code, attribute in zip(term.item_codes, term.attributes, strict=True):
        value = expanded.get(code)
        if value is None:
            return None
        key[_COLUMN[attribute]] = value
    try:
        return composite_table()[tuple(key)]  # type: ignore[index]
    except KeyError:
        raise AnswerError(
            [AnswerProblem(term.item_codes[0], "value_out_of_range", f"answers {expanded} are not gradable")]
        ) from None


@dataclass(frozen=True)
class SymptomGrade:
    """One term of a report: its answers after branching and its composite grade.

    ``gradable`` is false for presence/absence terms, whose ``composite_grade`` is always ``None``;
    for other terms ``None`` means an answer was missing or null.
    """

    term_number: int
    term: str
    ctcae_term: str
    meddra_code: str
    composite_grade: int | None
    answers: dict[str, int | None]
    gradable: bool
    pattern: str | None


def grade_report(answers: Answers) -> list[SymptomGrade]:
    """One ``SymptomGrade`` per term the answers touch, in library order (Basch 2021 composite grades,
    branching applied first). Pass answers checked by ``validate_answers``."""
    report = []
    for number in terms_answered(answers):
        term = lookup_term(number)
        report.append(
            SymptomGrade(
                term_number=number,
                term=term.term,
                ctcae_term=term.ctcae_term,
                meddra_code=term.meddra_code,
                composite_grade=grade_term(number, answers),
                answers=expand_answers(number, answers),
                gradable=term.gradable,
                pattern=term.pattern,
            )
        )
    return report
