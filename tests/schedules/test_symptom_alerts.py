"""Symptom alert rules: composite grade (Basch 2021), severe symptom, worsening against first/previous."""

import pytest

from schedules.proctcae_grades import grade_report
from schedules.symptom_alerts import AlertFinding, AlertRules, evaluate_alerts

NAUSEA_F, NAUSEA_S = "PROCTCAE_9A_SCL", "PROCTCAE_9B_SCL"
PAIN_F, PAIN_S, PAIN_I = "PROCTCAE_48A_SCL", "PROCTCAE_48B_SCL", "PROCTCAE_48C_SCL"
HAND_FOOT = "PROCTCAE_30A_SCL"
RASH = "PROCTCAE_24A_IND"
SEXUAL_PAIN = "PROCTCAE_71A_SCL"


def _fired(current, previous=None, first=None, rules=AlertRules()):
    findings = evaluate_alerts(grade_report(current), previous, first, rules)
    return [(f.rule, f.term_number, f.item_code) for f in findings]


@pytest.mark.parametrize(
    ("current", "previous", "first", "expected"),
    [
        # composite_grade: Basch 2021 grade >= 3
        pytest.param({NAUSEA_F: 3, NAUSEA_S: 3}, None, None,
                     [("composite_grade", 9, None), ("severe_symptom", 9, NAUSEA_S)],
                     id="composite-3-fires"),
        pytest.param({PAIN_F: 2, PAIN_S: 2, PAIN_I: 2}, None, None, [], id="composite-2-does-not-fire"),
        pytest.param({"PROCTCAE_16A_SCL": 4}, None, None, [("composite_grade", 16, None)],
                     id="composite-3-from-frequency-alone-fires"),
        # severe_symptom: a severity item at Severe (3) or Very severe (4)
        pytest.param({HAND_FOOT: 3}, None, None, [("composite_grade", 30, None), ("severe_symptom", 30, HAND_FOOT)],
                     id="severe-fires"),
        pytest.param({PAIN_F: 1, PAIN_S: 4, PAIN_I: 0}, None, None, [("severe_symptom", 48, PAIN_S)],
                     id="very-severe-fires-even-when-composite-is-below-3"),
        pytest.param({HAND_FOOT: 2}, None, None, [], id="moderate-does-not-fire"),
        pytest.param({PAIN_F: 4, PAIN_S: 1, PAIN_I: 1}, None, None, [],
                     id="frequency-4-is-not-a-severity-answer"),
        pytest.param({SEXUAL_PAIN: None}, None, None, [], id="prefer-not-to-answer-never-fires"),
        # worsening: a rise of 2 or more on any item, against first or previous
        pytest.param({HAND_FOOT: 2}, None, {HAND_FOOT: 0}, [("worsening", 30, HAND_FOOT)],
                     id="rise-of-exactly-2-against-first-fires"),
        pytest.param({HAND_FOOT: 2}, None, {HAND_FOOT: 1}, [], id="rise-of-1-against-first-does-not-fire"),
        pytest.param({HAND_FOOT: 2}, {HAND_FOOT: 0}, None, [("worsening", 30, HAND_FOOT)],
                     id="rise-of-exactly-2-against-previous-fires"),
        pytest.param({HAND_FOOT: 2}, {HAND_FOOT: 1}, None, [], id="rise-of-1-against-previous-does-not-fire"),
        pytest.param({HAND_FOOT: 2}, {HAND_FOOT: 1}, {HAND_FOOT: 0}, [("worsening", 30, HAND_FOOT)],
                     id="rise-against-first-fires-although-previous-rose-by-1"),
        pytest.param({HAND_FOOT: 2}, {HAND_FOOT: 0}, {HAND_FOOT: 1}, [("worsening", 30, HAND_FOOT)],
                     id="rise-against-previous-fires-although-first-rose-by-1"),
        pytest.param({HAND_FOOT: 0}, {HAND_FOOT: 2}, {HAND_FOOT: 2}, [], id="improvement-does-not-fire"),
        pytest.param({PAIN_F: 1, PAIN_S: 2, PAIN_I: 0}, {PAIN_F: 0}, None, [("worsening", 48, PAIN_S)],
                     id="unasked-follow-up-in-baseline-counts-0"),
        pytest.param({NAUSEA_F: 0}, {NAUSEA_F: 1, NAUSEA_S: 2}, None, [],
                     id="unasked-follow-up-now-counts-0-so-it-fell"),
        pytest.param({HAND_FOOT: 2}, {"PROCTCAE_3A_SCL": 0}, {"PROCTCAE_3A_SCL": 0}, [],
                     id="item-missing-from-baselines-is-not-compared"),
        pytest.param({RASH: 1}, {RASH: 0}, {RASH: 0}, [], id="presence-no-to-yes-is-a-rise-of-1-only"),
        pytest.param({"PROCTCAE_36A_SCL": 3}, {"PROCTCAE_36A_SCL": None}, None,
                     [("composite_grade", 36, None), ("severe_symptom", 36, "PROCTCAE_36A_SCL")],
                     id="null-baseline-is-not-compared"),
    ],
)
def test_default_rules(current, previous, first, expected):
    assert _fired(current, previous, first) == expected


