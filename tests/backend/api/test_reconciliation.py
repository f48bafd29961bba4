"""GET /studies/{code}/reconciliation: planned versus recorded (rules in backend/services/reconciliation.py).

Evaluated on 2025-03-01; first dose Mon 2025-01-06; scans every 42 ± 7 days by protocol.
"""
from __future__ import annotations

from datetime import date

import pytest

from backend.extensions import db as _db
from backend.models import TumourAssessment
from backend.services import reconciliation
from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_patients import enrol, site_today
from tests.factories_pfs import assessment_event, dose_event, survey_event

FIRST_DOSE = date(2025, 1, 6)
AS_OF = "2025-03-01"


@pytest.fixture()
def study(db):
    return StudyFactory(code="INET-PAC-RWS")


@pytest.fixture()
def coordinator(study):
    return UserFactory(role="coordinator", studies=[study])


def reconcile(client, auth, user, as_of=AS_OF):
    answer = client.get(f"/api/v1/studies/INET-PAC-RWS/reconciliation?as_of={as_of}", headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def found(body):
    return sorted((f["subject_id"], f["kind"], f["date"]) for f in body["findings"])


def test_each_kind_of_disagreement_is_found(client, auth, study, coordinator, monkeypatch):
    """Hand-made partial calendars: only recorded-versus-planned findings are looked at here."""
    monkeypatch.setattr(reconciliation, "CALENDAR_PLANNERS", [])
    site = SiteFactory(study=study)
    visits = PatientFactory(site=site, subject_id="P-VISITS", first_dose_date=FIRST_DOSE)
    dose_event(visits, 1, FIRST_DOSE, status="completed", actual_date=FIRST_DOSE)
    late = dose_event(visits, 2, date(2025, 1, 27), status="completed", actual_date=date(2025, 2, 3))  # window ends 01-30
    forgotten = dose_event(visits, 3, date(2025, 2, 17))  # planned, window closed 02-20
    dose_event(visits, 4, date(2025, 3, 10))  # planned, in the future: fine
    survey_event(visits, 2, status="completed", actual_date=date(2025, 1, 13))
    survey_event(visits, 3, status="completed", actual_date=date(2025, 1, 13))  # same day, and before its window

    scans = PatientFactory(site=site, subject_id="P-SCANS", first_dose_date=FIRST_DOSE)
    for day, response, baseline in [(date(2024, 11, 25), None, True), (date(2025, 2, 17), "SD", False),
                                    (date(2025, 2, 24), "PD", False), (date(2025, 3, 1), "SD", False)]:
        _db.session.add(TumourAssessment(patient_id=scans.id, date=day, overall_response=response, baseline=baseline))
    _db.session.commit()

    body = reconcile(client, auth, coordinator)

    assert found(body) == [
        ("P-SCANS", "assessment_after_progression", "2025-03-01"),
        ("P-SCANS", "baseline_too_early", "2024-11-25"),
        ("P-VISITS", "duplicate_same_day", "2025-01-13"),
        ("P-VISITS", "not_recorded", "2025-02-20"),
        ("P-VISITS", "recorded_outside_window", "2025-01-13"),
        ("P-VISITS", "recorded_outside_window", "2025-02-03"),
    ]
    by_kind = {(f["kind"], f["date"]): f for f in body["findings"]}
    assert by_kind[("recorded_outside_window", "2025-02-03")]["event_id"] == str(late.id)
    assert by_kind[("not_recorded", "2025-02-20")]["event_id"] == str(forgotten.id)
    assert "2 symptom_survey events completed on 2025-01-13" in by_kind[("duplicate_same_day", "2025-01-13")]["detail"]
    assert "42 days before the first dose" in by_kind[("baseline_too_early", "2024-11-25")]["detail"]
    assert body["counts"]["recorded_outside_window"] == 2


def drift(body):
    return [f for f in body["findings"] if f["kind"] == "calendar_drift"]


def test_a_calendar_planned_on_an_old_schedule_is_found(client, auth, study, coordinator):
    """The study's scans moved from every 56 days to every 42: planned future scans no longer match."""
    site = SiteFactory(study=study)
    study.assessment_interval_days = 56
    _db.session.commit()
    enrol(site, "INET-PAC", first_dose=FIRST_DOSE, subject_id="P-OLD")
    study.assessment_interval_days = 42
    _db.session.commit()
    enrol(site, "INET-PAC", first_dose=FIRST_DOSE, subject_id="P-CURRENT")

    (finding,) = drift(reconcile(client, auth, coordinator))

    assert (finding["subject_id"], finding["date"]) == ("P-OLD", "2025-03-03")
    assert finding["detail"].startswith("assessment:1 is planned for 2025-03-03 (2025-02-24 to 2025-03-10); the "
                                        "protocol now says 2025-02-17 (2025-02-10 to 2025-02-24)")


def test_recorded_past_events_are_not_compared_with_the_new_plan(client, auth, study, coordinator):
    site = SiteFactory(study=study)
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    assessment_event(patient, 1, interval=56, status="completed", actual_date=date(2025, 3, 3))
    assert reconcile(client, auth, coordinator, as_of="2025-03-04")["findings"] == []


def test_a_dose_changed_in_the_study_regimen_is_found(client, auth, study, coordinator):
    """A protocol amendment raises weekly paclitaxel to 90 mg/m2: planned future doses still say 80."""
    site = SiteFactory(study=study)
    enrol(site, "INET-PAC", first_dose=FIRST_DOSE, subject_id="P-REGIMEN")
    study.settings = {"regimen_overrides": {"INET-PAC": {"agents": {"paclitaxel": {"dose": 90}}}}}
    _db.session.commit()

    (finding,) = drift(reconcile(client, auth, coordinator))

    assert finding["subject_id"] == "P-REGIMEN"
    assert "doses differ from the regimen" in finding["detail"]


def test_nurses_may_not_reconcile(client, auth, study):
    nurse = UserFactory(role="nurse", sites=[SiteFactory(study=study)])
    answer = client.get("/api/v1/studies/INET-PAC-RWS/reconciliation", headers=auth.headers(nurse))
    assert (answer.status_code, answer.get_json()["reason"]) == (403, "role_forbidden")


def test_a_protocol_amendment_through_the_api_is_audited_and_shows_up_in_reconciliation(client, auth, study, coordinator):
    site = SiteFactory(study=study)
    enrol(site, "INET-PAC", first_dose=FIRST_DOSE, subject_id="P-AMEND")
    admin = UserFactory(role="admin")
    answer = client.patch("/api/v1/studies/INET-PAC-RWS", json={
        "settings": {"regimen_overrides": {"INET-PAC": {"agents": {"paclitaxel": {"dose": 90}}}}},
        "reason": "amendment 3: paclitaxel 90 mg/m2"}, headers=auth.headers(admin))
    assert answer.status_code == 200, answer.get_json()
    (finding,) = drift(reconcile(client, auth, coordinator))
    assert finding["subject_id"] == "P-AMEND"
    trail = client.get(f"/api/v1/audit?entity=studies&id={study.id}", headers=auth.headers(admin)).get_json()
    assert trail[-1]["reason"] == "amendment 3: paclitaxel 90 mg/m2" and "settings" in trail[-1]["changes"]
    refused = client.patch("/api/v1/studies/INET-PAC-RWS", json={"settings": {"colour": "blue"}, "reason": "x"},
                           headers=auth.headers(admin))
    assert refused.status_code == 422


def test_replanning_the_study_after_the_amendment_clears_the_drift(client, auth, study, coordinator, runner):
    site = SiteFactory(study=study)
    enrol(site, "INET-PAC", first_dose=FIRST_DOSE, subject_id="P-FIXED")
    study.settings = {"regimen_overrides": {"INET-PAC": {"agents": {"paclitaxel": {"dose": 90}}}}}
    _db.session.commit()
    today = site_today(site).isoformat()
    assert drift(reconcile(client, auth, coordinator, as_of=today))
    result = runner.invoke(args=["studies", "replan", "INET-PAC-RWS", "--reason", "amendment 3"])
    assert result.exit_code == 0, result.output
    # Only the future is re-planned: from today at the site on, nothing differs any more.
    assert drift(reconcile(client, auth, coordinator, as_of=today)) == []


def test_one_day_overdue_says_one_day_and_the_consoles_phrases_stay_off_the_wire(client, auth, study, coordinator,
                                                                                 monkeypatch):
    monkeypatch.setattr(reconciliation, "CALENDAR_PLANNERS", [])
    patient = PatientFactory(site=SiteFactory(study=study), subject_id="P-LATE", first_dose_date=FIRST_DOSE)
    dose_event(patient, 3, date(2025, 2, 17))  # its window closes 2025-02-20

    (finding,) = reconcile(client, auth, coordinator, as_of="2025-02-21")["findings"]

    assert finding["detail"] == ("Cycle 3 Day 1 planned 2025-02-17: nothing recorded and its window closed "
                                 "2025-02-20 (1 day overdue)")
    assert "text" not in finding
