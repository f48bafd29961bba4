"""The worklist derives PFS only for the patients it can flag (backend/services/worklist_pfs.py).

The pre-filter may keep too many patients, never too few: for any history, a patient PFS would flag
``at_risk`` or ``no_baseline`` is kept. Checked twice: the rule against random histories and plans
(the full rules of `schedules.pfs`, as `services.pfs.derive` calls them), and the worklist's rows with
the pre-filter against the rows of a full derivation, on a site of varied patients in the database.
"""
from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.extensions import db as _db
from backend.models import Patient, PatientOutcome, TumourAssessment
from backend.services import worklists
from backend.services.pfs import derive_many, load_histories, schedule_for
from backend.services.worklist_pfs import (PfsSummary, WindowOffsets, derive_remembered, may_be_flagged,
                                           pfs_candidates)
from schedules import pfs, pfs_assessments
from tests.factories import PatientFactory, SiteFactory

DAY = date(2025, 4, 10)
RESPONSES = sorted(pfs_assessments.RESPONSES)


def summary(first_dose: date, day: date, assessments: list[pfs_assessments.Assessment]) -> PfsSummary:
    """What the pre-filter's query reads, computed in Python from the same assessments."""
    known = [a for a in assessments if a.date <= day]
    adequate = [a.date for a in known if a.adequate and a.date > first_dose]
    return PfsSummary(any(a.baseline for a in known), max(adequate, default=None))


studies = st.builds(SimpleNamespace,
                    assessment_interval_days=st.sampled_from([28, 42, 56, 63]),
                    assessment_window_days=st.integers(0, 10),
                    assessment_phases=st.sampled_from([None, [[3, 42], [None, 84]], [[1, 56]]]),
                    pfs_missed_rule=st.sampled_from(pfs.MISSED_RULES))


@st.composite
def histories(draw):
    first_dose = DAY - timedelta(days=draw(st.integers(-5, 500)))
    offsets = draw(st.lists(st.integers(-40, 520), max_size=8))
    assessments = [pfs_assessments.Assessment(first_dose + timedelta(days=o), draw(st.sampled_from(RESPONSES)))
                   for o in offsets]
    if draw(st.booleans()):
        assessments.append(pfs_assessments.Assessment(first_dose - timedelta(days=draw(st.integers(-10, 28))), baseline=True))
    outcomes = [pfs.Outcome(kind, first_dose + timedelta(days=draw(st.integers(0, 520))))
                for kind in draw(st.sets(st.sampled_from(sorted(pfs.OUTCOME_TYPES)), max_size=2))]
    return first_dose, assessments, outcomes


@settings(max_examples=400, deadline=None)
@given(study=studies, history=histories(), day_shift=st.integers(0, 60))
def test_the_prefilter_keeps_every_patient_pfs_would_flag(study, history, day_shift):
    first_dose, assessments, outcomes = history
    day = DAY + timedelta(days=day_shift)
    as_of = max(day, first_dose)
    result = pfs.derive_pfs(first_dose, schedule_for(study, first_dose, as_of), assessments, outcomes, as_of,
                            missed_rule=study.pfs_missed_rule, interval_days=study.assessment_interval_days,
                            window_days=study.assessment_window_days,
                            phases=tuple((u, i) for u, i in (study.assessment_phases or ())))
    offsets = WindowOffsets.for_study(study, (day - first_dose).days)
    if result.at_risk or result.reason == "no_baseline":
        assert may_be_flagged(offsets, first_dose, day, summary(first_dose, day, assessments))


