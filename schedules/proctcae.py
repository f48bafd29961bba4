"""PRO-CTCAE® item library: the 124 items, the 80 symptom terms and the survey panels built from them.

Sources
- NCI PRO-CTCAE® item library (v1.0 English): 124 items for 80 symptom terms. Item wording, options
  and the CTCAE mapping come from NCI's PRO-CTCAE system table and NCI EVS, joined in
  ``reference/pro_ctcae_item_crosswalk.csv``; item names (``PROCTCAE_<n><A|B|C>_SCL|IND``), term
  numbers and response formats follow the ProAE package, which follows the published v1.0 library.
- Each term's CTCAE v5.0 counterpart comes from ``reference/pro_ctcae_term_to_ctcae_v5.csv``.

Terms of use (``reference/README.md``): the items may not be altered, abridged or translated by us;
other languages come only from NCI's official translations, supplied as files.

This is the base the other ``proctcae_*`` modules build on: ``proctcae_translations`` (NCI's
official translations), ``proctcae_answers`` (answer rules and branching) and ``proctcae_grades``
(Basch 2021 composite grades). They import from here; this module imports none of them.

Pure code: stdlib only; reads the packaged reference files lazily.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_HER2_PANEL",
    "ProItem",
    "ProTerm",
    "SymptomPanel",
    "UnknownItem",
    "items",
    "items_by_code",
    "items_for_term",
    "lookup_item",
    "lookup_term",
    "open_reference",
    "term_catalog",
]

ITEM_FILE = "pro_ctcae_item_crosswalk.csv"
TERM_FILE = "pro_ctcae_term_to_ctcae_v5.csv"

#: The five PRO-CTCAE attributes (NCI PRO-CTCAE item library; NCI system codes 1-Present/Absent,
#: 2-Frequency, 3-Severity, 4-Interference, 5-Amount).
ATTRIBUTES = ("frequency", "severity", "interference", "presence", "amount")

#: Letter of each attribute in a composite pattern (Basch 2021: F, S, I; A for amount).
#: Presence/absence items have no letter: they get no composite grade.
_PATTERN_LETTER = {"frequency": "F", "severity": "S", "interference": "I", "amount": "A"}

_FREQUENCY = ((0, "Never"), (1, "Rarely"), (2, "Occasionally"), (3, "Frequently"), (4, "Almost constantly"))
_SEVERITY = ((0, "None"), (1, "Mild"), (2, "Moderate"), (3, "Severe"), (4, "Very severe"))
_INTERFERENCE = ((0, "Not at all"), (1, "A little bit"), (2, "Somewhat"), (3, "Quite a bit"), (4, "Very much"))
_YES_NO = ((1, "Yes"), (0, "No"))
_NOT_APPLICABLE = ((None, "Not applicable"),)
_SEXUAL = ((None, "Not sexually active"), (None, "Prefer not to answer"))

#: Response options per ProAE response format (ProAE ``toxScores`` recodes, v1.0 library): scale
#: items score 0-4 in the order shown; presence items Yes = 1, No = 0, shown Yes first as on the NCI
#: form. "Not applicable" (items 36, 57, 58, 79) and "Not sexually active" / "Prefer not to answer"
#: (sexual items 66-71) record no score: value ``None``. The 2013 NCI system table offers "Not
#: applicable" on a few more items (16, 18, 61-65); we follow v1.0/ProAE and do not.
_RESPONSE_FORMATS: dict[str, tuple[tuple[int | None, str], ...]] = {
    "frq_5_fmt": _FREQUENCY,
    "frq_7_fmt": _FREQUENCY + _SEXUAL,
    "sev_5_fmt": _SEVERITY,
    "sev_6_fmt": _SEVERITY + _NOT_APPLICABLE,
    "sev_7_fmt": _SEVERITY + _SEXUAL,
    "int_5_fmt": _INTERFERENCE,
    "yn_2_fmt": _YES_NO,
    "yn_3_fmt": _YES_NO + _NOT_APPLICABLE,
    "yn_4_fmt": _YES_NO + _SEXUAL,
}

#: The official form asks every item about the past week: "In the last 7 days, <wording>?"
#: (NCI PRO-CTCAE item library v1.0; the system table stores the wording without the recall
#: period and ending in ":").
_RECALL_PREFIX = "In the last 7 days, "


class UnknownItem(LookupError):
    """No PRO-CTCAE item or term has this code or number."""


@dataclass(frozen=True)
class ProItem:
    """One PRO-CTCAE item (NCI PRO-CTCAE item library v1.0; numbering after ProAE).

    ``term`` is the symptom as the patient reads it in the question (NCI system term, e.g. "Loose or
    watery stools (diarrhea)"); ``library_term`` is NCI's short PRO-CTCAE term (NCIt PT, e.g.
    "Diarrhea"). ``options`` are ``(value, label)`` pairs in the order shown; ``allows_null`` is true
    when an option records no score (value ``None``). ``ctcae_term``/``meddra_code``/``soc`` are the
    CTCAE v5.0 term NCI maps the symptom to — a mapping of terms, not of grades.
    """

    code: str
    term_number: int
    letter: str
    attribute: str
    term: str
    library_term: str
    question: str
    options: tuple[tuple[int | None, str], ...]
    allows_null: bool
    ctcae_term: str
    meddra_code: str
    soc: str
    gender: str

    @property
    def values(self) -> tuple[int, ...]:
        """The scores this item accepts: 0..4, or 0..1 for presence items."""
        return tuple(value for value, _ in self.options if value is not None)

    def label(self, value: int | None) -> str | None:
        """The English label of a score (the first matching option; ``None`` for an unknown value)."""
        return next((label for v, label in self.options if v == value), None)


@dataclass(frozen=True)
class ProTerm:
    """One of the 80 PRO-CTCAE symptom terms and its items, in library order.

    ``pattern`` is the composite grading pattern from the term's attributes (Basch 2021; ProAE
    ``map_ref``): "FSI", "FS", "SI", "FI", "F", "S" or "A"; ``None`` for presence/absence terms,
    which have no composite grade.
    """

    term_number: int
    term: str
    library_term: str
    item_codes: tuple[str, ...]
    attributes: tuple[str, ...]
    pattern: str | None
    ctcae_term: str
    meddra_code: str
    soc: str
    gender: str
    mapping_note: str | None

    @property
    def gradable(self) -> bool:
        """Whether Basch 2021 defines a composite grade for this term (not for presence/absence)."""
        return self.pattern is not None


def open_reference(name: str):
    return (resources.files(__package__) / "reference" / name).open("r", encoding="utf-8", newline="")


def _question(wording: str) -> str:
    if not wording.endswith(":"):
        raise ValueError(f"unexpected PRO-CTCAE wording (no trailing colon): {wording!r}")
    return f"{_RECALL_PREFIX}{wording[:-1]}?"


def _row_to_item(row: dict[str, str]) -> ProItem:
    options = _RESPONSE_FORMATS[row["proae_response_format"]]
    return ProItem(
        code=row["proae_item_name"],
        term_number=int(row["proae_term_number"]),
        letter=row["proae_item_letter"],
        attribute=row["attribute"],
        term=row["nci_system_term"],
        library_term=row["evs_pro_ctcae_pt"],
        question=_question(row["nci_system_wording"]),
        options=options,
        allows_null=any(value is None for value, _ in options),
        ctcae_term=row["ctcae_v5_term"],
        meddra_code=row["ctcae_v5_meddra_code"],
        soc=row["ctcae_v5_soc"],
        gender=row["nci_system_gender"],
    )


@functools.cache
def items() -> tuple[ProItem, ...]:
    """All 124 PRO-CTCAE items in library order (term 1..80, then A, B, C)."""
    with open_reference(ITEM_FILE) as handle:
        loaded = [_row_to_item(row) for row in csv.DictReader(handle)]
    return tuple(sorted(loaded, key=lambda item: (item.term_number, item.letter)))


@functools.cache
def items_by_code() -> Mapping[str, ProItem]:
    """The item library keyed by ProAE item name, e.g. ``"PROCTCAE_17A_SCL"``."""
    return MappingProxyType({item.code: item for item in items()})


@functools.cache
def _items_by_term() -> dict[int, tuple[ProItem, ...]]:
    grouped: dict[int, list[ProItem]] = {}
    for item in items():
        grouped.setdefault(item.term_number, []).append(item)
    return {number: tuple(group) for number, group in grouped.items()}


def items_for_term(term_number: int) -> tuple[ProItem, ...]:
    """The items of one PRO-CTCAE term, first item (the one that branches) first."""
    try:
        return _items_by_term()[term_number]
    except KeyError:
        raise UnknownItem(f"no PRO-CTCAE term number {term_number!r}") from None


def lookup_item(code: str) -> ProItem:
    """The item with this ProAE item name; ``UnknownItem`` if there is none."""
    try:
        return items_by_code()[code]
    except (KeyError, TypeError):
        raise UnknownItem(f"no PRO-CTCAE item {code!r}") from None


@functools.cache
def term_catalog() -> Mapping[int, ProTerm]:
    """The 80 PRO-CTCAE terms keyed by term number, in library order.

    Built from ``pro_ctcae_term_to_ctcae_v5.csv`` (NCI term → CTCAE v5.0 mapping) and the items.
    """
    catalog: dict[int, ProTerm] = {}
    with open_reference(TERM_FILE) as handle:
        rows = list(csv.DictReader(handle))
    for row in sorted(rows, key=lambda r: int(r["proae_term_number"])):
        number = int(row["proae_term_number"])
        term_items = items_for_term(number)
        attributes = tuple(item.attribute for item in term_items)
        letters = [_PATTERN_LETTER.get(attribute) for attribute in attributes]
        catalog[number] = ProTerm(
            term_number=number,
            term=row["nci_system_term"],
            library_term=row["evs_pro_ctcae_pt"],
            item_codes=tuple(item.code for item in term_items),
            attributes=attributes,
            pattern=None if None in letters else "".join(letters),  # type: ignore[arg-type]
            ctcae_term=row["ctcae_v5_term"],
            meddra_code=row["ctcae_v5_meddra_code"],
            soc=row["ctcae_v5_soc"],
            gender=row["gender"],
            mapping_note=row["mapping_note"] or None,
        )
    return MappingProxyType(catalog)


def lookup_term(term_number: int) -> ProTerm:
    """The term with this PRO-CTCAE term number; ``UnknownItem`` if there is none."""
    try:
        return term_catalog()[term_number]
    except KeyError:
        raise UnknownItem(f"no PRO-CTCAE term number {term_number!r}") from None


# --------------------------------------------------------------------------------------------------
# Panels
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SymptomPanel:
    """The PRO-CTCAE terms a study asks about. Items are asked in library order, as NCI's form
    builder lays them out (the NCI terms ask that content and order be kept intact)."""

    name: str
    term_numbers: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "term_numbers", tuple(sorted(set(self.term_numbers))))

    def item_codes(self) -> tuple[str, ...]:
        """All items of the panel's terms, in the order they are asked."""
        return tuple(item.code for number in self.term_numbers for item in items_for_term(number))


