"""PRO-CTCAE item library, panel, branching and answer validation.

Source: NCI PRO-CTCAE item library v1.0 (numbering and response formats after ProAE). Composite grades
are specified in test_proctcae_grades.py, NCI's translations in test_proctcae_translations.py.
"""

import csv
from collections import Counter
from importlib import resources

import pytest

from schedules import proctcae, proctcae_answers, proctcae_grades
from schedules.proctcae import DEFAULT_HER2_PANEL, UnknownItem
from schedules.proctcae_answers import AnswerError
from tests.schedules.proctcae_patterns import README_PATTERNS

# --------------------------------------------------------------------------------------------------
# The library
# --------------------------------------------------------------------------------------------------


def test_the_library_has_124_items_for_80_terms():
    assert len(proctcae.items()) == 124
    assert len(proctcae.items_by_code()) == 124
    assert len(proctcae.term_catalog()) == 80
    assert sorted(proctcae.term_catalog()) == list(range(1, 81))


def test_attribute_counts_match_nci_s_table():
    counts = Counter(item.attribute for item in proctcae.items())
    assert counts == {"severity": 51, "frequency": 25, "interference": 25, "presence": 21, "amount": 2}


def test_the_composite_table_has_179_rows():
    table = proctcae_grades.composite_table()
    assert len(table) == 179
    assert Counter(key[0] for key in table) == {"FSI": 101, "FS": 21, "SI": 21, "FI": 21, "F": 5, "S": 5, "A": 5}


def test_item_codes_follow_proae_naming():
    for item in proctcae.items():
        suffix = "IND" if item.attribute == "presence" else "SCL"
        assert item.code == f"PROCTCAE_{item.term_number}{item.letter}_{suffix}"
    for number in range(1, 81):
        letters = [item.letter for item in proctcae.items_for_term(number)]
        assert letters == ["A", "B", "C"][: len(letters)]


def test_questions_carry_the_recall_period_and_end_with_a_question_mark():
    item = proctcae.items_by_code()["PROCTCAE_17A_SCL"]
    assert item.question == "In the last 7 days, how OFTEN did you have PAIN IN THE ABDOMEN (BELLY AREA)?"
    for item in proctcae.items():
        assert item.question.startswith("In the last 7 days, ")
        assert item.question.endswith("?") and ":" not in item.question


@pytest.mark.parametrize(
    ("code", "term", "library_term", "ctcae_term", "meddra_code"),
    [
        pytest.param("PROCTCAE_16A_SCL", "Loose or watery stools (diarrhea)", "Diarrhea", "Diarrhea", "10012727", id="diarrhea"),
        pytest.param("PROCTCAE_39A_SCL", "Numbness or tingling in your hands or feet", "Numbness & tingling",
                     "Peripheral sensory neuropathy", "10034620", id="numbness-tingling"),
        pytest.param("PROCTCAE_30A_SCL",
                     "Hand-foot syndrome (a rash of the hands or feet that can cause cracking, peeling, redness, or pain)",
                     "Hand-foot syndrome (a rash of the hands and feet that can cause cracking, peeling, redness or pain)",
                     "Palmar-plantar erythrodysesthesia syndrome", "10054524", id="hand-foot"),
        pytest.param("PROCTCAE_38A_IND", "Stretch marks", "Stretch marks",
                     "Skin and subcutaneous tissue disorders - Other, specify", "10040785", id="striae-other-specify"),
    ],
)
def test_terms_use_the_patient_wording_and_map_to_ctcae_v5(code, term, library_term, ctcae_term, meddra_code):
    item = proctcae.items_by_code()[code]
    assert (item.term, item.library_term, item.ctcae_term, item.meddra_code) == (
        term, library_term, ctcae_term, meddra_code,
    )


def test_every_mapped_ctcae_term_exists_in_ctcae_v5():
    from schedules import ctcae

    for term in proctcae.term_catalog().values():
        assert ctcae.term_by_code(term.meddra_code).term == term.ctcae_term


def test_term_catalog_agrees_with_the_item_crosswalk():
    source = resources.files("schedules") / "reference" / "pro_ctcae_term_to_ctcae_v5.csv"
    with source.open("r", encoding="utf-8", newline="") as handle:
        rows = {int(row["proae_term_number"]): row for row in csv.DictReader(handle)}
    for number, term in proctcae.term_catalog().items():
        assert term.item_codes == tuple(rows[number]["items"].split("|"))
        assert {item.term for item in proctcae.items_for_term(number)} == {term.term}


