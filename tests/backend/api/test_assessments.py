"""POST/GET /patients/{id}/assessments and /outcomes (CONTRACT.md "Tumour assessments, outcomes and PFS").

Rules: RECIST 1.1 (baseline before treatment, overall responses, new lesions date progression) and the
choices documented in backend/services/assessments.py.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backend.auth import Principal
from backend.errors import InvalidInput
from backend.models import AuditRecord, Patient
from backend.services.assessments import record_assessment
from tests.factories import PatientFactory, SiteFactory, UserFactory

FIRST_DOSE = date(2025, 1, 6)


@pytest.fixture()
def ward(db):
    site = SiteFactory()
    nurse = UserFactory(role="nurse", sites=[site])
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    return site, nurse, patient


def post(client, auth, user, patient, path, body):
    return client.post(f"/api/v1/patients/{patient.id}/{path}", json=body, headers=auth.headers(user))


def test_an_assessment_is_audited_with_its_reason(client, auth, ward, db):
    from backend.models import AuditRecord

    site, nurse, patient = ward
    assert post(client, auth, nurse, patient, "assessments", {"date": "2025-01-03", "baseline": True}).status_code == 201
    assert post(client, auth, nurse, patient, "assessments",
                {"date": "2025-02-17", "overall_response": "SD"}).status_code == 201
    reasons = db.session.scalars(sa.select(AuditRecord.reason).where(AuditRecord.entity == "tumour_assessments")
                                 .order_by(AuditRecord.id)).all()
    assert reasons == ["baseline scan recorded", "tumour assessment SD recorded"]


def tomorrow_at(zone: str) -> str:
    return (datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)).isoformat()


REFUSED = {
    "a date after today at the site": ({"date": "TOMORROW", "overall_response": "SD"}, 422, "date"),
    "a baseline with an overall response": ({"date": "2025-01-03", "baseline": True, "overall_response": "SD"},
                                            422, "overall_response"),
    "a post-baseline assessment without a response": ({"date": "2025-02-17"}, 422, "overall_response"),
    "a response that RECIST does not know": ({"date": "2025-02-17", "overall_response": "MR"}, 422, "overall_response"),
    "a baseline after the first dose": ({"date": "2025-01-07", "baseline": True}, 422, "date"),
    "a response on the day of the first dose (that scan precedes dosing)": (
        {"date": "2025-01-06", "overall_response": "SD"}, 422, "date"),
    "a response before the first dose": ({"date": "2024-12-20", "overall_response": "PR"}, 422, "date"),
    "a new lesion seen after the assessment": (
        {"date": "2025-02-17", "overall_response": "PD", "new_lesion_date": "2025-02-18"}, 422, "new_lesion_date"),
    "a new lesion without progression (a new lesion is PD)": (
        {"date": "2025-02-17", "overall_response": "SD", "new_lesion_date": "2025-02-10"}, 422, "new_lesion_date"),
    "a new lesion on a baseline": ({"date": "2025-01-03", "baseline": True, "new_lesion_date": "2025-01-02"},
                                   422, "new_lesion_date"),
    "a scan dated after the assessment": (
        {"date": "2025-02-17", "overall_response": "SD", "scan_dates": ["2025-02-15", "2025-02-18"]}, 422, "scan_dates"),
    "a post-baseline scan dated on the first dose": (
        {"date": "2025-02-17", "overall_response": "SD", "scan_dates": ["2025-01-06"]}, 422, "scan_dates"),
    "an unknown field": ({"date": "2025-02-17", "overall_response": "SD", "lesions": 3}, 422, "lesions"),
    "a baseline 6 weeks before the first dose (past the 28-day screening period, RECIST 1.1 section 3.2)": (
        {"date": "2024-11-25", "baseline": True}, 422, "date"),
    "a baseline in 1900": ({"date": "1900-01-01", "baseline": True}, 422, "date"),
    "a scan in year 1 (outside the wire format)": (
        {"date": "2025-02-17", "overall_response": "SD", "scan_dates": ["0001-01-01"]}, 422, "scan_dates"),
}


@pytest.mark.parametrize("body, status, field", REFUSED.values(), ids=REFUSED.keys())
def test_invalid_assessments_are_refused_naming_the_field(client, auth, ward, body, status, field):
    site, nurse, patient = ward
    body = {k: (tomorrow_at(site.timezone) if v == "TOMORROW" else v) for k, v in body.items()}
    answer = post(client, auth, nurse, patient, "assessments", body)
    assert answer.status_code == status
    assert field in answer.get_json()["errors"]["json"]


ACCEPTED = {
    "a baseline on the day of the first dose": {"date": "2025-01-06", "baseline": True},
    "a baseline 4 weeks before the first dose (the screening period)": {"date": "2024-12-09", "baseline": True},
    "a baseline with its scan dates": {"date": "2025-01-03", "baseline": True, "scan_dates": ["2025-01-02", "2025-01-03"]},
    "a not-evaluable assessment": {"date": "2025-02-17", "overall_response": "NE"},
    "progression with a new lesion seen the same day": {"date": "2025-02-17", "overall_response": "PD",
                                                        "new_lesion_date": "2025-02-17"},
    "a response today at the site": {"date": "TODAY", "overall_response": "NON_CR_NON_PD"},
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_valid_assessments_are_recorded(client, auth, ward, body):
    site, nurse, patient = ward
    today = datetime.now(ZoneInfo(site.timezone)).date().isoformat()
    body = {k: (today if v == "TODAY" else v) for k, v in body.items()}
    answer = post(client, auth, nurse, patient, "assessments", body)
    assert answer.status_code == 201, answer.get_json()
    stored = answer.get_json()
    assert stored["date"] == body["date"] and stored["baseline"] == body.get("baseline", False)
    assert stored["recorded_by"] == str(nurse.id)


def test_the_future_is_judged_in_the_sites_zone(db, ward):
    """12:00 UTC on 1 March is already 2 March in Kiritimati (UTC+14) but still 1 March in Los Angeles."""
    site, nurse, patient = ward
    principal = Principal(nurse.id, "nurse", frozenset({site.id}), frozenset({site.study_id}))
    noon_utc = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    site.timezone = "Pacific/Kiritimati"
    assert record_assessment(principal, str(patient.id), {"date": date(2026, 3, 2), "overall_response": "SD"},
                             now=noon_utc).id
    site.timezone = "America/Los_Angeles"
    with pytest.raises(InvalidInput) as refused:
        record_assessment(principal, str(patient.id), {"date": date(2026, 3, 2), "overall_response": "PR"},
                          now=noon_utc)
    assert refused.value.field == "date"


def test_a_second_baseline_is_a_conflict(client, auth, ward):
    _, nurse, patient = ward
    assert post(client, auth, nurse, patient, "assessments", {"date": "2025-01-03", "baseline": True}).status_code == 201
    answer = post(client, auth, nurse, patient, "assessments", {"date": "2025-01-04", "baseline": True})
    assert answer.status_code == 409
    assert answer.get_json()["reason"] == "duplicate_baseline"


def test_two_responses_on_one_date_are_a_conflict(client, auth, ward):
    _, nurse, patient = ward
    assert post(client, auth, nurse, patient, "assessments", {"date": "2025-02-17", "overall_response": "SD"}).status_code == 201
    answer = post(client, auth, nurse, patient, "assessments", {"date": "2025-02-17", "overall_response": "PD"})
    assert (answer.status_code, answer.get_json()["reason"]) == (409, "duplicate_assessment")


def test_assessments_are_listed_baseline_first_and_paginated(client, auth, ward):
    _, nurse, patient = ward
    post(client, auth, nurse, patient, "assessments", {"date": "2025-03-31", "overall_response": "PR"})
    post(client, auth, nurse, patient, "assessments", {"date": "2025-02-17", "overall_response": "SD"})
    post(client, auth, nurse, patient, "assessments", {"date": "2025-01-03", "baseline": True})
    answer = client.get(f"/api/v1/patients/{patient.id}/assessments", headers=auth.headers(nurse))
    assert answer.status_code == 200
    assert [(a["date"], a["overall_response"]) for a in answer.get_json()] == [
        ("2025-01-03", None), ("2025-02-17", "SD"), ("2025-03-31", "PR")]
    assert '"total": 3' in answer.headers["X-Pagination"]


def test_a_patient_may_not_record_or_read_assessments(client, auth, ward):
    site, _, _ = ward
    user = UserFactory(role="patient")
    patient = PatientFactory(site=site, user_id=user.id)
    assert post(client, auth, user, patient, "assessments", {"date": "2025-02-17", "overall_response": "SD"}).status_code == 403
    assert client.get(f"/api/v1/patients/{patient.id}/assessments", headers=auth.headers(user)).status_code == 403


def test_an_assessment_is_audited(client, auth, ward, db):
    _, nurse, patient = ward
    created = post(client, auth, nurse, patient, "assessments", {"date": "2025-02-17", "overall_response": "SD"}).get_json()
    record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.entity == "tumour_assessments"))
    assert record.entity_id == created["id"] and record.user_id == str(nurse.id) and record.action == "create"
    assert record.changes["overall_response"]["after"] == "SD"


# --- outcomes ---------------------------------------------------------------------------------
EFFECTS = {
    "treatment discontinued: follow-up continues, dosing stops": (
        "treatment_discontinued", "follow_up", {"discontinued_on": date(2025, 3, 1), "follow_up_end": None}),
    "death: off study, follow-up ends": ("death", "off_study", {"follow_up_end": date(2025, 3, 1)}),
    "end of follow-up: off study": ("follow_up_ended", "off_study", {"follow_up_end": date(2025, 3, 1)}),
    "new anticancer therapy: the patient's status does not change": (
        "new_anticancer_therapy", "on_treatment", {"follow_up_end": None, "discontinued_on": None}),
}


@pytest.mark.parametrize("kind, status, fields", EFFECTS.values(), ids=EFFECTS.keys())
def test_outcomes_change_the_patients_status(client, auth, ward, db, kind, status, fields):
    _, nurse, patient = ward
    answer = post(client, auth, nurse, patient, "outcomes", {"type": kind, "date": "2025-03-01", "reason": "per CRF"})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["type"] == kind
    db.session.expire_all()
    stored = db.session.get(Patient, patient.id)
    assert stored.status == status
    for name, value in fields.items():
        assert getattr(stored, name) == value


def test_a_status_change_is_audited_with_the_reason(client, auth, ward, db):
    _, nurse, patient = ward
    post(client, auth, nurse, patient, "outcomes", {"type": "death", "date": "2025-03-01", "reason": "SAE report 12"})
    change = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.entity == "patients",
                                                            AuditRecord.action == "update"))
    assert change.changes["status"] == {"before": "on_treatment", "after": "off_study"}
    assert change.reason == "SAE report 12"


def test_a_discontinued_patient_who_dies_is_off_study_and_keeps_the_earlier_end(client, auth, ward, db):
    _, nurse, patient = ward
    for kind, day in [("treatment_discontinued", "2025-02-01"), ("follow_up_ended", "2025-03-01"), ("death", "2025-05-01")]:
        assert post(client, auth, nurse, patient, "outcomes", {"type": kind, "date": day}).status_code == 201
    db.session.expire_all()
    stored = db.session.get(Patient, patient.id)
    assert (stored.status, stored.discontinued_on, stored.follow_up_end) == (
        "off_study", date(2025, 2, 1), date(2025, 3, 1))


OUTCOMES_REFUSED = {
    "a second death": ([("death", "2025-03-01")], {"type": "death", "date": "2025-03-02"}, 409, "duplicate_outcome"),
    "a second discontinuation": ([("treatment_discontinued", "2025-03-01")],
                                 {"type": "treatment_discontinued", "date": "2025-03-02"}, 409, "duplicate_outcome"),
    "anything after death": ([("death", "2025-03-01")], {"type": "new_anticancer_therapy", "date": "2025-03-02"},
                             422, "date"),
    "an outcome before the first dose": ([], {"type": "new_anticancer_therapy", "date": "2025-01-05"}, 422, "date"),
    "an outcome after today at the site": ([], {"type": "death", "date": "TOMORROW"}, 422, "date"),
    "an unknown outcome type": ([], {"type": "lost", "date": "2025-03-01"}, 422, "type"),
}


@pytest.mark.parametrize("before, body, status, detail", OUTCOMES_REFUSED.values(), ids=OUTCOMES_REFUSED.keys())
def test_invalid_outcomes_are_refused(client, auth, ward, before, body, status, detail):
    site, nurse, patient = ward
    for kind, day in before:
        assert post(client, auth, nurse, patient, "outcomes", {"type": kind, "date": day}).status_code == 201
    body = {k: (tomorrow_at(site.timezone) if v == "TOMORROW" else v) for k, v in body.items()}
    answer = post(client, auth, nurse, patient, "outcomes", body)
    assert answer.status_code == status
    if status == 409:
        assert answer.get_json()["reason"] == detail
    else:
        assert detail in answer.get_json()["errors"]["json"]


def test_several_lines_of_therapy_may_follow_one_another(client, auth, ward):
    _, nurse, patient = ward
    for day in ("2025-03-01", "2025-06-01"):
        assert post(client, auth, nurse, patient, "outcomes", {"type": "new_anticancer_therapy", "date": day}).status_code == 201
    answer = client.get(f"/api/v1/patients/{patient.id}/outcomes", headers=auth.headers(nurse))
    assert [o["date"] for o in answer.get_json()] == ["2025-03-01", "2025-06-01"]


def test_death_before_a_recorded_scan_and_a_scan_after_death_are_refused(client, auth, ward):
    _, nurse, patient = ward
    post(client, auth, nurse, patient, "assessments", {"date": "2025-02-17", "overall_response": "SD"})
    assert post(client, auth, nurse, patient, "outcomes", {"type": "death", "date": "2025-02-10"}).status_code == 422
    assert post(client, auth, nurse, patient, "outcomes", {"type": "death", "date": "2025-03-10"}).status_code == 201
    answer = post(client, auth, nurse, patient, "assessments", {"date": "2025-03-31", "overall_response": "PD"})
    assert answer.status_code == 422 and "date" in answer.get_json()["errors"]["json"]
