"""PRO-CTCAE® item library, survey panels, answer rules and composite grades.

Sources
- NCI PRO-CTCAE® item library (v1.0 English): 124 items for 80 symptom terms. Item wording, options
  and the CTCAE mapping come from NCI's PRO-CTCAE system table and NCI EVS, joined in
  ``reference/pro_ctcae_item_crosswalk.csv``; item names (``PROCTCAE_<n><A|B|C>_SCL|IND``), term
  numbers and response formats follow the ProAE package, which follows the published v1.0 library.
- Basch E, Becker C, Rogak LJ, et al. Composite grading algorithm for the National Cancer
  Institute's PRO-CTCAE. Clin Trials. 2021;18(1):104-114 (``reference/pro_ctcae_composite_grades.csv``).

Terms of use (``reference/README.md``): the items may not be altered, abridged or translated by us;
other languages come only from NCI's official translations, supplied as files. A composite grade
describes tolerability and is not a CTCAE grade.

Pure code: stdlib only; reads the packaged reference files lazily and, when asked, a translation file
whose path the caller gives.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_HER2_PANEL",
    "AnswerError",
    "AnswerProblem",
    "ItemTranslation",
    "LocalisedItem",
    "LocalisedLibrary",
    "ProItem",
    "ProTerm",
    "SymptomGrade",
    "SymptomPanel",
    "TranslationError",
    "UnknownItem",
    "answer_problems",
    "composite_table",
    "expand_answers",
    "expand_report",
    "grade_report",
    "grade_term",
    "items",
    "items_by_code",
    "items_for_term",
    "load_translations",
    "localised_items",
    "parse_translations",
    "term_catalog",
    "validate_answers",
]

ITEM_FILE = "pro_ctcae_item_crosswalk.csv"
TERM_FILE = "pro_ctcae_term_to_ctcae_v5.csv"
COMPOSITE_FILE = "pro_ctcae_composite_grades.csv"

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


def _open_reference(name: str):
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
    with _open_reference(ITEM_FILE) as handle:
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


def _item(code: str) -> ProItem:
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
    with _open_reference(TERM_FILE) as handle:
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


def _term(term_number: int) -> ProTerm:
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


# --------------------------------------------------------------------------------------------------
# Localisation
# --------------------------------------------------------------------------------------------------


class TranslationError(ValueError):
    """A translation file does not fit the item library."""


@dataclass(frozen=True)
class ItemTranslation:
    """NCI's official translation of one item: the question and one label per option, in the
    English option order. ``term`` (the symptom heading) is optional."""

    question: str
    options: tuple[str, ...]
    term: str | None = None


@dataclass(frozen=True)
class LocalisedItem:
    """An item's texts in one locale; ``locale`` is the locale the texts are actually in."""

    code: str
    term_number: int
    attribute: str
    term: str
    question: str
    options: tuple[tuple[int | None, str], ...]
    allows_null: bool
    locale: str


@dataclass(frozen=True)
class LocalisedLibrary:
    """Items for a locale. ``locale_fallback`` is true when any item had to be shown in English;
    ``fallback_codes`` names those items."""

    locale: str
    items: tuple[LocalisedItem, ...]
    locale_fallback: bool
    fallback_codes: tuple[str, ...]


ENGLISH = "en"


def _is_english(locale: str) -> bool:
    folded = locale.strip().casefold().replace("_", "-")
    return folded == ENGLISH or folded.startswith(ENGLISH + "-")


def parse_translations(data: Mapping[str, Any]) -> dict[str, ItemTranslation]:
    """Check translation data shaped ``{"PROCTCAE_17A_SCL": {"question": str, "options": [str, ...],
    "term": str (optional)}}`` against the item library.

    Each code must be a known item and ``options`` must give one label per English option, in the
    same order. Raises ``TranslationError``. The texts must be NCI's official translation (PRO-CTCAE
    terms of use); this module ships none.
    """
    if not isinstance(data, Mapping):
        raise TranslationError("translations must be an object keyed by item code")
    parsed: dict[str, ItemTranslation] = {}
    for code, entry in data.items():
        if isinstance(entry, ItemTranslation):
            translation = entry
        else:
            if not isinstance(entry, Mapping):
                raise TranslationError(f"{code}: entry must be an object")
            question, options, term = entry.get("question"), entry.get("options"), entry.get("term")
            if not isinstance(question, str) or not question.strip():
                raise TranslationError(f"{code}: question must be a non-empty string")
            if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
                raise TranslationError(f"{code}: options must be a list of non-empty strings")
            if term is not None and not isinstance(term, str):
                raise TranslationError(f"{code}: term must be a string")
            translation = ItemTranslation(question=question, options=tuple(options), term=term)
        try:
            item = _item(code)
        except UnknownItem:
            raise TranslationError(f"{code}: not a PRO-CTCAE item") from None
        if len(translation.options) != len(item.options):
            raise TranslationError(
                f"{code}: {len(translation.options)} option labels given, the item has {len(item.options)}"
            )
        parsed[code] = translation
    return parsed


