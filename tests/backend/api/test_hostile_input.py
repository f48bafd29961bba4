"""Hostile and careless input (issue 10, items 2 and 3): every request that used to answer 500 is a
4xx in the contract's error shape, and nothing is written."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.models import AuditRecord, Study
from tests.factories import PASSWORD, SiteFactory, staff_for
from tests.factories_patients import enrol

NUL = "a\u0000b"
EARLY = "0001-01-01T00:00:00+14:00"
LATE = "9999-12-31T23:59:59-12:00"


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture()
def world(db, auth, client):
    site = SiteFactory(code="SH01")
    staff = staff_for(site)
    patient = enrol(site, "INET-PAC", account={"username": "pat-hostile", "password": PASSWORD})
    login = client.post("/api/v1/auth/login", json={"username": "pat-hostile", "password": PASSWORD}).get_json()
    event = next(e for e in _events(client, auth, staff["admin"], patient) if e["kind"] == "dose")
    return {
        "site": site.code, "study": site.study.code, "patient": str(patient.id), "event": event["id"],
        "staff": auth.headers(staff["admin"]), "nurse": auth.headers(staff["nurse"]),
        "patient_auth": {"Authorization": f"Bearer {login['access_token']}"},
    }


def _events(client, auth, user, patient):
    return client.get(f"/api/v1/patients/{patient.id}/calendar", headers=auth.headers(user)).get_json()["events"]


def survey(completed_at):
    return {"client_report_id": str(uuid.uuid4()), "completed_at": completed_at,
            "answers": [{"item": "PROCTCAE_9A_SCL", "value": 0}]}


# (who, method, path, body or raw text, extra headers): each row used to be a 500.
CASES = [
    # NUL bytes: refused once, at the door, for every route (issue item 2).
    pytest.param(None, "POST", "/auth/login", {"username": NUL, "password": "x"}, None, id="NUL in login, signed out"),
    pytest.param("staff", "POST", "/alerts/{uuid}/acknowledge", {"action": NUL}, None, id="NUL in alert action"),
    pytest.param("staff", "POST", "/studies", {"code": "NUL1", "title": NUL}, None, id="NUL in study title"),
    pytest.param("staff", "POST", "/sites", {"code": "X1", "name": NUL, "study": "{study}", "timezone": "UTC",
                                             "country": "CN"}, None, id="NUL in site name"),
    pytest.param("patient_auth", "POST", "/me/devices", {"platform": "ios", "token": "abcdefgh" + NUL}, None,
                 id="NUL in device token"),
    pytest.param("staff", "PATCH", "/patients/{patient}/events/{event}", {"status": "held", "reason": NUL}, None,
                 id="NUL in a reason"),
    pytest.param("staff", "POST", "/studies", {"code": "NUL2", "title": "t", "settings": {NUL: 1}}, None,
                 id="NUL in a key"),
    pytest.param("staff", "GET", "/alerts?site=%00", None, None, id="NUL in ?site="),
    pytest.param("staff", "GET", "/patients?subject_id=a%00", None, None, id="NUL in ?subject_id="),
    pytest.param("staff", "GET", "/studies/A%00B", None, None, id="NUL in a path code"),
    pytest.param("staff", "GET", "/sites/A%00B/worklist", None, None, id="NUL in a site code"),
    # Instants whose offset takes them off the calendar.
    pytest.param("patient_auth", "POST", "/patients/{patient}/symptom-reports", survey(EARLY), None,
                 id="completed_at in year 1 at +14:00"),
    pytest.param("patient_auth", "POST", "/patients/{patient}/symptom-reports", survey(LATE), None,
                 id="completed_at in year 9999 at -12:00"),
    pytest.param("staff", "GET", "/patients/{patient}/calendar?updated_since=0001-01-01T00:00:00%2B14:00", None,
                 None, id="updated_since in year 1"),
    pytest.param("staff", "GET", "/patients/{patient}/calendar?updated_since=9999-12-31T23:59:59-12:00", None,
                 None, id="updated_since in year 9999"),
    # Cut-offs at the end of the calendar.
    pytest.param("staff", "GET", "/patients/{patient}/pfs?as_of=9999-12-31", None, None, id="PFS as_of 9999"),
    pytest.param("staff", "GET", "/studies/{study}/compliance?as_of=9999-12-31", None, None, id="compliance 9999"),
    pytest.param("staff", "GET", "/studies/{study}/exports/adtte.csv?as_of=9999-12-31", None, None,
                 id="ADTTE export 9999"),
    pytest.param("staff", "GET", "/studies/{study}/exports/subject-visits.csv?as_of=9999-12-31", None, None,
                 id="visits export 9999"),
    pytest.param("staff", "GET", "/studies/{study}/reconciliation?as_of=9999-12-31", None, None,
                 id="reconciliation 9999"),
    pytest.param("staff", "GET", "/sites/{site}/worklist?date=9999-12-31", None, None, id="worklist 9999"),
    pytest.param("staff", "GET", "/sites/{site}/worklist?date=0001-01-01", None, None, id="worklist year 1"),
    # Pages past any offset the database can count.
    pytest.param("staff", "GET", "/patients?page=" + "1" + "0" * 30, None, None, id="page 10^30 of patients"),
    pytest.param("staff", "GET", "/alerts?page=" + "1" + "0" * 30, None, None, id="page 10^30 of alerts"),
    # JSON nested 1,000 deep.
    pytest.param(None, "POST", "/auth/login", deep(1000), None, id="login nested 1000 deep"),
    pytest.param("staff", "POST", "/studies", '{"code": "D1", "title": "t", "settings": {"survey": '
                 + deep(1000) + "}}", None, id="study settings nested 1000 deep"),
    # Malformed study settings.
    pytest.param("staff", "POST", "/studies", {"code": "S1", "title": "t", "settings": {"survey": "x"}}, None,
                 id="survey setting not an object"),
    pytest.param("staff", "POST", "/studies", {"code": "S2", "title": "t", "settings": {"reminder_policy": "x"}},
                 None, id="reminder policy not an object"),
    pytest.param("staff", "POST", "/studies", {"code": "S3", "title": "t", "settings": {
        "reminder_policy": {"visit_time": {"dose": "99:99"}}}}, None, id="visit time 99:99"),
    pytest.param("staff", "POST", "/studies", {"code": "S4", "title": "t", "settings": {
        "reminder_policy": {"visit_time": "x"}}}, None, id="visit time not an object"),
    pytest.param("staff", "POST", "/studies", {"code": "S5", "title": "t", "settings": {
        "alert_rules": "x", "symptom_panel": "x"}}, None, id="alert rules and panel not the right type"),
    # Settings that used to be accepted and make every later enrolment fail.
    pytest.param("staff", "POST", "/studies", {"code": "H1", "title": "t", "settings": {
        "planning_horizon_days": 10_000_000}}, None, id="planning horizon of 27,000 years"),
    pytest.param("staff", "POST", "/studies", {"code": "H2", "title": "t", "assessment_schedule": {
        "interval_days": 42, "window_days": 7, "phases": [[None, 1_000_000_000]]}}, None, id="phase of a billion days"),
    # An X-Request-ID the audit trail cannot hold.
    pytest.param("staff", "POST", "/studies", {"code": "R1", "title": "t"}, {"X-Request-ID": "r" * 65},
                 id="X-Request-ID of 65 characters"),
    pytest.param("staff", "PATCH", "/patients/{patient}/events/{event}", {"status": "held", "reason": "r"},
                 {"X-Request-ID": "x" * 200}, id="X-Request-ID of 200 characters on a visit"),
]


@pytest.mark.parametrize("who, method, path, body, headers", CASES)
def test_hostile_input_is_a_4xx_in_the_error_shape_and_writes_nothing(client, world, who, method, path, body,
                                                                       headers):
    path = "/api/v1" + path.format(uuid=uuid.uuid4(), **{k: v for k, v in world.items() if isinstance(v, str)})
    request_headers = {**(world[who] if who else {}), **(headers or {})}
    audited_before = client.application.extensions["sqlalchemy"].session.scalar(
        sa.select(sa.func.count()).select_from(AuditRecord))
    if isinstance(body, str):
        answer = client.open(path, method=method, data=body, content_type="application/json", headers=request_headers)
    else:
        answer = client.open(path, method=method, json=body, headers=request_headers)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:500])
    error = answer.get_json()
    assert set(error) >= {"code", "status", "message", "reason"} and error["code"] == answer.status_code
    assert isinstance(error["message"], str) and error["reason"]
    session = client.application.extensions["sqlalchemy"].session
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) == audited_before


def test_a_nul_byte_is_refused_before_sign_in_is_even_tried(client, db):
    answer = client.post("/api/v1/auth/login", json={"username": NUL, "password": "x"})
    assert answer.status_code == 422
    assert answer.get_json()["reason"] == "nul_byte"
    assert answer.get_json()["errors"] == {"json": {"username": ["NUL bytes are not allowed."]}}


def test_a_body_over_max_content_length_is_413_in_the_error_shape(app, client, db):
    limit = app.config["MAX_CONTENT_LENGTH"]
    answer = client.post("/api/v1/auth/login", data=json.dumps({"username": "u" * limit, "password": "x"}),
                         content_type="application/json")
    assert answer.status_code == 413
    assert answer.get_json()["reason"] == "payload_too_large"


def test_study_settings_are_bounded_in_size(client, world):
    settings = {"regimen_overrides": {f"R{n}": {"agents": {}} for n in range(2000)}}
    answer = client.post("/api/v1/studies", json={"code": "BIG", "title": "t", "settings": settings},
                         headers=world["staff"])
    assert answer.status_code == 422
    assert "settings" in answer.get_json()["errors"]["json"]


def test_a_valid_request_id_is_kept_in_the_audit_trail(client, world):
    answer = client.post("/api/v1/studies", json={"code": "RID", "title": "t"},
                         headers={**world["staff"], "X-Request-ID": "abc-123.4:5_6"})
    assert answer.status_code == 201
    assert answer.headers["X-Request-ID"] == "abc-123.4:5_6"


def test_calendar_dates_read_back_within_bounds(client, world):
    """The bounds are wide enough for every real record: a whole-calendar read still works."""
    start = "1900-01-01"
    answer = client.get(f"/api/v1/patients/{world['patient']}/calendar?from={start}&to=2199-12-31",
                        headers=world["staff"])
    assert answer.status_code == 200
    assert answer.get_json()["events"]


def test_date_arithmetic_that_runs_off_the_calendar_is_a_422_not_a_500(app, db):
    """The safety net for a route whose schema lacks the date bounds of backend.schemas.fields."""
    from datetime import date, timedelta

    try:
        date(9999, 12, 31) + timedelta(days=1)
    except OverflowError as error:
        failure = error
    with app.test_request_context("/api/v1/patients/x/pfs"):
        response = app.make_response(app.handle_user_exception(failure))
    assert response.status_code == 422 and response.get_json()["reason"] == "out_of_range"
