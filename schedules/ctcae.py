"""CTCAE v5.0 term list: look-up, search and grade checks.

Source: NCI Common Terminology Criteria for Adverse Events (CTCAE) v5.0, published 27 November 2017,
sheet "CTCAE v5.0 Clean Copy" (837 terms, 26 MedDRA SOCs, one MedDRA 20.1 LLT code per term). The CSV
copy and its terms of use are described in ``schedules/reference/README.md``.

Pure code: reads only the packaged CSV, lazily, on first use.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "CTCAE_GRADES",
    "CtcaeTerm",
    "GradeNotDefined",
    "UnknownCtcaeTerm",
    "allowed_grades",
    "ctcae_terms",
    "search_terms",
    "soc_names",
    "term_by_code",
    "term_by_name",
    "validate_grade",
]

CTCAE_FILE = "CTCAE_v5.0_clean_copy.csv"

#: CTCAE v5.0 grades run 1 (mild) to 5 (death); there is no grade 0 (NCI CTCAE v5.0, "Grades").
CTCAE_GRADES = (1, 2, 3, 4, 5)

#: CTCAE v5.0 marks a grade that is not available for a term with "-" (NCI CTCAE v5.0, "Grades":
#: "Not all Grades are appropriate for all AEs ... a dash (-) indicates a Grade is not available").
_NOT_DEFINED = "-"


class UnknownCtcaeTerm(LookupError):
    """No CTCAE v5.0 term has this name or MedDRA code."""


class GradeNotDefined(ValueError):
    """The grade is not defined for this CTCAE v5.0 term (its cell is "-" in the term list)."""

    def __init__(self, term: str, grade: object, allowed: tuple[int, ...]) -> None:
        self.term = term
        self.grade = grade
        self.allowed = allowed
        shown = ", ".join(str(g) for g in allowed)
        super().__init__(f"CTCAE v5.0 {term!r} has no grade {grade!r}; allowed grades: {shown}")


@dataclass(frozen=True)
class CtcaeTerm:
    """One CTCAE v5.0 term (NCI CTCAE v5.0, 2017).

    ``grades`` holds only the grades the term defines (grade -> description); a "-" cell in NCI's
    list means the grade does not exist for the term and is left out. ``definition`` is ``None`` for
    the 26 "<SOC> - Other, specify" terms, whose definition cell is "-". ``meddra_code`` is the
    8-digit MedDRA LLT code NCI ships, kept as a string because it is an identifier.
    """

    term: str
    meddra_code: str
    soc: str
    grades: dict[int, str]
    definition: str | None
    navigational_note: str | None

    @property
    def allowed_grades(self) -> tuple[int, ...]:
        """The grades this term defines, ascending."""
        return tuple(sorted(self.grades))


def _row_to_term(row: dict[str, str]) -> CtcaeTerm:
    grades = {
        grade: row[f"Grade {grade}"]
        for grade in CTCAE_GRADES
        if row[f"Grade {grade}"] not in ("", _NOT_DEFINED)
    }
    definition = row["Definition"]
    note = row["Navigational Note"]
    return CtcaeTerm(
        term=row["CTCAE Term"],
        meddra_code=row["MedDRA Code"],
        soc=row["MedDRA SOC"],
        grades=grades,
        definition=None if definition in ("", _NOT_DEFINED) else definition,
        navigational_note=note or None,
    )


@functools.cache
def ctcae_terms() -> tuple[CtcaeTerm, ...]:
    """All 837 CTCAE v5.0 terms, in NCI's order (by SOC, then term).

    Source: NCI CTCAE v5.0 (2017), sheet "CTCAE v5.0 Clean Copy". Cells with line breaks are
    handled by the CSV reader.
    """
    source = resources.files(__package__) / "reference" / CTCAE_FILE
    with source.open("r", encoding="utf-8", newline="") as handle:
        return tuple(_row_to_term(row) for row in csv.DictReader(handle))


@functools.cache
def _by_name() -> dict[str, CtcaeTerm]:
    return {t.term.casefold(): t for t in ctcae_terms()}


@functools.cache
def _by_code() -> dict[str, CtcaeTerm]:
    return {t.meddra_code: t for t in ctcae_terms()}


@functools.cache
def soc_names() -> tuple[str, ...]:
    """The 26 MedDRA System Organ Classes used as primary SOCs in CTCAE v5.0, in NCI's order."""
    return tuple(dict.fromkeys(t.soc for t in ctcae_terms()))