@pytest.mark.parametrize(
    ("attribute", "values", "first_label", "last_label"),
    [
        pytest.param("frequency", (0, 1, 2, 3, 4), "Never", "Almost constantly", id="frequency-0-4"),
        pytest.param("severity", (0, 1, 2, 3, 4), "None", "Very severe", id="severity-0-4"),
        pytest.param("interference", (0, 1, 2, 3, 4), "Not at all", "Very much", id="interference-0-4"),
        pytest.param("amount", (0, 1, 2, 3, 4), "Not at all", "Very much", id="amount-0-4"),
        pytest.param("presence", (1, 0), "Yes", "No", id="presence-yes-1-no-0-yes-shown-first"),
    ],
)
def test_option_values_per_attribute(attribute, values, first_label, last_label):
    for item in (i for i in proctcae.items() if i.attribute == attribute):
        scored = tuple((v, label) for v, label in item.options if v is not None)
        assert tuple(v for v, _ in scored) == values
        assert (scored[0][1], scored[-1][1]) == (first_label, last_label)


def test_scored_labels_match_nci_s_system_table():
    source = resources.files("schedules") / "reference" / "pro_ctcae_item_crosswalk.csv"
    with source.open("r", encoding="utf-8", newline="") as handle:
        nci = {row["proae_item_name"]: row["nci_system_response_options"] for row in csv.DictReader(handle)}
    unscored = {"not applicable", "not sexually active", "prefer not to answer"}
    for item in proctcae.items():
        theirs = [o.strip().casefold() for o in nci[item.code].split("/") if o.strip().casefold() not in unscored]
        ours = [label.casefold() for value, label in item.options if value is not None]
        assert ours == theirs, item.code


def test_null_is_allowed_only_on_the_v1_0_not_applicable_and_sexual_items():
    nullable = {item.term_number for item in proctcae.items() if item.allows_null}
    assert nullable == {36, 57, 58, 66, 67, 68, 69, 70, 71, 79}
    labels = {label for item in proctcae.items() for value, label in item.options if value is None}
    assert labels == {"Not applicable", "Not sexually active", "Prefer not to answer"}
    # The 2013 system table's extra "Not applicable" on diarrhea is not v1.0.
    assert not proctcae.items_by_code()["PROCTCAE_16A_SCL"].allows_null


@pytest.mark.parametrize("pattern", list(README_PATTERNS), ids=lambda p: f"pattern-{p}")
def test_patterns_from_attributes_match_proae_map_ref(pattern):
    derived = {n for n, term in proctcae.term_catalog().items() if term.pattern == pattern}
    assert derived == README_PATTERNS[pattern]


def test_the_21_presence_terms_are_not_gradable():
    ungradable = [term for term in proctcae.term_catalog().values() if not term.gradable]
    assert len(ungradable) == 21
    assert all(term.attributes == ("presence",) for term in ungradable)


def test_unknown_codes_and_terms_raise():
    with pytest.raises(UnknownItem):
        proctcae.items_for_term(81)
    with pytest.raises(UnknownItem):
        proctcae_grades.grade_term(0, {})


# --------------------------------------------------------------------------------------------------
# Default HER2 panel
# --------------------------------------------------------------------------------------------------

HER2_TERMS = {
    3: "Mouth or throat sores",
    8: "Decreased appetite",
    9: "Nausea",
    10: "Vomiting",
    15: "Constipation",
    16: "Loose or watery stools (diarrhea)",
    19: "Shortness of breath",
    22: "Arm or leg swelling",
    24: "Rash",
    27: "Hair loss",
    30: "Hand-foot syndrome (a rash of the hands or feet that can cause cracking, peeling, redness, or pain)",
    39: "Numbness or tingling in your hands or feet",
    48: "Pain",
    50: "Aching muscles",
    51: "Aching joints (such as elbows, knees, shoulders)",
    53: "Fatigue, tiredness, or lack of energy",
}


@pytest.mark.parametrize(("number", "term"), HER2_TERMS.items(), ids=[f"term-{n}" for n in HER2_TERMS])
def test_her2_panel_term_numbers_name_the_intended_symptoms(number, term):
    assert number in DEFAULT_HER2_PANEL.term_numbers
    assert proctcae.term_catalog()[number].term == term