#: Default symptom panel for the HER2 regimens (trastuzumab/pertuzumab/T-DXd with chemotherapy).
#: PRO-CTCAE term numbers, from ``pro_ctcae_item_crosswalk.csv`` (NCI system term → items):
DEFAULT_HER2_PANEL = SymptomPanel(
    name="her2-default",
    term_numbers=(
        3,   # Mouth or throat sores           3A severity, 3B interference     (SI)
        8,   # Decreased appetite              8A severity, 8B interference     (SI)
        9,   # Nausea                          9A frequency, 9B severity        (FS)
        10,  # Vomiting                        10A frequency, 10B severity      (FS)
        15,  # Constipation                    15A severity                     (S)
        16,  # Loose or watery stools (diarrhea) 16A frequency                  (F)
        19,  # Shortness of breath             19A severity, 19B interference   (SI)
        22,  # Arm or leg swelling             22A/B/C frequency, severity, interference (FSI)
        24,  # Rash                            24A presence                     (no grade)
        27,  # Hair loss                       27A amount                       (A)
        30,  # Hand-foot syndrome              30A severity                     (S)
        39,  # Numbness or tingling in your hands or feet  39A severity, 39B interference (SI)
        48,  # Pain (general pain)             48A/B/C                          (FSI)
        50,  # Aching muscles                  50A/B/C                          (FSI)
        51,  # Aching joints                   51A/B/C                          (FSI)
        53,  # Fatigue, tiredness, or lack of energy  53A severity, 53B interference (SI)
    ),
)
