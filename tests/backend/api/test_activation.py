"""Patients onboarded with a one-time code (CONTRACT.md "Authentication" and "Devices and reminders"):
staff in scope issue `POST /patients/{id}/activation-code`; the app redeems `POST /auth/activate`."""
import csv
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from backend.models import ActivationCode, AuditRecord, Patient, User
from tests.factories import PatientFactory, SiteFactory, StudyFactory, staff_for
from tests.factories_reminders import patient_with_account

NEW_PASSWORD = "a long new password"


def issue(client, auth, user, patient):
    return client.post(f"/api/v1/patients/{patient.id}/activation-code", headers=auth.headers(user))


def activate(client, code, password=NEW_PASSWORD, **extra):
    return client.post("/api/v1/auth/activate", json={"code": code, "password": password, **extra})


@pytest.fixture()
def site(db):
    return SiteFactory()


@pytest.fixture()
def nurse(site):
    return staff_for(site)["nurse"]


@pytest.mark.parametrize("role", ["admin", "coordinator", "nurse"])
def test_staff_in_scope_issue_a_short_expiring_code_with_a_qr_image(db, client, auth, site, role):
    patient = PatientFactory(site=site)
    answer = issue(client, auth, staff_for(site)[role], patient)
    assert answer.status_code == 201
    body = answer.get_json()
    assert set(body) == {"code", "expires_at", "qr_svg"}
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", body["code"])
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=7)  # ACTIVATION_CODE_DAYS
    assert ET.fromstring(body["qr_svg"]).tag == "{http://www.w3.org/2000/svg}svg"
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_code_is_stored_only_as_a_hash_and_its_issue_is_audited(db, client, auth, site, nurse):
    patient = PatientFactory(site=site)
    code = issue(client, auth, nurse, patient).get_json()["code"]
    row = db.session.scalars(sa.select(ActivationCode)).one()
    assert code.replace("-", "") not in row.code_hash and code not in row.code_hash
    audit = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "activation_codes")).one()
    assert (audit.user_id, audit.reason) == (str(nurse.id), "activation code issued")
    assert "code_hash" not in audit.changes


def test_a_patient_out_of_scope_is_404_like_a_missing_one(db, client, auth, site, nurse):
    elsewhere = PatientFactory(site=SiteFactory())
    assert issue(client, auth, nurse, elsewhere).status_code == 404
    assert client.post("/api/v1/patients/no-such-id/activation-code", headers=auth.headers(nurse)).status_code == 404


def test_redeeming_creates_the_account_and_answers_as_a_sign_in(db, client, auth, site, nurse):
    patient = PatientFactory(site=site, subject_id="SH01-007")
    code = issue(client, auth, nurse, patient).get_json()["code"]

    answer = activate(client, code.lower().replace("-", " "))  # as typed on a phone

    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["user"]["role"] == "patient"
    assert body["user"]["username"] == f"{site.study.code}-SH01-007".lower()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert me["patient_id"] == str(patient.id)
    # From now on the patient signs in with the username and the password they chose.
    login = client.post("/api/v1/auth/login", json={"username": body["user"]["username"], "password": NEW_PASSWORD})
    assert login.status_code == 200
    reasons = {r.entity: r.reason for r in db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action != "create")
                                                              .where(AuditRecord.entity.in_(["patients", "activation_codes"])))}
    assert reasons == {"patients": "account activated with a one-time code",
                       "activation_codes": "account activated with a one-time code"}


def test_redeeming_sets_a_new_password_on_an_existing_account_and_activates_it(db, client, auth, site, nurse):
    patient, user = patient_with_account(site=site)
    user.is_active = False
    db.session.commit()
    code = issue(client, auth, nurse, patient).get_json()["code"]
    answer = activate(client, code)
    assert answer.status_code == 200 and answer.get_json()["user"]["id"] == str(user.id)
    db.session.refresh(user)
    assert user.is_active
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "patient")) == 1


def test_a_code_works_once(db, client, auth, site, nurse):
    code = issue(client, auth, nurse, PatientFactory(site=site)).get_json()["code"]
    assert activate(client, code).status_code == 200
    again = activate(client, code, "another long password")
    assert again.status_code == 401 and again.get_json()["reason"] == "invalid_activation_code"


