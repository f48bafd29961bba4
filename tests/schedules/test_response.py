"""Best overall response with confirmation (RECIST 1.1 section 4.3, Table 3), clinical benefit, DoR and OS.

Days are study days after the first dose (``date - first_dose``): "42" is first dose + 42 days. Defaults:
confirm_min_days 28 (later - earlier), sd_min_days 35 and cbr_sd_min_days 183 (date - first dose).
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedules.pfs import Outcome, derive_pfs
from schedules.pfs_assessments import Assessment, scheduled_assessments
from schedules.response import (
    ResponseRules,
    best_overall_response,
    duration_of_response,
    exact_interval,
    overall_survival,
    rate,
    with_baseline,
)

FIRST_DOSE = date(2026, 1, 5)
BASELINE = Assessment(date(2025, 12, 29), baseline=True)


def on(day: int) -> date:
    return FIRST_DOSE + timedelta(days=day)


def scans(*pairs: tuple[int, str]) -> list[Assessment]:
    return [BASELINE, *(Assessment(on(day), response) for day, response in pairs)]


def bor(*pairs, outcomes=(), cutoff=400, rules=ResponseRules()):
    return best_overall_response(FIRST_DOSE, scans(*pairs), outcomes, on(cutoff), rules)


# RECIST 1.1 Table 3 (confirmation required): first time point, subsequent time point -> BOR.
# Each row once with the first assessment late enough for SD (day 42) and, where the table says
# "otherwise", once too early (day 30, the pair 28 days apart).
TABLE_3 = {
    "CR then CR: CR": ((42, "CR"), (84, "CR"), "CR"),
    "CR then PR: PR (these rules: a CR or PR confirmed by a CR or PR)": ((42, "CR"), (84, "PR"), "PR"),
    "CR then SD: SD when SD's minimum is met": ((42, "CR"), (84, "SD"), "SD"),
    "CR then SD: SD, the SD itself meets the minimum": ((30, "CR"), (58, "SD"), "SD"),
    "CR then PD: SD when SD's minimum is met": ((42, "CR"), (84, "PD"), "SD"),
    "CR then PD: otherwise PD": ((30, "CR"), (58, "PD"), "PD"),
    "CR then NE: SD when SD's minimum is met": ((42, "CR"), (84, "NE"), "SD"),
    "CR then NE: otherwise NE": ((30, "CR"), (58, "NE"), "NE"),
    "PR then CR: PR": ((42, "PR"), (84, "CR"), "PR"),
    "PR then PR: PR": ((42, "PR"), (84, "PR"), "PR"),
    "PR then SD: SD": ((42, "PR"), (84, "SD"), "SD"),
    "PR then PD: SD when SD's minimum is met": ((42, "PR"), (84, "PD"), "SD"),
    "PR then PD: otherwise PD": ((30, "PR"), (58, "PD"), "PD"),
    "PR then NE: SD when SD's minimum is met": ((42, "PR"), (84, "NE"), "SD"),
    "PR then NE: otherwise NE": ((30, "PR"), (58, "NE"), "NE"),
    "NE then NE: NE": ((42, "NE"), (84, "NE"), "NE"),
}


@pytest.mark.parametrize("first, second, expected", TABLE_3.values(), ids=TABLE_3.keys())
def test_recist_table_3(first, second, expected):
    assert bor(first, second).best_overall_response == expected


CASES = {
    # Confirmation: later - earlier >= confirm_min_days.
    "PR confirmed 28 days later": (((42, "PR"), (70, "PR")), "PR", True),
    "PR 27 days later does not confirm: SD": (((42, "PR"), (69, "PR")), "SD", False),
    "CR 28 days later confirms CR": (((42, "CR"), (70, "CR")), "CR", True),
    "CR 27 days later: a PR-level pair needs 28 too, SD": (((42, "CR"), (69, "CR")), "SD", False),
    # NE between the pair.
    "one NE between confirms": (((42, "PR"), (63, "NE"), (84, "PR")), "PR", True),
    "two NE between do not confirm": (((42, "PR"), (56, "NE"), (70, "NE"), (84, "PR")), "SD", False),
    "SD between breaks the pair": (((42, "PR"), (63, "SD"), (84, "PR")), "SD", False),
    "PR between does not break a CR pair": (((42, "CR"), (63, "PR"), (84, "CR")), "CR", True),
    # PD ends the assessments that count.
    "PD after an unconfirmed PR: SD (PR on day 42)": (((42, "PR"), (84, "PD")), "SD", False),
    "PD after an unconfirmed early PR: PD": (((30, "PR"), (50, "PD")), "PD", False),
    "a PR after the first PD never confirms": (((42, "PR"), (63, "PD"), (84, "PR")), "SD", False),
    # SD's minimum from the first dose: date - first dose >= 35.
    "SD on day 35: SD": (((35, "SD"),), "SD", False),
    "SD on day 34 then PD: PD": (((34, "SD"), (60, "PD")), "PD", False),
    "SD on day 34 alone: NE": (((34, "SD"),), "NE", False),
    "NON_CR_NON_PD on day 42: its own category": (((42, "NON_CR_NON_PD"),), "NON_CR_NON_PD", False),
    "NON_CR_NON_PD on day 34 then PD: PD": (((34, "NON_CR_NON_PD"), (70, "PD")), "PD", False),
    "PD first: PD": (((42, "PD"),), "PD", False),
    "only NE: NE": (((42, "NE"),), "NE", False),
}


@pytest.mark.parametrize("pairs, expected, confirmed", CASES.values(), ids=CASES.keys())
def test_best_overall_response(pairs, expected, confirmed):
    result = bor(*pairs)
    assert (result.best_overall_response, result.confirmed) == (expected, confirmed)


def test_no_post_baseline_assessment_is_missing():
    result = best_overall_response(FIRST_DOSE, [BASELINE], (), on(400))
    assert result.best_overall_response == "missing" and not result.clinical_benefit


def test_a_scan_on_the_first_dose_day_precedes_dosing():
    assert bor((0, "PR")).best_overall_response == "missing"


def test_the_cutoff_hides_later_assessments():
    assert bor((42, "PR"), (84, "PR"), cutoff=83).best_overall_response == "SD"
    assert bor((42, "PR"), (84, "PR"), cutoff=84).best_overall_response == "PR"


def test_assessments_from_new_anticancer_therapy_on_do_not_count():
    therapy = (Outcome("new_anticancer_therapy", on(84)),)
    assert bor((42, "PR"), (84, "PR"), outcomes=therapy).best_overall_response == "SD"
    therapy = (Outcome("new_anticancer_therapy", on(85)),)
    assert bor((42, "PR"), (84, "PR"), outcomes=therapy).best_overall_response == "PR"


def test_confirmation_dates_and_first_response():
    result = bor((42, "PR"), (84, "PR"), (126, "CR"), (168, "CR"))
    assert result.best_overall_response == "CR"
    assert result.confirmed_by == (on(126), on(168)) and result.confirmation_date == on(168)
    assert result.first_response_date == on(42)


@pytest.mark.parametrize("day, benefit", [(182, False), (183, True)])
def test_clinical_benefit_needs_stable_disease_183_days_after_the_first_dose(day, benefit):
    assert bor((42, "SD"), (day, "SD")).clinical_benefit is benefit


def test_clinical_benefit_counts_only_before_progression():
    assert bor((42, "SD"), (150, "PD"), (190, "SD")).clinical_benefit is False
    assert bor((42, "PR"), (84, "PR")).clinical_benefit is True


def test_the_day_counts_are_study_settings():
    rules = ResponseRules(confirm_min_days=42, sd_min_days=50, cbr_sd_min_days=100)
    assert bor((42, "PR"), (70, "PR"), rules=rules).best_overall_response == "SD"
    assert bor((42, "SD"), rules=rules).best_overall_response == "NE"
    assert bor((60, "SD"), (100, "SD"), rules=rules).clinical_benefit


@pytest.mark.parametrize("settings", [{"confirm_min_days": 0}, {"sd_min_days": "35"},
                                      {"cbr_sd_min_days": 731}, {"confirm_min_days": True}])
def test_settings_are_bounded(settings):
    with pytest.raises(ValueError):
        ResponseRules.from_settings(settings)


@given(st.lists(st.tuples(st.integers(1, 400), st.sampled_from(["CR", "PR", "SD", "NON_CR_NON_PD", "PD", "NE"])),
                max_size=8))
def test_properties(pairs):
    result = bor(*pairs)
    assert result.confirmed == (result.best_overall_response in ("CR", "PR"))
    if result.confirmed:
        first, second = result.confirmed_by
        assert (second - first).days >= 28 and result.first_response_date <= first
        assert result.clinical_benefit
    if not pairs:
        assert result.best_overall_response == "missing"
    # More follow-up never takes a confirmed response away (assessments are only appended).
    later = bor(*pairs, (401, "PD"), cutoff=500)
    if result.confirmed:
        assert later.confirmed


# --- DoR and OS -----------------------------------------------------------------------------------
def _pfs(assessments, outcomes=(), as_of=400):
    schedule = scheduled_assessments(FIRST_DOSE, 42, 7, on(as_of))
    return derive_pfs(FIRST_DOSE, schedule, assessments, outcomes, on(as_of))


def test_duration_of_response_runs_from_the_first_response_to_progression():
    progression = _pfs(scans((42, "PR"), (84, "PR"), (126, "PD")))
    dor = duration_of_response(progression, on(42))
    assert (dor.status, dor.date, dor.days, dor.cnsr, dor.reason) == ("event", on(126), 85, 0, "progression")


def test_duration_of_response_is_censored_as_pfs():
    therapy = (Outcome("new_anticancer_therapy", on(100)),)
    dor = duration_of_response(_pfs(scans((42, "PR"), (84, "PR")), therapy), on(42))
    assert (dor.date, dor.days, dor.cnsr, dor.reason) == (on(84), 43, 4, "new_anticancer_therapy")


def test_duration_of_response_without_a_recorded_baseline():
    assessments = with_baseline(FIRST_DOSE, [Assessment(on(42), "PR"), Assessment(on(84), "PR")])
    dor = duration_of_response(_pfs(assessments, as_of=100), on(42))
    assert (dor.reason, dor.date, dor.days) == ("ongoing", on(84), 43)


def test_overall_survival():
    death = overall_survival(FIRST_DOSE, on(99), on(80), on(400))
    assert (death.status, death.days, death.cnsr, death.reason) == ("event", 100, 0, "death")
    alive = overall_survival(FIRST_DOSE, None, on(80), on(400))
    assert (alive.status, alive.date, alive.days, alive.cnsr) == ("censored", on(80), 81, 1)
    after_cutoff = overall_survival(FIRST_DOSE, on(99), on(80), on(90))
    assert (after_cutoff.status, after_cutoff.date) == ("censored", on(80))
    nothing = overall_survival(FIRST_DOSE, None, None, on(90))
    assert (nothing.date, nothing.days) == (FIRST_DOSE, 1)


# --- exact binomial interval ------------------------------------------------------------------------
@pytest.mark.parametrize("k, n, lower, upper", [
    (0, 10, 0.0, 0.3084971),   # Clopper-Pearson table values
    (5, 10, 0.1870860, 0.8129140),
    (10, 10, 0.6915029, 1.0),
    (1, 20, 0.0012650, 0.2487328),
])
def test_clopper_pearson(k, n, lower, upper):
    low, high = exact_interval(k, n)
    assert low == pytest.approx(lower, abs=1e-6) and high == pytest.approx(upper, abs=1e-6)


def test_a_rate_of_nobody_is_null():
    assert rate(0, 0) == {"numerator": 0, "denominator": 0, "rate": None, "ci": [None, None]}
