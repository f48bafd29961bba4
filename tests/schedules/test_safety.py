"""The safety table: treatment-emergent window, patients at their worst grade, PRO-CTCAE worst composite grades."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from schedules.safety import ANY_TERM, AdverseEventRecord, SafetyPatient, SymptomGrade, safety_table, treatment_emergent

FIRST, LAST = date(2026, 1, 5), date(2026, 3, 2)
CUTOFF = date(2026, 12, 31)
BLOOD, SKIN = "Blood and lymphatic system disorders", "Skin and subcutaneous tissue disorders"


def ae(term="Anemia", grade=1, onset=date(2026, 2, 1), soc=BLOOD, **kwargs):
    return AdverseEventRecord(term, soc, grade, onset, **kwargs)


@pytest.mark.parametrize("onset, emergent", [
    (FIRST - timedelta(days=1), False),          # before the first dose: not treatment-emergent
    (FIRST, True),                               # on the first dose day
    (LAST + timedelta(days=30), True),           # the 30th day after the last dose
    (LAST + timedelta(days=31), False),
])
def test_treatment_emergent_window(onset, emergent):
    assert treatment_emergent(ae(onset=onset), FIRST, LAST, CUTOFF) is emergent


def test_no_dose_recorded_counts_from_the_first_dose():
    assert treatment_emergent(ae(onset=FIRST + timedelta(days=30)), FIRST, None, CUTOFF)
    assert not treatment_emergent(ae(onset=FIRST + timedelta(days=31)), FIRST, None, CUTOFF)


def test_the_cutoff_hides_later_events():
    assert not treatment_emergent(ae(onset=date(2026, 2, 1)), FIRST, LAST, date(2026, 1, 31))


def test_patients_are_counted_once_at_their_worst_grade():
    patients = [
        SafetyPatient("INET-PAC", FIRST, LAST, (ae(grade=1), ae(grade=3, serious=True, action="dose_reduced"))),
        SafetyPatient("INET-PAC", FIRST, LAST, (ae(grade=2), ae("Rash maculo-papular", 1, soc=SKIN,
                                                                 action="drug_withdrawn"))),
        SafetyPatient("INET-PAC", FIRST, LAST, ()),
        SafetyPatient("INET-PAC", FIRST, LAST, (ae(grade=4, onset=FIRST - timedelta(days=3)),)),  # not a TEAE
    ]
    table = safety_table(patients, CUTOFF)
    assert table["population"] == 4
    rows = {row["term"]: row for row in table["teae"]}
    assert [row["term"] for row in table["teae"]] == [ANY_TERM, "Anemia", "Rash maculo-papular"]
    anemia = rows["Anemia"]
    assert anemia["any_grade"] == {"n": 2, "rate": 0.5}
    assert [anemia[f"grade_{g}"]["n"] for g in range(1, 6)] == [0, 1, 1, 0, 0]
    assert anemia["grade_3_plus"]["n"] == 1 and anemia["serious"]["n"] == 1
    assert (anemia["dose_reduced"]["n"], anemia["drug_interrupted"]["n"], anemia["drug_withdrawn"]["n"]) == (1, 0, 0)
    everything = rows[ANY_TERM]
    assert everything["any_grade"]["n"] == 2 and everything["grade_3"]["n"] == 1 and everything["grade_2"]["n"] == 1
    assert everything["drug_withdrawn"]["n"] == 1


def test_patients_dosed_after_the_cutoff_are_not_in_the_population():
    table = safety_table([SafetyPatient("X", FIRST, None), SafetyPatient("X", CUTOFF + timedelta(days=1), None)], CUTOFF)
    assert table["population"] == 1


def test_pro_ctcae_worst_post_baseline_composite_grade():
    baseline = SymptomGrade("Nausea", FIRST, 3)                       # the first-dose day is baseline
    patients = [
        SafetyPatient("X", FIRST, LAST, symptoms=(baseline, SymptomGrade("Nausea", FIRST + timedelta(days=7), 1))),
        SafetyPatient("X", FIRST, LAST, symptoms=(SymptomGrade("Nausea", FIRST + timedelta(days=7), 3),
                                                  SymptomGrade("Nausea", FIRST + timedelta(days=14), 0))),
        SafetyPatient("X", FIRST, LAST, symptoms=(SymptomGrade("Nausea", FIRST + timedelta(days=7), None),)),
        SafetyPatient("X", FIRST, LAST),
    ]
    pro = safety_table(patients, CUTOFF)["pro_ctcae"]
    assert pro["patients"] == 3
    nausea = pro["terms"][0]
    assert nausea["term"] == "Nausea"
    assert nausea["grade_1_plus"] == {"n": 2, "rate": pytest.approx(2 / 3)}
    assert nausea["grade_3_plus"]["n"] == 1