@pytest.mark.parametrize(("rule", "first_dose", "history", "kept"), [
    ("no baseline: always derived", date(2025, 1, 6), [], True),
    ("first scan window (days 35-49) still open on day 94? no: closed, nothing since the first dose",
     date(2025, 1, 6), [(date(2024, 12, 30), None)], True),
    ("scan at week 6, the week-12 window (day 77-91) closed on day 91 < day 94: a missed visit is possible",
     date(2025, 1, 6), [(date(2024, 12, 30), None), (date(2025, 2, 17), "SD")], True),
    ("scan at week 12, the next window opens on day 119: nothing can be missed yet",
     date(2025, 1, 6), [(date(2024, 12, 30), None), (date(2025, 2, 17), "SD"), (date(2025, 3, 31), "PR")], False),
    ("an NE scan is not adequate: the week-12 window counts as missed",
     date(2025, 1, 6), [(date(2024, 12, 30), None), (date(2025, 2, 17), "SD"), (date(2025, 3, 31), "NE")], True),
    ("first dose two weeks ago, baseline recorded: no window has closed",
     date(2025, 3, 27), [(date(2025, 3, 20), None)], False),
])
def test_which_patients_the_prefilter_keeps(rule, first_dose, history, kept):
    study = SimpleNamespace(assessment_interval_days=42, assessment_window_days=7, assessment_phases=None)
    assessments = [pfs_assessments.Assessment(d, r, baseline=r is None) for d, r in history]
    offsets = WindowOffsets.for_study(study, (DAY - first_dose).days)
    assert may_be_flagged(offsets, first_dose, DAY, summary(first_dose, DAY, assessments)) is kept, rule


def test_the_worklist_rows_equal_those_of_a_full_derivation(db, monkeypatch):
    site = SiteFactory(code="SH01")
    responses = ["SD", "PR", "NE", "PD", "CR", "NON_CR_NON_PD"]
    for n in range(150):  # a first dose on each of 150 days: every position relative to the windows
        first_dose = DAY - timedelta(days=n + 1)
        patient = PatientFactory(site=site, subject_id=f"P-{n:03d}", first_dose_date=first_dose)
        if n % 7:
            _db.session.add(TumourAssessment(patient_id=patient.id, date=first_dose - timedelta(days=n % 20),
                                             baseline=True))
        for k in range(1, 1 + n % 4):
            _db.session.add(TumourAssessment(patient_id=patient.id, date=first_dose + timedelta(days=42 * k + n % 13 - 6),
                                             overall_response=responses[(n + k) % len(responses)]))
        if n % 11 == 0:
            _db.session.add(PatientOutcome(patient_id=patient.id, type="new_anticancer_therapy",
                                           date=first_dose + timedelta(days=60)))
    _db.session.commit()
    site_day = worklists.SiteDay(site, DAY, worklists._on_study(site))
    kept = pfs_candidates(site.id, DAY, list(site_day.patients.values()), site.study)
    assert 0 < len(kept) < len(site_day.patients)

    # The remembered derivation answers as derive_many (GET /pfs), twice (the second from memory).
    everyone = list(site_day.patients.values())
    expected = {pid: result for pid, (_, result) in derive_many(everyone, DAY).items()}
    assert derive_remembered(everyone, DAY, site.study) == expected
    assert derive_remembered(everyone, DAY, site.study) == expected
    # Histories read by joining the site's patients are those read by the patients' ids (others skipped).
    some = [p.id for p in everyone[::3]]

    def unordered(histories):  # neither query orders its rows
        return {pid: (sorted(map(repr, h.assessments)), sorted(map(repr, h.outcomes))) for pid, h in histories.items()}

    assert unordered(load_histories(some, Patient.site_id == site.id)) == unordered(load_histories(some))
    assert derive_remembered(everyone, DAY, site.study, Patient.site_id == site.id) == expected

    filtered = worklists.pfs_rows(site_day)
    monkeypatch.setattr(worklists, "pfs_candidates", lambda site_id, day, patients, study: patients)
    full = worklists.pfs_rows(site_day)
    assert sorted(filtered, key=repr) == sorted(full, key=repr)
    assert {r["kind"] for r in full} == {"pfs_at_risk", "no_baseline"}