def test_her2_panel_resolves_to_31_items_in_library_order():
    assert DEFAULT_HER2_PANEL.term_numbers == tuple(sorted(HER2_TERMS))
    assert DEFAULT_HER2_PANEL.item_codes() == (
        "PROCTCAE_3A_SCL", "PROCTCAE_3B_SCL",
        "PROCTCAE_8A_SCL", "PROCTCAE_8B_SCL",
        "PROCTCAE_9A_SCL", "PROCTCAE_9B_SCL",
        "PROCTCAE_10A_SCL", "PROCTCAE_10B_SCL",
        "PROCTCAE_15A_SCL",
        "PROCTCAE_16A_SCL",
        "PROCTCAE_19A_SCL", "PROCTCAE_19B_SCL",
        "PROCTCAE_22A_SCL", "PROCTCAE_22B_SCL", "PROCTCAE_22C_SCL",
        "PROCTCAE_24A_IND",
        "PROCTCAE_27A_SCL",
        "PROCTCAE_30A_SCL",
        "PROCTCAE_39A_SCL", "PROCTCAE_39B_SCL",
        "PROCTCAE_48A_SCL", "PROCTCAE_48B_SCL", "PROCTCAE_48C_SCL",
        "PROCTCAE_50A_SCL", "PROCTCAE_50B_SCL", "PROCTCAE_50C_SCL",
        "PROCTCAE_51A_SCL", "PROCTCAE_51B_SCL", "PROCTCAE_51C_SCL",
        "PROCTCAE_53A_SCL", "PROCTCAE_53B_SCL",
    )


# --------------------------------------------------------------------------------------------------
# Branching
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term_number", "answers", "expanded"),
    [
        pytest.param(48, {"PROCTCAE_48A_SCL": 0}, {"PROCTCAE_48A_SCL": 0, "PROCTCAE_48B_SCL": 0, "PROCTCAE_48C_SCL": 0},
                     id="never-skips-severity-and-interference-which-count-0"),
        pytest.param(53, {"PROCTCAE_53A_SCL": 0}, {"PROCTCAE_53A_SCL": 0, "PROCTCAE_53B_SCL": 0},
                     id="severity-none-skips-interference"),
        pytest.param(9, {"PROCTCAE_9A_SCL": 0, "PROCTCAE_9B_SCL": 2}, {"PROCTCAE_9A_SCL": 0, "PROCTCAE_9B_SCL": 0},
                     id="a-follow-up-after-0-is-not-asked-so-counts-0"),
        pytest.param(9, {"PROCTCAE_9A_SCL": 2, "PROCTCAE_9B_SCL": 1}, {"PROCTCAE_9A_SCL": 2, "PROCTCAE_9B_SCL": 1},
                     id="first-item-above-0-keeps-answers"),
        pytest.param(48, {"PROCTCAE_48A_SCL": 2}, {"PROCTCAE_48A_SCL": 2},
                     id="unanswered-follow-ups-stay-missing"),
        pytest.param(48, {"PROCTCAE_48A_SCL": 1, "PROCTCAE_48B_SCL": 0}, {"PROCTCAE_48A_SCL": 1, "PROCTCAE_48B_SCL": 0},
                     id="only-the-first-item-branches"),
        pytest.param(16, {"PROCTCAE_9A_SCL": 0}, {}, id="other-terms-answers-are-ignored"),
        pytest.param(36, {"PROCTCAE_36A_SCL": None}, {"PROCTCAE_36A_SCL": None}, id="null-is-kept"),
    ],
)
def test_branching(term_number, answers, expanded):
    assert proctcae_answers.expand_answers(term_number, answers) == expanded


def test_expand_report_covers_every_term_answered():
    assert proctcae_answers.expand_report({"PROCTCAE_9A_SCL": 0, "PROCTCAE_3A_SCL": 2}) == {
        "PROCTCAE_3A_SCL": 2,
        "PROCTCAE_9A_SCL": 0,
        "PROCTCAE_9B_SCL": 0,
    }


# --------------------------------------------------------------------------------------------------
# Answer validation
# --------------------------------------------------------------------------------------------------

PANEL = frozenset(DEFAULT_HER2_PANEL.item_codes())


