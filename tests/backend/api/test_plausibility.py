"""Clinical dates must be plausible for the patient (issue 10, item 1; rules in schedules/plausibility.py):
not before the first dose (a baseline: the screening period), not in the future, never past the planning
horizon. Refused with 422 naming the field, before anything is planned or written."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.models import AuditRecord, Event
from tests.factories import PASSWORD, SiteFactory, StudyFactory, staff_for
from tests.factories_patients import enrol, events_by_key, monday_after, site_today

D = timedelta


def counts(db):
    db.session.rollback()
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Event)),
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)))


def patch_event(client, headers, patient, event, body):
    return client.patch(f"/api/v1/patients/{patient.id}/events/{event.id}", json=body, headers=headers)


@pytest.mark.parametrize("actual_date, reason", [
    pytest.param("0001-01-01", "validation_error", id="year 1 (issue 10: 105,705 events from one request)"),
    pytest.param("1900-01-01", "date_before_first_dose", id="a dose completed in 1900"),
    pytest.param("9999-12-31", "validation_error", id="year 9999"),
])
def test_cycle_1_day_1_in_an_implausible_year_is_refused_and_writes_nothing(client, auth, db, site, nurse,
                                                                             actual_date, reason):
    patient = enrol(site, "INET-PAC", first_dose=monday_after(site_today(site), 1))
    c1d1 = events_by_key(patient.id)["dose:C1D1"]
    before = counts(db)
    answer = patch_event(client, auth.headers(nurse), patient, c1d1, {"status": "completed", "actual_date": actual_date})
    assert answer.status_code == 422, answer.get_json()
    assert "actual_date" in answer.get_json()["errors"]["json"]
    assert answer.get_json()["reason"] == reason
    assert counts(db) == before


def test_a_visit_recorded_before_the_first_dose_and_its_window_is_refused(client, auth, db, site, nurse):
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - D(20))
    c1d8 = events_by_key(patient.id)["dose:C1D8"]
    answer = patch_event(client, auth.headers(nurse), patient, c1d8,
                         {"status": "completed", "actual_date": (patient.first_dose_date - D(1)).isoformat()})
    assert answer.status_code == 422 and answer.get_json()["reason"] == "date_before_first_dose"


def test_a_dosing_diary_entry_from_before_treatment_is_refused(client, db, site):
    patient = enrol(site, "INET-PYR-VNR", first_dose=site_today(site) - D(5),
                    account={"username": "diary-2", "password": PASSWORD})
    login = client.post("/api/v1/auth/login", json={"username": "diary-2", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    diary = next(e for e in events_by_key(patient.id).values() if e.kind == "dosing_diary")
    answer = patch_event(client, headers, patient, diary, {"status": "completed", "actual_date": "1950-06-01"})
    assert answer.status_code == 422 and "actual_date" in answer.get_json()["errors"]["json"]


def test_a_symptom_report_from_before_the_screening_period_is_refused(client, db, site):
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - D(5),
                    account={"username": "pat-sr", "password": PASSWORD})
    login = client.post("/api/v1/auth/login", json={"username": "pat-sr", "password": PASSWORD}).get_json()
    body = {"client_report_id": str(uuid.uuid4()), "completed_at": "2000-01-01T09:00:00Z",
            "answers": [{"item": "PROCTCAE_9A_SCL", "value": 0}]}
    answer = client.post(f"/api/v1/patients/{patient.id}/symptom-reports", json=body,
                         headers={"Authorization": f"Bearer {login['access_token']}"})
    assert answer.status_code == 422 and "completed_at" in answer.get_json()["errors"]["json"]
    assert answer.get_json()["reason"] == "date_before_first_dose"


@pytest.mark.parametrize("dates, field", [
    pytest.param({"onset_date": "1990-01-01"}, "onset_date", id="onset decades before treatment"),
    pytest.param({"onset_date": "FD", "resolved_date": "9999-12-31"}, "resolved_date", id="resolved in 9999"),
])
def test_adverse_event_dates_are_plausible(client, auth, db, site, nurse, dates, field):
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - D(30))
    body = {"ctcae_term": "Alopecia", "grade": 2, "serious": False, "related": True, "action_taken": "dose_not_changed",
            **{k: (patient.first_dose_date.isoformat() if v == "FD" else v) for k, v in dates.items()}}
    answer = client.post(f"/api/v1/patients/{patient.id}/adverse-events", json=body, headers=auth.headers(nurse))
    assert answer.status_code == 422 and field in answer.get_json()["errors"]["json"], answer.get_json()


def test_an_adverse_event_present_at_screening_is_accepted(client, auth, db, site, nurse):
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - D(30))
    body = {"ctcae_term": "Alopecia", "grade": 1, "serious": False, "related": False, "action_taken": "dose_not_changed",
            "onset_date": (patient.first_dose_date - D(10)).isoformat()}
    answer = client.post(f"/api/v1/patients/{patient.id}/adverse-events", json=body, headers=auth.headers(nurse))
    assert answer.status_code == 201, answer.get_json()


def test_the_screening_period_is_a_study_setting(client, auth, db):
    study = StudyFactory(settings={"screening_period_days": 42})
    site = SiteFactory(study=study)
    nurse = staff_for(site)["nurse"]
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - D(30))
    body = {"date": (patient.first_dose_date - D(40)).isoformat(), "baseline": True}
    answer = client.post(f"/api/v1/patients/{patient.id}/assessments", json=body, headers=auth.headers(nurse))
    assert answer.status_code == 201, answer.get_json()


@pytest.mark.parametrize("settings, named", [
    pytest.param({"planning_horizon_days": 100_000}, "planning_horizon_days", id="events until 2300"),
    pytest.param({"planning_horizon_days": 10_000_000}, "planning_horizon_days", id="a horizon of 27,000 years"),
    pytest.param({"survey": {"interval_days": 400, "window_days": 3}}, "survey.interval_days",
                 id="surveys more than a year apart"),
    pytest.param({"screening_period_days": -1}, "screening_period_days", id="a negative screening period"),
])
def test_study_settings_out_of_clinical_bounds_are_422_naming_the_setting(client, auth, db, settings, named):
    admin = staff_for(SiteFactory())["admin"]
    for method, path, body in (("POST", "/api/v1/studies", {"code": "BOUND", "title": "t", "settings": settings}),
                               ("PATCH", "/api/v1/studies/BOUND2", {"settings": settings, "reason": "amendment"})):
        if method == "PATCH":
            assert client.post("/api/v1/studies", json={"code": "BOUND2", "title": "t"},
                               headers=auth.headers(admin)).status_code == 201
        answer = client.open(path, method=method, json=body, headers=auth.headers(admin))
        assert answer.status_code == 422, answer.get_json()
        assert "settings" in answer.get_json()["errors"]["json"] and named in answer.get_json()["message"]


def test_a_study_stored_with_an_unbounded_horizon_cannot_plan_a_century(client, auth, db):
    """Settings written before the bounds existed: enrolment answers 422, never plans 10^7 days."""
    study = StudyFactory(settings={"planning_horizon_days": 10_000_000})
    site = SiteFactory(study=study)
    nurse = staff_for(site)["nurse"]
    body = {"study": study.code, "site": site.code, "subject_id": "P-1", "regimen": "INET-PAC",
            "first_dose_date": site_today(site).isoformat()}
    answer = client.post("/api/v1/patients", json=body, headers=auth.headers(nurse))
    assert answer.status_code == 422 and answer.get_json()["reason"] == "invalid_study_settings"
    assert counts(db)[0] == 0
