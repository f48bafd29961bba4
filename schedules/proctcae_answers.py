"""PRO-CTCAE® answer rules: checking a submission and applying the form's branching.

A patient's answers must fit the item library (``schedules.proctcae``): known items, one answer
each, the values the item's response format allows (NCI PRO-CTCAE item library v1.0; response
formats after ProAE). The form does not ask a term's follow-up items when its first item is 0, so
they count as 0 (ProAE zero-imputation, as used by Basch et al. 2021). Composite grading
(``schedules.proctcae_grades``) relies on both.

Pure code: stdlib only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schedules.proctcae import ProItem, items_by_code, items_for_term, lookup_item

__all__ = [
    "AnswerError",
    "AnswerProblem",
    "Answers",
    "answer_problems",
    "expand_answers",
    "expand_report",
    "terms_answered",
    "validate_answers",
]

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


def terms_answered(answers: Answers) -> list[int]:
    """The term numbers the answers touch, in library order (``UnknownItem`` for an unknown code)."""
    return sorted({lookup_item(code).term_number for code in answers})


def expand_report(answers: Answers) -> dict[str, int | None]:
    """``expand_answers`` applied to every term the answers touch, in library order."""
    expanded: dict[str, int | None] = {}
    for number in terms_answered(answers):
        expanded.update(expand_answers(number, answers))
    return expanded