def test_a_new_code_replaces_the_old_one(db, client, auth, site, nurse):
    patient = PatientFactory(site=site)
    old = issue(client, auth, nurse, patient).get_json()["code"]
    new = issue(client, auth, nurse, patient).get_json()["code"]
    assert activate(client, old).status_code == 401
    assert activate(client, new).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(ActivationCode.id))) == 1


def test_an_expired_code_is_refused(db, client, auth, site, nurse):
    code = issue(client, auth, nurse, PatientFactory(site=site)).get_json()["code"]
    row = db.session.scalars(sa.select(ActivationCode)).one()
    row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    answer = activate(client, code)
    assert answer.status_code == 401 and answer.get_json()["reason"] == "invalid_activation_code"


def test_wrong_spent_and_malformed_codes_answer_the_same(db, client):
    wrong = activate(client, "ABCDE-FGHJK")
    malformed = activate(client, "ABC")
    assert wrong.status_code == malformed.status_code == 401
    assert wrong.get_json() == malformed.get_json()


@pytest.mark.parametrize("body, field", [
    pytest.param({"password": "short"}, "password", id="password rules as for every account"),
    pytest.param({"code": "ABCDE\x00FGHJK"}, "code", id="NUL byte"),
    pytest.param({"code": "x" * 41}, "code", id="too long"),
    pytest.param({"username": "me"}, "username", id="unknown field"),
])
def test_bad_activation_requests_are_422_naming_the_field(db, client, body, field):
    answer = client.post("/api/v1/auth/activate", json={"code": "ABCDE-FGHJK", "password": NEW_PASSWORD, **body})
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]


def test_a_code_cannot_be_guessed_at_more_often_than_a_password(db, client, auth, site, nurse):
    code = issue(client, auth, nurse, PatientFactory(site=site)).get_json()["code"]
    for _ in range(5):  # LOGIN_RATE_LIMIT_PER_USERNAME in the tests: 5 per minute
        assert activate(client, code, "short").status_code == 422
    blocked = activate(client, code)
    assert blocked.status_code == 429 and blocked.get_json()["reason"] == "rate_limited"


def test_activation_is_limited_per_address(app, db, client):
    previous = app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]
    app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "3 per minute"
    try:
        answers = [activate(client, f"ABCDE-FGHJ{n}").status_code for n in range(4)]
    finally:
        app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = previous
    assert answers == [401, 401, 401, 429]


def test_patients_may_not_issue_codes(db, client, auth, site):
    patient, user = patient_with_account(site=site)
    assert issue(client, auth, user, patient).status_code == 403


# --- import --------------------------------------------------------------------------------------------
def test_import_can_issue_a_code_to_every_imported_patient(db, runner, tmp_path, client):
    from tests.backend.test_patients_import import row, write

    site = SiteFactory(code="SH01", study=StudyFactory(code="INET-RWS"))
    already = PatientFactory(site=site, subject_id="SH01-0009")  # enrolled before: no code from this import
    path = write(tmp_path / "patients.csv", [row(site, n) for n in (1, 2, 3)] + [row(site, 9)])
    codes_path = tmp_path / "codes.csv"

    result = runner.invoke(args=["patients", "import", str(path), "--activation-codes", str(codes_path)])

    assert "wrote 3 activation code(s)" in result.output
    with open(codes_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["subject_id"] for r in rows] == ["SH01-0001", "SH01-0002", "SH01-0003"]
    assert {(r["study"], r["site"]) for r in rows} == {("INET-RWS", "SH01")}
    assert (codes_path.stat().st_mode & 0o077) == 0  # the only copy of the codes: owner only
    assert db.session.scalar(sa.select(ActivationCode.id).where(ActivationCode.patient_id == already.id)) is None
    answer = activate(client, rows[0]["code"])
    assert answer.status_code == 200
    patient = db.session.scalar(sa.select(Patient).where(Patient.subject_id == "SH01-0001"))
    assert answer.get_json()["user"]["id"] == str(patient.user_id)
