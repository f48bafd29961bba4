"""Adverse events graded by clinicians on CTCAE v5.0: the grade must exist for the term, dates must make
sense, records are audited and listed per patient and per site."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from backend.models import AuditRecord
from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_symptoms import reporting_world

ONSET = date(2026, 3, 2)


@pytest.fixture()
def world(db):
    return reporting_world(SiteFactory(code="SH01"), subject_id="SH01-003")


def ae(**fields) -> dict:
    return {"ctcae_term": "Alopecia", "grade": 2, "onset_date": ONSET.isoformat(), "serious": False,
            "related": True, "action_taken": "dose_not_changed", **fields}


def record(client, auth, world, body, user=None, patient=None):
    return client.post(f"/api/v1/patients/{(patient or world['patient']).id}/adverse-events", json=body,
                       headers=auth.headers(user or world["nurse"]))


def test_a_clinician_records_a_graded_adverse_event_with_nci_s_term_code_and_soc(client, auth, db, world):
    answer = record(client, auth, world, ae(ctcae_term="alopecia", resolved_date="2026-04-01"))
    assert answer.status_code == 201
    body = answer.get_json()
    assert (body["ctcae_term"], body["meddra_code"], body["soc"]) == (
        "Alopecia", "10001760", "Skin and subcutaneous tissue disorders")
    assert body["grade"] == 2 and body["subject_id"] == "SH01-003" and body["site"] == "SH01"
    assert body["recorded_by_id"] == str(world["nurse"].id)
    audit = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "adverse_events")).one()
    assert audit.action == "create" and audit.user_id == str(world["nurse"].id)
    assert audit.reason == "adverse event recorded: Alopecia grade 2"
    assert audit.changes["grade"] == {"before": None, "after": 2}


def test_the_term_may_be_given_by_its_meddra_code(client, auth, world):
    body = ae(grade=3, meddra_code="10028813")
    del body["ctcae_term"]
    answer = record(client, auth, world, body)
    assert answer.status_code == 201
    assert answer.get_json()["ctcae_term"] == "Nausea"


@pytest.mark.parametrize("change, field, words", [
    pytest.param({"grade": 3}, "grade", "allowed grades: 1, 2", id="alopecia-has-no-grade-3"),
    pytest.param({"ctcae_term": "Nausea", "grade": 4}, "grade", "allowed grades: 1, 2, 3",
                 id="nausea-has-no-grade-4"),
    pytest.param({"grade": 0}, "grade", "allowed grades: 1, 2", id="ctcae-has-no-grade-0"),
    pytest.param({"ctcae_term": "Feeling blue"}, "ctcae_term", "not a CTCAE v5.0 term", id="unknown-term"),
    pytest.param({"ctcae_term": None, "meddra_code": "99999999"}, "meddra_code", "not the MedDRA code",
                 id="unknown-meddra-code"),
    pytest.param({"meddra_code": "10028813"}, "meddra_code", "Nausea", id="term-and-code-disagree"),
    pytest.param({"ctcae_term": None}, "ctcae_term", "ctcae_term or meddra_code", id="a-term-is-required"),
    pytest.param({"resolved_date": "2026-03-01"}, "resolved_date", "before its onset", id="resolved-before-onset"),
    pytest.param({"onset_date": "future"}, "onset_date", "after today", id="onset-in-the-future"),
    pytest.param({"action_taken": "stopped"}, "action_taken", "", id="action-from-cdisc-aeacn"),
    pytest.param({"grade": "2"}, "grade", "", id="grade-is-an-integer"),
    pytest.param({"source_report_id": str(uuid.uuid4())}, "source_report_id", "No symptom report",
                 id="source-report-must-be-the-patients"),
    pytest.param({"comment": "x"}, "comment", "", id="unknown-fields-are-refused"),
])
def test_invalid_adverse_events_are_422_naming_the_field(client, auth, db, world, change, field, words):
    if change.get("onset_date") == "future":
        change = {"onset_date": (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()}
    answer = record(client, auth, world, ae(**change))
    assert answer.status_code == 422
    messages = answer.get_json()["errors"]["json"][field]
    assert any(words in message for message in messages), messages
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
        AuditRecord.entity == "adverse_events")) == 0


def test_a_grade_ctcae_does_not_define_has_its_own_reason(client, auth, world):
    answer = record(client, auth, world, ae(grade=3))
    assert answer.get_json()["reason"] == "grade_not_defined"


def test_an_adverse_event_may_point_at_the_symptom_report_that_prompted_it(client, auth, world):
    report = client.post(f"/api/v1/patients/{world['patient'].id}/symptom-reports", headers=auth.headers(world["nurse"]),
                         json={"client_report_id": str(uuid.uuid4()), "completed_at": "2026-03-02T08:00:00Z",
                               "answers": [{"item": "PROCTCAE_27A_SCL", "value": 3}]}).get_json()
    answer = record(client, auth, world, ae(source_report_id=report["id"]))
    assert answer.status_code == 201
    assert answer.get_json()["source_report_id"] == report["id"]
    other = PatientFactory(site=world["site"])
    refused = record(client, auth, world, ae(source_report_id=report["id"]), patient=other)
    assert "source_report_id" in refused.get_json()["errors"]["json"]


def test_adverse_events_are_listed_per_patient_latest_onset_first(client, auth, world):
    for day in (2, 9, 5):
        record(client, auth, world, ae(onset_date=f"2026-03-0{day}"))
    answer = client.get(f"/api/v1/patients/{world['patient'].id}/adverse-events", headers=auth.headers(world["coordinator"]))
    assert answer.status_code == 200
    assert [row["onset_date"] for row in answer.get_json()] == ["2026-03-09", "2026-03-05", "2026-03-02"]


def test_adverse_events_are_listed_per_site_paginated(client, auth, world):
    other_patient = PatientFactory(site=world["site"])
    elsewhere = PatientFactory(site=SiteFactory(code="SH02", study=world["site"].study))
    for patient in (world["patient"], other_patient, world["patient"], elsewhere):
        record(client, auth, world, ae(), user=world["admin"], patient=patient)
    answer = client.get("/api/v1/sites/SH01/adverse-events?page_size=2", headers=auth.headers(world["nurse"]))
    assert answer.status_code == 200
    assert len(answer.get_json()) == 2
    assert json.loads(answer.headers["X-Pagination"])["total"] == 3


@pytest.mark.parametrize("path", ["/api/v1/sites/SH01/adverse-events", "/api/v1/sites/NOPE/adverse-events"])
def test_a_site_out_of_scope_or_missing_is_404(client, auth, world, path):
    outsider = UserFactory(role="coordinator", studies=[StudyFactory(code="OTHER")])
    assert client.get(path, headers=auth.headers(outsider)).status_code == 404


def test_a_patient_out_of_the_nurses_sites_is_404(client, auth, world):
    nurse = UserFactory(role="nurse", sites=[SiteFactory(code="SH09", study=world["site"].study)])
    assert record(client, auth, world, ae(), user=nurse).status_code == 404


def test_patients_may_not_record_adverse_events(client, auth, world):
    answer = record(client, auth, world, ae(), user=world["patient_user"])
    assert answer.status_code == 403 and answer.get_json()["reason"] == "role_forbidden"