def load_translations(path: str | os.PathLike[str]) -> dict[str, ItemTranslation]:
    """Read an official PRO-CTCAE translation from a UTF-8 JSON file (see ``parse_translations``)."""
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise TranslationError(f"{os.fspath(path)}: not valid JSON ({exc.msg})") from None
    return parse_translations(data)


def localised_items(
    locale: str,
    translations: Mapping[str, Any] | None = None,
    codes: Iterable[str] | None = None,
) -> LocalisedLibrary:
    """The item library (or just ``codes``) with texts for ``locale``.

    English ships with the library. For any other locale the texts come from ``translations`` (NCI's
    official translation, e.g. from ``load_translations``); an item missing from them is shown in
    English and ``locale_fallback`` is set. The symptom heading (``term``) stays in English unless
    the translation gives one; it is a heading, not text the patient answers, so it does not set
    the flag. Option values never change with the locale.
    """
    wanted = items() if codes is None else tuple(_item(code) for code in codes)
    english = _is_english(locale)
    parsed = {} if english or translations is None else parse_translations(translations)
    localised: list[LocalisedItem] = []
    fallbacks: list[str] = []
    for item in wanted:
        translation = parsed.get(item.code)
        if english or translation is None:
            if not english:
                fallbacks.append(item.code)
            localised.append(
                LocalisedItem(
                    code=item.code,
                    term_number=item.term_number,
                    attribute=item.attribute,
                    term=item.term,
                    question=item.question,
                    options=item.options,
                    allows_null=item.allows_null,
                    locale=ENGLISH,
                )
            )
            continue
        localised.append(
            LocalisedItem(
                code=item.code,
                term_number=item.term_number,
                attribute=item.attribute,
                term=translation.term or item.term,
                question=translation.question,
                options=tuple(
                    (value, label) for (value, _), label in zip(item.options, translation.options, strict=True)
                ),
                allows_null=item.allows_null,
                locale=locale,
            )
        )
    return LocalisedLibrary(
        locale=locale,
        items=tuple(localised),
        locale_fallback=bool(fallbacks),
        fallback_codes=tuple(fallbacks),
    )


# --------------------------------------------------------------------------------------------------
# Answers: validation and branching
# --------------------------------------------------------------------------------------------------

Answers = Mapping[str, int | None]


@dataclass(frozen=True)
class AnswerProblem:
    """One problem with a submitted answer. ``reason`` is a stable slug:
    unknown_item, duplicate_item, not_in_panel, invalid_value, value_out_of_range,
    null_not_allowed, not_asked_after_zero."""

    item: str
    reason: str
    message: str


class AnswerError(ValueError):
    """Submitted answers break the PRO-CTCAE answer rules. ``item``/``message``/``reason`` describe
    the first problem; ``problems`` lists all of them, in submission order."""

    def __init__(self, problems: Sequence[AnswerProblem]) -> None:
        if not problems:
            raise ValueError("AnswerError needs at least one problem")
        self.problems = tuple(problems)
        self.item = self.problems[0].item
        self.message = self.problems[0].message
        self.reason = self.problems[0].reason
        super().__init__("; ".join(f"{p.item}: {p.message}" for p in self.problems))


def _pairs(answers: Iterable[tuple[str, int | None]] | Answers) -> list[tuple[Any, Any]]:
    if isinstance(answers, Mapping):
        return list(answers.items())
    return [tuple(pair) for pair in answers]  # type: ignore[misc]