@pytest.mark.parametrize(
    ("answers", "panel", "item", "reason"),
    [
        pytest.param([("PROCTCAE_99A_SCL", 1)], None, "PROCTCAE_99A_SCL", "unknown_item", id="unknown-item"),
        pytest.param([("PROCTCAE_9A_SCL", 5)], None, "PROCTCAE_9A_SCL", "value_out_of_range", id="scale-above-4"),
        pytest.param([("PROCTCAE_9A_SCL", -1)], None, "PROCTCAE_9A_SCL", "value_out_of_range", id="scale-below-0"),
        pytest.param([("PROCTCAE_24A_IND", 2)], None, "PROCTCAE_24A_IND", "value_out_of_range", id="presence-is-0-or-1"),
        pytest.param([("PROCTCAE_9A_SCL", 2.0)], None, "PROCTCAE_9A_SCL", "invalid_value", id="float-is-not-a-score"),
        pytest.param([("PROCTCAE_9A_SCL", True)], None, "PROCTCAE_9A_SCL", "invalid_value", id="bool-is-not-a-score"),
        pytest.param([("PROCTCAE_9A_SCL", "2")], None, "PROCTCAE_9A_SCL", "invalid_value", id="string-is-not-a-score"),
        pytest.param([("PROCTCAE_9A_SCL", 1), ("PROCTCAE_9A_SCL", 2)], None, "PROCTCAE_9A_SCL", "duplicate_item",
                     id="same-item-twice"),
        pytest.param([("PROCTCAE_9A_SCL", 1), ("PROCTCAE_9A_SCL", 1)], None, "PROCTCAE_9A_SCL", "duplicate_item",
                     id="same-item-twice-even-with-same-value"),
        pytest.param([("PROCTCAE_17A_SCL", 1)], PANEL, "PROCTCAE_17A_SCL", "not_in_panel", id="item-not-in-panel"),
        pytest.param([("PROCTCAE_9A_SCL", None)], None, "PROCTCAE_9A_SCL", "null_not_allowed",
                     id="null-refused-where-no-not-applicable-option"),
        pytest.param([("PROCTCAE_16A_SCL", None)], None, "PROCTCAE_16A_SCL", "null_not_allowed",
                     id="diarrhea-has-no-not-applicable-in-v1-0"),
        pytest.param([("PROCTCAE_9A_SCL", 0), ("PROCTCAE_9B_SCL", 3)], None, "PROCTCAE_9B_SCL", "not_asked_after_zero",
                     id="follow-up-above-0-after-never"),
        pytest.param([("PROCTCAE_48C_SCL", 2), ("PROCTCAE_48A_SCL", 0)], None, "PROCTCAE_48C_SCL",
                     "not_asked_after_zero", id="follow-up-before-its-first-item-in-the-list"),
    ],
)
def test_validation_refuses(answers, panel, item, reason):
    problems = proctcae_answers.answer_problems(answers, panel)
    assert [(p.item, p.reason) for p in problems] == [(item, reason)]
    with pytest.raises(AnswerError) as caught:
        proctcae_answers.validate_answers(answers, panel)
    assert (caught.value.item, caught.value.reason) == (item, reason)
    assert item in str(caught.value)


@pytest.mark.parametrize(
    ("answers", "panel"),
    [
        pytest.param([("PROCTCAE_9A_SCL", 2), ("PROCTCAE_9B_SCL", 3)], PANEL, id="two-items-of-one-term"),
        pytest.param([("PROCTCAE_9A_SCL", 0), ("PROCTCAE_9B_SCL", 0)], PANEL, id="follow-up-sent-as-0-after-never"),
        pytest.param([("PROCTCAE_48A_SCL", 3)], PANEL, id="follow-ups-may-be-left-out"),
        pytest.param([("PROCTCAE_36A_SCL", None)], None, id="null-for-not-applicable-item-36"),
        pytest.param([("PROCTCAE_57A_IND", None), ("PROCTCAE_79A_IND", None)], None, id="null-for-items-57-79"),
        pytest.param([("PROCTCAE_66A_SCL", None), ("PROCTCAE_69A_IND", None)], None, id="null-for-sexual-items"),
        pytest.param([("PROCTCAE_24A_IND", 1), ("PROCTCAE_27A_SCL", 4)], PANEL, id="presence-yes-and-amount"),
        pytest.param({"PROCTCAE_9A_SCL": 1}, None, id="a-mapping-is-accepted"),
    ],
)
def test_validation_accepts(answers, panel):
    assert proctcae_answers.answer_problems(answers, panel) == []
    assert proctcae_answers.validate_answers(answers, panel) == dict(answers)


def test_validation_reports_every_problem_in_submission_order():
    answers = [
        ("PROCTCAE_9B_SCL", 3),
        ("PROCTCAE_9A_SCL", 0),
        ("nonsense", 1),
        ("PROCTCAE_9A_SCL", 0),
        ("PROCTCAE_1A_SCL", 9),
    ]
    with pytest.raises(AnswerError) as caught:
        proctcae_answers.validate_answers(answers)
    assert [(p.item, p.reason) for p in caught.value.problems] == [
        ("PROCTCAE_9B_SCL", "not_asked_after_zero"),
        ("nonsense", "unknown_item"),
        ("PROCTCAE_9A_SCL", "duplicate_item"),
        ("PROCTCAE_1A_SCL", "value_out_of_range"),
    ]
    assert caught.value.item == "PROCTCAE_9B_SCL"
