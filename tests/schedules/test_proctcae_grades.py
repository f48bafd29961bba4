"""PRO-CTCAE composite grades: one 0-3 grade per symptom term from its item answers, after branching.

Source: Basch E et al., Composite grading algorithm for the NCI PRO-CTCAE, Clin Trials
2021;18(1):104-114 (the published table, packaged in schedules/reference/).
"""
import itertools

import pytest

from schedules import proctcae, proctcae_grades
from tests.schedules.proctcae_patterns import README_PATTERNS


def _answers(term_number, *values):
    codes = proctcae.term_catalog()[term_number].item_codes
    return dict(zip(codes, values, strict=True))


@pytest.mark.parametrize(
    ("term_number", "values", "grade"),
    [
        # FSI: frequency, severity, interference (e.g. 48 general pain)
        pytest.param(48, (0, 0, 0), 0, id="FSI-never-is-0"),
        pytest.param(48, (1, 0, 0), 0, id="FSI-rarely-none-not-at-all-is-0"),
        pytest.param(48, (4, 0, 0), 1, id="FSI-almost-constantly-none-not-at-all-is-1"),
        pytest.param(48, (1, 1, 0), 1, id="FSI-rarely-mild-is-1"),
        pytest.param(48, (1, 0, 3), 2, id="FSI-interference-quite-a-bit-alone-is-2"),
        pytest.param(48, (3, 1, 1), 1, id="FSI-frequent-mild-a-little-is-1"),
        pytest.param(48, (2, 2, 2), 2, id="FSI-all-moderate-is-2"),
        pytest.param(48, (3, 3, 0), 2, id="FSI-frequent-severe-no-interference-is-2"),
        pytest.param(48, (1, 2, 4), 3, id="FSI-very-much-interference-with-moderate-is-3"),
        pytest.param(48, (4, 4, 4), 3, id="FSI-maximum-is-3"),
        # FS: frequency, severity (e.g. 9 nausea)
        pytest.param(9, (1, 0), 1, id="FS-rarely-none-is-1"),
        pytest.param(9, (1, 3), 2, id="FS-rarely-severe-is-2"),
        pytest.param(9, (3, 3), 3, id="FS-frequent-severe-is-3"),
        pytest.param(9, (4, 1), 1, id="FS-almost-constantly-mild-is-1"),
        # SI: severity, interference (e.g. 53 fatigue)
        pytest.param(53, (1, 0), 1, id="SI-mild-is-1"),
        pytest.param(53, (3, 1), 2, id="SI-severe-a-little-is-2"),
        pytest.param(53, (4, 2), 2, id="SI-very-severe-somewhat-is-2"),
        pytest.param(53, (4, 3), 3, id="SI-very-severe-quite-a-bit-is-3"),
        pytest.param(53, (2, 4), 3, id="SI-moderate-very-much-is-3"),
        # FI: frequency, interference (e.g. 18 loss of bowel control)
        pytest.param(18, (2, 3), 2, id="FI-occasionally-quite-a-bit-is-2"),
        pytest.param(18, (3, 3), 3, id="FI-frequently-quite-a-bit-is-3"),
        # F, S, A: single items
        pytest.param(16, (1,), 1, id="F-diarrhea-rarely-is-1"),
        pytest.param(16, (2,), 1, id="F-diarrhea-occasionally-is-1"),
        pytest.param(16, (3,), 2, id="F-diarrhea-frequently-is-2"),
        pytest.param(16, (4,), 3, id="F-diarrhea-almost-constantly-is-3"),
        pytest.param(30, (2,), 2, id="S-hand-foot-moderate-is-2"),
        pytest.param(30, (3,), 3, id="S-hand-foot-severe-is-3"),
        pytest.param(30, (4,), 3, id="S-hand-foot-very-severe-is-3"),
        pytest.param(27, (2,), 1, id="A-hair-loss-somewhat-is-1"),
        pytest.param(27, (4,), 2, id="A-hair-loss-very-much-is-2"),
    ],
)
def test_composite_grade_rows(term_number, values, grade):
    assert proctcae_grades.grade_term(term_number, _answers(term_number, *values)) == grade


@pytest.mark.parametrize(
    ("term_number", "answers"),
    [
        pytest.param(48, {"PROCTCAE_48A_SCL": 3, "PROCTCAE_48B_SCL": 2}, id="missing-interference-gives-no-grade"),
        pytest.param(48, {"PROCTCAE_48B_SCL": 2, "PROCTCAE_48C_SCL": 2}, id="missing-first-item-gives-no-grade"),
        pytest.param(36, {"PROCTCAE_36A_SCL": None}, id="not-applicable-gives-no-grade"),
        pytest.param(66, {"PROCTCAE_66A_SCL": None}, id="prefer-not-to-answer-gives-no-grade"),
        pytest.param(24, {"PROCTCAE_24A_IND": 1}, id="presence-terms-are-not-graded"),
        pytest.param(9, {}, id="no-answers-no-grade"),
    ],
)
def test_no_composite_grade(term_number, answers):
    assert proctcae_grades.grade_term(term_number, answers) is None


def test_branching_is_applied_before_grading():
    # 9A Never: 9B is not asked, counts 0, and the grade is 0 (table row FS,0,0 -> 0).
    assert proctcae_grades.grade_term(9, {"PROCTCAE_9A_SCL": 0}) == 0
    assert proctcae_grades.grade_term(48, {"PROCTCAE_48A_SCL": 0}) == 0


@pytest.mark.parametrize("pattern", list(README_PATTERNS), ids=lambda p: f"every-{p}-row")
def test_every_table_row_is_reached_through_grade_term(pattern):
    term_number = min(README_PATTERNS[pattern])
    for key, grade in proctcae_grades.composite_table().items():
        if key[0] != pattern:
            continue
        values = [v for v in key[1:] if v is not None]
        assert proctcae_grades.grade_term(term_number, _answers(term_number, *values)) == grade, key


@pytest.mark.parametrize("pattern", list(README_PATTERNS), ids=lambda p: f"{p}-complete")
def test_every_valid_answer_combination_after_branching_has_a_grade(pattern):
    term_number = min(README_PATTERNS[pattern])
    codes = proctcae.term_catalog()[term_number].item_codes
    for values in itertools.product(range(5), repeat=len(codes)):
        assert proctcae_grades.grade_term(term_number, dict(zip(codes, values))) in (0, 1, 2, 3)


def test_grade_report():
    report = proctcae_grades.grade_report(
        {
            "PROCTCAE_48A_SCL": 3,
            "PROCTCAE_48B_SCL": 3,
            "PROCTCAE_48C_SCL": 2,
            "PROCTCAE_9A_SCL": 0,
            "PROCTCAE_24A_IND": 1,
        }
    )
    assert [(g.term_number, g.term, g.ctcae_term, g.meddra_code, g.composite_grade, g.gradable) for g in report] == [
        (9, "Nausea", "Nausea", "10028813", 0, True),
        (24, "Rash", "Rash maculo-papular", "10037868", None, False),
        (48, "Pain", "Pain", "10033371", 3, True),
    ]
    assert report[0].answers == {"PROCTCAE_9A_SCL": 0, "PROCTCAE_9B_SCL": 0}
    assert report[2].pattern == "FSI"
