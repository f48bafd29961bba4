"""CTCAE v5.0 term list (NCI, 27 Nov 2017): counts, look-ups, search and grade checks."""

import pytest

from schedules import ctcae
from schedules.ctcae import GradeNotDefined, UnknownCtcaeTerm


def test_the_list_has_nci_s_837_terms_with_unique_names_and_codes():
    terms = ctcae.ctcae_terms()
    assert len(terms) == 837
    assert len({t.meddra_code for t in terms}) == 837
    assert len({t.term for t in terms}) == 837


def test_there_are_26_socs():
    assert len(ctcae.soc_names()) == 26
    assert len({t.soc for t in ctcae.ctcae_terms()}) == 26


def test_codes_are_8_digit_meddra_llt_codes():
    assert all(len(t.meddra_code) == 8 and t.meddra_code.isdigit() for t in ctcae.ctcae_terms())


def test_grade_cells_marked_dash_are_left_out():
    # README: the "-" cells number G1 192, G2 92, G3 87, G4 286, G5 343.
    terms = ctcae.ctcae_terms()
    missing = {g: sum(1 for t in terms if g not in t.grades) for g in ctcae.CTCAE_GRADES}
    assert missing == {1: 192, 2: 92, 3: 87, 4: 286, 5: 343}
    assert all("-" != text for t in terms for text in t.grades.values())


def test_other_specify_terms_have_no_definition():
    others = [t for t in ctcae.ctcae_terms() if t.term.endswith("Other, specify")]
    assert len(others) == 26
    assert all(t.definition is None for t in others)
    assert sum(1 for t in ctcae.ctcae_terms() if t.definition is None) == 26


def test_74_terms_have_a_navigational_note():
    assert sum(1 for t in ctcae.ctcae_terms() if t.navigational_note) == 74


@pytest.mark.parametrize(
    ("code", "term", "soc"),
    [
        pytest.param("10016288", "Febrile neutropenia", "Blood and lymphatic system disorders", id="febrile-neutropenia"),
        pytest.param("10012727", "Diarrhea", "Gastrointestinal disorders", id="diarrhea"),
        pytest.param("10034620", "Peripheral sensory neuropathy", "Nervous system disorders", id="neuropathy"),
        pytest.param("10054524", "Palmar-plantar erythrodysesthesia syndrome", "Skin and subcutaneous tissue disorders", id="ppe"),
        pytest.param("10050528", "Ejection fraction decreased", "Investigations", id="lvef-decreased"),
        pytest.param("10069501", "Left ventricular systolic dysfunction", "Cardiac disorders", id="lv-dysfunction"),
    ],
)
def test_spot_checks_by_code_and_by_name(code, term, soc):
    by_code = ctcae.term_by_code(code)
    assert (by_code.term, by_code.soc) == (term, soc)
    assert ctcae.term_by_name(term.upper()) is by_code
    assert ctcae.term_by_code(int(code)) is by_code


@pytest.mark.parametrize(
    "lookup",
    [
        pytest.param(lambda: ctcae.term_by_name("Diarrhoea"), id="unknown-name"),
        pytest.param(lambda: ctcae.term_by_code("99999999"), id="unknown-code"),
    ],
)
def test_unknown_terms_raise(lookup):
    with pytest.raises(UnknownCtcaeTerm):
        lookup()


@pytest.mark.parametrize(
    ("term", "allowed"),
    [
        pytest.param("Alopecia", (1, 2), id="alopecia-has-no-grade-3"),
        pytest.param("Febrile neutropenia", (3, 4, 5), id="febrile-neutropenia-starts-at-3"),
        pytest.param("Diarrhea", (1, 2, 3, 4, 5), id="diarrhea-all-grades"),
        pytest.param("Fatigue", (1, 2, 3), id="fatigue-no-grade-4-or-5"),
        pytest.param("Peripheral sensory neuropathy", (1, 2, 3, 4), id="neuropathy-no-grade-5"),
        pytest.param("10001760", (1, 2), id="lookup-by-code"),
    ],
)
def test_allowed_grades(term, allowed):
    assert ctcae.allowed_grades(term) == allowed


@pytest.mark.parametrize(
    ("term", "grade"),
    [
        pytest.param("Alopecia", 3, id="grade-missing-in-the-middle"),
        pytest.param("Fatigue", 4, id="no-grade-4"),
        pytest.param("Fatigue", 5, id="no-grade-5"),
        pytest.param("Febrile neutropenia", 1, id="no-grade-1"),
        pytest.param("Diarrhea", 0, id="no-grade-0-in-ctcae"),
        pytest.param("Diarrhea", 6, id="above-5"),
        pytest.param("Diarrhea", True, id="bool-is-not-a-grade"),
        pytest.param("Diarrhea", "2", id="string-is-not-a-grade"),
    ],
)
def test_undefined_grades_are_refused_with_the_allowed_grades(term, grade):
    with pytest.raises(GradeNotDefined) as caught:
        ctcae.validate_grade(term, grade)
    assert caught.value.allowed == ctcae.allowed_grades(term)
    assert caught.value.term == term


def test_a_defined_grade_is_accepted():
    alopecia = ctcae.term_by_name("Alopecia")
    assert ctcae.validate_grade(alopecia, 2) is alopecia


@pytest.mark.parametrize(
    ("query", "expected_first", "must_include"),
    [
        pytest.param("diarrhea", "Diarrhea", [], id="exact-name-first"),
        pytest.param("FEBRILE neutro", "Febrile neutropenia", [], id="all-words-case-insensitive"),
        pytest.param("neutro", None, ["Febrile neutropenia", "Neutrophil count decreased"], id="substring"),
        pytest.param("pain", "Pain", ["Abdominal pain", "Pain in extremity"], id="prefix-then-word"),
        pytest.param("1001628", "Febrile neutropenia", [], id="meddra-code-prefix"),
        pytest.param("fatigue general", "Fatigue", [], id="word-found-in-soc"),
    ],
)
def test_search(query, expected_first, must_include):
    names = [t.term for t in ctcae.search_terms(query, limit=200)]
    if expected_first is not None:
        assert names[0] == expected_first
    assert set(must_include) <= set(names)


def test_search_needs_every_word():
    assert ctcae.search_terms("diarrhea cardiac") == []


def test_search_by_a_full_soc_name_lists_only_that_soc():
    found = ctcae.search_terms("Cardiac disorders", limit=1000)
    assert found and all(t.soc == "Cardiac disorders" for t in found)
    assert len(found) == sum(1 for t in ctcae.ctcae_terms() if t.soc == "Cardiac disorders")


def test_search_respects_the_limit_and_refuses_nonsense_limits():
    assert len(ctcae.search_terms("", limit=10)) == 10
    assert len(ctcae.search_terms("disorders")) == 50
    with pytest.raises(ValueError):
        ctcae.search_terms("pain", limit=0)


def test_a_partial_soc_word_also_matches_term_names():
    # "cardiac" is in the SOC "Cardiac disorders" and in names such as "Cardiac troponin I increased".
    socs = {t.soc for t in ctcae.search_terms("cardiac", limit=1000)}
    assert {"Cardiac disorders", "Investigations"} <= socs