def test_one_worsening_finding_per_term_naming_the_largest_rise():
    findings = evaluate_alerts(
        grade_report({PAIN_F: 3, PAIN_S: 2, PAIN_I: 4}),
        previous={PAIN_F: 1, PAIN_S: 1, PAIN_I: 2},
        first={PAIN_F: 0},
    )
    worsening = [f for f in findings if f.rule == "worsening"]
    assert worsening == [
        AlertFinding(
            rule="worsening",
            term_number=48,
            term="Pain",
            item_code=PAIN_I,
            detail={
                "value": 4,
                "first": 0,
                "previous": 2,
                "rise": 4,
                "against": ["first", "previous"],
                "threshold": 2,
                "items": [PAIN_F, PAIN_S, PAIN_I],
            },
        )
    ]


def test_a_tie_names_the_earliest_item():
    findings = evaluate_alerts(grade_report({NAUSEA_F: 2, NAUSEA_S: 2}), previous={NAUSEA_F: 0}, first=None)
    assert [(f.rule, f.item_code, f.detail["rise"]) for f in findings] == [("worsening", NAUSEA_F, 2)]


def test_findings_are_ordered_by_term_then_rule():
    findings = evaluate_alerts(
        grade_report({HAND_FOOT: 4, NAUSEA_F: 4, NAUSEA_S: 4}),
        previous={HAND_FOOT: 1, NAUSEA_F: 1, NAUSEA_S: 1},
        first=None,
    )
    assert [(f.term_number, f.rule) for f in findings] == [
        (9, "composite_grade"), (9, "severe_symptom"), (9, "worsening"),
        (30, "composite_grade"), (30, "severe_symptom"), (30, "worsening"),
    ]


def test_details_carry_the_values():
    composite, severe = evaluate_alerts(grade_report({HAND_FOOT: 4}))
    assert composite.detail == {"composite_grade": 3, "threshold": 3}
    assert severe.detail == {"value": 4, "label": "Very severe", "threshold": 3}
    assert severe.term.startswith("Hand-foot syndrome")


@pytest.mark.parametrize(
    ("rules", "current", "previous", "expected"),
    [
        pytest.param(AlertRules(composite_grade_at_least=None), {"PROCTCAE_16A_SCL": 4}, None, [],
                     id="composite-rule-switched-off"),
        pytest.param(AlertRules(composite_grade_at_least=2), {"PROCTCAE_16A_SCL": 3}, None,
                     [("composite_grade", 16, None)], id="composite-threshold-lowered-to-2"),
        pytest.param(AlertRules(severity_at_least=4), {HAND_FOOT: 3}, None, [("composite_grade", 30, None)],
                     id="only-very-severe-counts"),
        pytest.param(AlertRules(severity_at_least=None, composite_grade_at_least=None), {HAND_FOOT: 4}, None, [],
                     id="severity-rule-switched-off"),
        pytest.param(AlertRules(rise_at_least=1), {HAND_FOOT: 1}, {HAND_FOOT: 0}, [("worsening", 30, HAND_FOOT)],
                     id="rise-threshold-lowered-to-1"),
        pytest.param(AlertRules(rise_at_least=3), {HAND_FOOT: 2}, {HAND_FOOT: 0}, [],
                     id="rise-threshold-raised-to-3"),
        pytest.param(AlertRules(rise_at_least=None), {HAND_FOOT: 2}, {HAND_FOOT: 0}, [],
                     id="worsening-rule-switched-off"),
    ],
)
def test_study_configured_rules(rules, current, previous, expected):
    assert _fired(current, previous, None, rules) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"composite_grade_at_least": 4}, id="composite-above-3"),
        pytest.param({"composite_grade_at_least": 0}, id="composite-0-would-fire-always"),
        pytest.param({"severity_at_least": 5}, id="severity-above-4"),
        pytest.param({"rise_at_least": 0}, id="rise-0"),
        pytest.param({"rise_at_least": True}, id="bool-threshold"),
    ],
)
def test_nonsense_thresholds_are_refused(kwargs):
    with pytest.raises(ValueError):
        AlertRules(**kwargs)