def answer_problems(
    answers: Iterable[tuple[str, int | None]] | Answers,
    panel: Collection[str] | None = None,
) -> list[AnswerProblem]:
    """Every problem with a submission of ``(item code, value)`` pairs, in submission order.

    Rules (NCI PRO-CTCAE item library v1.0; response formats after ProAE):
    - unknown_item: the code is not one of the 124 items.
    - duplicate_item: the same item code is answered more than once (even with the same value) —
      one answer per item; different items of one term are of course allowed.
    - not_in_panel: the item is not in the study's panel (when a panel of item codes is given).
    - invalid_value: the value is not an integer (booleans are refused).
    - value_out_of_range: scales take 0..4, presence items 0 (No) or 1 (Yes).
    - null_not_allowed: ``None`` is only for items with a "Not applicable" / "Not sexually active" /
      "Prefer not to answer" option (items 36, 57, 58, 66-71, 79).
    - not_asked_after_zero: a follow-up item answered above 0 although the term's first item was 0;
      the form does not ask it (branching; ProAE zero-imputation), so the submission contradicts
      itself. A follow-up sent as 0 is accepted.
    A follow-up may be left out; the composite grade is then ``None``.
    """
    allowed_codes = None if panel is None else frozenset(panel)
    found: list[tuple[int, AnswerProblem]] = []
    accepted: dict[str, tuple[int, int | None]] = {}
    seen: set[str] = set()
    for index, (code, value) in enumerate(_pairs(answers)):
        item = items_by_code().get(code) if isinstance(code, str) else None
        if item is None:
            found.append((index, AnswerProblem(str(code), "unknown_item", "not a PRO-CTCAE item")))
            continue
        if code in seen:
            found.append((index, AnswerProblem(code, "duplicate_item", "answered more than once")))
            continue
        seen.add(code)
        problem = _value_problem(item, value, allowed_codes)
        if problem is not None:
            found.append((index, problem))
            continue
        accepted[code] = (index, value)

    for code, (index, value) in accepted.items():
        item = items_by_code()[code]
        first = items_for_term(item.term_number)[0]
        if item is first or not value or first.code not in accepted:
            continue
        if accepted[first.code][1] == 0:
            message = f"not asked when {first.code} is 0 ({first.label(0)}); send 0 or leave it out"
            found.append((index, AnswerProblem(code, "not_asked_after_zero", message)))
    found.sort(key=lambda entry: entry[0])
    return [problem for _, problem in found]


def _value_problem(item: ProItem, value: Any, panel: frozenset[str] | None) -> AnswerProblem | None:
    if panel is not None and item.code not in panel:
        return AnswerProblem(item.code, "not_in_panel", "not in this study's symptom panel")
    if value is None:
        if item.allows_null:
            return None
        return AnswerProblem(item.code, "null_not_allowed", "an answer is required (no null)")
    if isinstance(value, bool) or not isinstance(value, int):
        return AnswerProblem(item.code, "invalid_value", "the value must be an integer or null")
    if value not in item.values:
        low, high = min(item.values), max(item.values)
        return AnswerProblem(item.code, "value_out_of_range", f"value {value} is outside {low}..{high}")
    return None


def validate_answers(
    answers: Iterable[tuple[str, int | None]] | Answers,
    panel: Collection[str] | None = None,
) -> dict[str, int | None]:
    """The submission as ``{item code: value}`` in submission order, or ``AnswerError`` listing every
    problem found by ``answer_problems`` (the error's ``item`` names the first)."""
    pairs = _pairs(answers)
    problems = answer_problems(pairs, panel)
    if problems:
        raise AnswerError(problems)
    return dict(pairs)


def expand_answers(term_number: int, answers: Answers) -> dict[str, int | None]:
    """The answers to one term's items after branching, in item order.

    Rule (NCI PRO-CTCAE item library; Basch 2021 and ProAE zero-imputation): when the term's first
    item is answered 0 (Never / None / Not at all / No), its follow-up items are not asked and count
    as 0. Otherwise answers are passed through as given; unanswered items are left out.
    """
    term_items = items_for_term(term_number)
    first = term_items[0]
    if first.code in answers and answers[first.code] == 0:
        return {item.code: 0 for item in term_items}
    return {item.code: answers[item.code] for item in term_items if item.code in answers}


def _terms_answered(answers: Answers) -> list[int]:
    return sorted({_item(code).term_number for code in answers})


def expand_report(answers: Answers) -> dict[str, int | None]:
    """``expand_answers`` applied to every term the answers touch, in library order."""
    expanded: dict[str, int | None] = {}
    for number in _terms_answered(answers):
        expanded.update(expand_answers(number, answers))
    return expanded


# --------------------------------------------------------------------------------------------------
# Composite grades (Basch 2021)
# --------------------------------------------------------------------------------------------------

_TableKey = tuple[str, int | None, int | None, int | None]


def _optional_int(text: str) -> int | None:
    return int(text) if text != "" else None


@functools.cache
def composite_table() -> Mapping[_TableKey, int]:
    """Basch 2021 composite grading table: ``(pattern, frequency, severity, interference_or_amount)``
    → grade 0..3 (179 rows; ``None`` where the pattern has no such item)."""
    with _open_reference(COMPOSITE_FILE) as handle:
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
    term = _term(term_number)
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
    for number in _terms_answered(answers):
        term = _term(number)
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