def term_by_name(name: str) -> CtcaeTerm:
    """The CTCAE v5.0 term with this exact name, ignoring case and surrounding spaces.

    Raises ``UnknownCtcaeTerm``.
    """
    try:
        return _by_name()[name.strip().casefold()]
    except KeyError:
        raise UnknownCtcaeTerm(f"no CTCAE v5.0 term named {name!r}") from None


def term_by_code(code: str | int) -> CtcaeTerm:
    """The CTCAE v5.0 term with this MedDRA LLT code (NCI CTCAE v5.0 "MedDRA Code" column).

    Raises ``UnknownCtcaeTerm``.
    """
    try:
        return _by_code()[str(code).strip()]
    except KeyError:
        raise UnknownCtcaeTerm(f"no CTCAE v5.0 term with MedDRA code {code!r}") from None


def search_terms(q: str, limit: int = 50) -> list[CtcaeTerm]:
    """Find CTCAE v5.0 terms for a pick-list.

    - A query of digits matches MedDRA codes that start with it.
    - A query that is a SOC name (ignoring case) lists that SOC's terms, alphabetically.
    - Otherwise every whitespace-separated word of the query must occur, ignoring case, in the
      term's name or in its SOC name (so "diarrhea", "febrile neutro", "cardiac failure" and a full
      SOC name such as "Cardiac disorders" all work).
    - An empty query lists terms in alphabetical order.

    Ranking, then alphabetical by term: exact name, name starting with the query, all words in the
    name, words found only with the help of the SOC. At most ``limit`` terms are returned.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = " ".join(q.split())
    if query.isdigit():
        hits = [t for t in ctcae_terms() if t.meddra_code.startswith(query)]
        return sorted(hits, key=lambda t: t.meddra_code)[:limit]

    folded = query.casefold()
    socs = {soc.casefold() for soc in soc_names()}
    if folded in socs:
        hits = [t for t in ctcae_terms() if t.soc.casefold() == folded]
        return sorted(hits, key=lambda t: t.term.casefold())[:limit]
    words = folded.split()
    ranked: list[tuple[int, str, CtcaeTerm]] = []
    for term in ctcae_terms():
        name = term.term.casefold()
        soc = term.soc.casefold()
        if not all(word in name or word in soc for word in words):
            continue
        if name == folded:
            rank = 0
        elif name.startswith(folded):
            rank = 1
        elif all(word in name for word in words):
            rank = 2
        else:
            rank = 3
        ranked.append((rank, name, term))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [term for _, _, term in ranked[:limit]]


def _resolve(term: CtcaeTerm | str) -> CtcaeTerm:
    if isinstance(term, CtcaeTerm):
        return term
    text = term.strip()
    return term_by_code(text) if text.isdigit() else term_by_name(text)


def allowed_grades(term: CtcaeTerm | str) -> tuple[int, ...]:
    """The grades a CTCAE v5.0 term defines, e.g. Alopecia -> (1, 2).

    ``term`` is a ``CtcaeTerm``, a term name or a MedDRA code. Source: NCI CTCAE v5.0 — a "-" in a
    grade column means that grade is not available for the term (Alopecia has no grade 3; many
    terms have no grade 4 or 5).
    """
    return _resolve(term).allowed_grades


def validate_grade(term: CtcaeTerm | str, grade: int) -> CtcaeTerm:
    """Check that ``grade`` is defined for ``term`` and return the term.

    Raises ``GradeNotDefined`` (naming the allowed grades) when the grade is not an integer 1–5 or
    its cell is "-" in NCI CTCAE v5.0; ``UnknownCtcaeTerm`` when the term does not exist.
    """
    resolved = _resolve(term)
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in resolved.grades:
        raise GradeNotDefined(resolved.term, grade, resolved.allowed_grades)
    return resolved
