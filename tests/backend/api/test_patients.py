"""Enrolment and patient records (CONTRACT.md "Patients"): the calendar is planned with the patient."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from backend.models import AuditRecord, Event, Patient, User
from tests.factories import PASSWORD, SiteFactory, StudyFactory, UserFactory, staff_for
from tests.factories_patients import enrol, events_by_key, monday_after, site_today

D = timedelta


@pytest.fixture()
def site(db):
    return SiteFactory(code="SH01", study=StudyFactory(code="INET-1L"))


def body(site_, **changes):
    data = {"study": site_.study.code, "site": site_.code, "subject_id": "SH01-001", "regimen": "INET-PAC",
            "first_dose_date": monday_after(site_today(site_), 2).isoformat()}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def calendar(client, auth, user, patient_id):
    answer = client.get(f"/api/v1/patients/{patient_id}/calendar", headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return {e["key"]: e for e in answer.get_json()["events"]}


INET_LOAD, INET = ("inetetamab", 8, "mg/kg"), ("inetetamab", 6, "mg/kg")
PER_LOAD, PER = ("pertuzumab", 840, "mg"), ("pertuzumab", 420, "mg")
PAC, DOC, VNR = ("paclitaxel", 80, "mg/m2"), ("docetaxel", 75, "mg/m2"), ("vinorelbine", 25, "mg/m2")
PYR = ("pyrotinib", 400, "mg")


@pytest.mark.parametrize(("regimen", "key", "offset", "agents"), [
    pytest.param("INET-PAC", "dose:C1D1", 0, [INET_LOAD, PAC], id="INET-PAC C1D1 loading inetetamab"),
    pytest.param("INET-PAC", "dose:C1D8", 7, [PAC], id="INET-PAC C1D8 weekly paclitaxel"),
    pytest.param("INET-PAC", "dose:C1D15", 14, [PAC], id="INET-PAC C1D15"),
    pytest.param("INET-PAC", "dose:C2D1", 21, [INET, PAC], id="INET-PAC C2D1 maintenance"),
    pytest.param("INET-PAC-PER", "dose:C1D1", 0, [INET_LOAD, PER_LOAD, PAC], id="INET-PAC-PER C1D1 loading both"),
    pytest.param("INET-PAC-PER", "dose:C2D1", 21, [INET, PER, PAC], id="INET-PAC-PER C2D1 maintenance"),
    pytest.param("INET-PER-DOC", "dose:C1D1", 0, [INET_LOAD, PER_LOAD, DOC], id="INET-PER-DOC C1D1"),
    pytest.param("INET-PER-DOC", "dose:C3D1", 42, [INET, PER, DOC], id="INET-PER-DOC C3D1 every 21 days"),
    pytest.param("INET-PYR-VNR", "dose:C1D8", 7, [VNR], id="INET-PYR-VNR C1D8 vinorelbine"),
    pytest.param("INET-PYR-VNR", "dose:C2D1", 21, [INET, VNR], id="INET-PYR-VNR C2D1"),
])
def test_enrolment_plans_each_regimen_with_its_dates_and_doses(client, auth, site, regimen, key, offset, agents):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/patients", json=body(site, regimen=regimen), headers=auth.headers(admin))
    assert answer.status_code == 201, answer.get_json()
    patient = answer.get_json()
    assert {k: patient[k] for k in ("subject_id", "study", "site", "regimen", "status", "locale")} == {
        "subject_id": "SH01-001", "study": "INET-1L", "site": "SH01", "regimen": regimen, "status": "on_treatment",
        "locale": "en"}
    first_dose = date.fromisoformat(patient["first_dose_date"])
    event = calendar(client, auth, admin, patient["id"])[key]
    assert event["protocol_date"] == (first_dose + D(offset)).isoformat()
    assert event["window_start"] <= event["target_date"] <= event["window_end"]
    assert [(a["name"], a["dose"], a["unit"]) for a in event["agents"]] == agents


def test_daily_oral_pyrotinib_is_a_dosing_diary_not_a_visit(client, auth, site):
    patient = enrol(site, "INET-PYR-VNR")
    events = calendar(client, auth, UserFactory(role="admin"), patient.id)
    diary = [e for e in events.values() if e["kind"] == "dosing_diary"]
    assert len(diary) >= 700  # one a day over the two-year horizon
    first = events[f"diary:{patient.first_dose_date.isoformat()}"]
    assert [tuple(a.values()) for a in first["agents"]] == [PYR]
    assert first["window_start"] == first["window_end"] == first["target_date"]
    assert not any("pyrotinib" in str(e["agents"]) for e in events.values() if e["kind"] == "dose")


def test_the_two_clocks_and_the_surveys_start_at_the_first_dose(client, auth, site):
    patient = enrol(site, "INET-PER-DOC")
    events = calendar(client, auth, UserFactory(role="admin"), patient.id)
    first_dose = patient.first_dose_date
    assert events["assessment:1"]["protocol_date"] == (first_dose + D(42)).isoformat()
    assert events["assessment:1"]["window_start"] == (first_dose + D(35)).isoformat()
    assert events["survey:1"]["protocol_date"] == first_dose.isoformat()
    assert events["survey:2"]["protocol_date"] == (first_dose + D(7)).isoformat()


def test_study_settings_shape_the_plan(client, auth, db):
    study = StudyFactory(code="CUSTOM", assessment_interval_days=56, assessment_window_days=7, settings={
        "regimen_overrides": {"INET-PAC": {"agents": {"paclitaxel": {"dose": 90}}}},
        "survey": {"interval_days": 14, "window_days": 3}, "planning_horizon_days": 120})
    site = SiteFactory(code="C01", study=study)
    patient = enrol(site, "INET-PAC")
    events = calendar(client, auth, UserFactory(role="admin"), patient.id)
    assert ["paclitaxel", 90, "mg/m2"] in [list(a.values()) for a in events["dose:C1D8"]["agents"]]
    assert events["assessment:1"]["protocol_date"] == (patient.first_dose_date + D(56)).isoformat()
    assert events["survey:2"]["protocol_date"] == (patient.first_dose_date + D(14)).isoformat()
    assert max(e["protocol_date"] for e in events.values()) < (patient.first_dose_date + D(120)).isoformat()


@pytest.mark.parametrize(("subdivision", "easter_monday_open", "first_monday_of_august_open"), [
    pytest.param(None, False, True, id="GB without a subdivision plans with English bank holidays"),
    pytest.param("ENG", False, True, id="England: Easter Monday closed"),
    pytest.param("SCT", True, False, id="Scotland: no Easter Monday, August bank holiday first Monday"),
])
def test_a_gb_site_plans_with_its_nations_bank_holidays(db, subdivision, easter_monday_open, first_monday_of_august_open):
    """holidays' UK calendar without a subdivision lacks the regional bank holidays."""
    from backend.services.calendars import clinic_for

    site = SiteFactory(code="LDN01", country="GB", timezone="Europe/London", subdivision=subdivision)
    assert clinic_for(site).is_open(date(2027, 3, 29)) is easter_monday_open
    assert clinic_for(site).is_open(date(2027, 8, 2)) is first_monday_of_august_open


def test_a_site_accepts_a_holiday_subdivision(client, auth, db):
    admin = UserFactory(role="admin")
    StudyFactory(code="UK")
    site = {"code": "EDI01", "name": "Edinburgh", "study": "UK", "timezone": "Europe/London", "country": "GB"}
    answer = client.post("/api/v1/sites", json={**site, "subdivision": "SCT"}, headers=auth.headers(admin))
    assert answer.status_code == 201 and answer.get_json()["subdivision"] == "SCT"
    answer = client.post("/api/v1/sites", json={**site, "code": "X01", "subdivision": "XX"}, headers=auth.headers(admin))
    assert answer.status_code == 422 and "subdivision" in answer.get_json()["errors"]["json"]


# -- validation ------------------------------------------------------------------------------------

def _far(years):
    """A day just over `years` years from the site's today (negative: ago)."""
    sign = 1 if years > 0 else -1
    return lambda site: (site_today(site) + sign * D(days=int(365.25 * abs(years)) + 2)).isoformat()


@pytest.mark.parametrize(("rule", "changes", "field"), [
    pytest.param("unknown regimen", {"regimen": "FOLFOX"}, "regimen", id="unknown-regimen"),
    pytest.param("site of another study", {"site": "OTHER01"}, "site", id="site-of-another-study"),
    pytest.param("unknown site", {"site": "NOPE"}, "site", id="unknown-site"),
    pytest.param("unknown study", {"study": "NOPE"}, "study", id="unknown-study"),
    pytest.param("first dose more than five years ahead", {"first_dose_date": _far(5)}, "first_dose_date",
                 id="first-dose-over-5-years-ahead"),
    pytest.param("first dose more than five years ago", {"first_dose_date": _far(-5)}, "first_dose_date",
                 id="first-dose-over-5-years-ago"),
    pytest.param("bad time zone", {"timezone": "Mars/Base"}, "timezone", id="bad-timezone"),
    pytest.param("bad locale", {"locale": "fr"}, "locale", id="bad-locale"),
    pytest.param("unknown field", {"diagnosis": "x"}, "diagnosis", id="unknown-field"),
    pytest.param("short account password", {"account": {"username": "pat1", "password": "short"}}, "account",
                 id="short-password"),
])
def test_enrolment_refuses_invalid_input_naming_the_field(client, auth, site, rule, changes, field):
    SiteFactory(code="OTHER01")
    changes = {k: v(site) if callable(v) else v for k, v in changes.items()}
    answer = client.post("/api/v1/patients", json=body(site, **changes), headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 422, rule
    assert field in answer.get_json()["errors"]["json"], answer.get_json()
    assert db_counts() == (0, 0)


def db_counts():
    from backend.extensions import db

    return (db.session.scalar(sa.select(sa.func.count()).select_from(Patient)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Event)))


def test_a_subject_is_enrolled_once_per_study(client, auth, site):
    admin = UserFactory(role="admin")
    assert client.post("/api/v1/patients", json=body(site), headers=auth.headers(admin)).status_code == 201
    events = db_counts()[1]
    again = client.post("/api/v1/patients", json=body(site), headers=auth.headers(admin))
    assert again.status_code == 409 and again.get_json()["reason"] == "duplicate_subject"
    assert db_counts() == (1, events)


@pytest.mark.parametrize("role", [
    pytest.param("admin", id="admin-anywhere"),
    pytest.param("coordinator", id="coordinator-of-the-study"),
    pytest.param("nurse", id="nurse-of-the-site"),
])
def test_staff_enrol_in_their_scope(client, auth, site, role):
    user = staff_for(site)[role]
    assert client.post("/api/v1/patients", json=body(site), headers=auth.headers(user)).status_code == 201


def test_enrolment_does_not_tell_a_nurse_whether_another_site_exists(client, auth, site):
    """A site of another nurse, a site of another study and no site at all get one answer."""
    SiteFactory(code="SH02", study=site.study)
    SiteFactory(code="ELSE01")
    nurse = UserFactory(role="nurse", sites=[site])
    answers = [client.post("/api/v1/patients", json=body(site, site=code), headers=auth.headers(nurse)).get_json()
               for code in ("SH02", "ELSE01", "NOPE01")]
    assert all(a["code"] == 422 for a in answers)
    shapes = [{**a, "message": a["message"].replace(code, "X"),
               "errors": {"json": {"site": [m.replace(code, "X") for m in a["errors"]["json"]["site"]]}}}
              for a, code in zip(answers, ("SH02", "ELSE01", "NOPE01"))]
    assert shapes[0] == shapes[1] == shapes[2]


@pytest.mark.parametrize("existing", [True, False], ids=["admin exists", "no admin"])
def test_a_nurse_cannot_learn_that_the_username_admin_exists(client, auth, site, existing):
    if existing:
        UserFactory(role="admin", username="admin")
    nurse = UserFactory(role="nurse", sites=[site])
    for name in ("admin", "Admin"):
        answer = client.post("/api/v1/patients", json=body(site, account={"username": name, "password": "a patient's own pass"}),
                             headers=auth.headers(nurse))
        assert answer.status_code == 409
        assert answer.get_json() == {"code": 409, "status": "Conflict", "reason": "duplicate_username",
                                     "message": "The username is not available; choose another."}


@pytest.mark.parametrize("password", ["p4tient-ac", "pat1-is-my-name", "sunshine123!"], ids=[
    "shorter than 12", "contains the username", "common"])
def test_a_patient_account_password_follows_the_one_rule(client, auth, site, password):
    answer = client.post("/api/v1/patients", json=body(site, account={"username": "pat1", "password": password}),
                         headers=auth.headers(UserFactory(role="nurse", sites=[site])))
    assert answer.status_code == 422, password
    assert db_counts() == (0, 0)


def test_staff_cannot_enrol_outside_their_scope(client, auth, site):
    other_site = SiteFactory(code="SH02", study=site.study)
    nurse = UserFactory(role="nurse", sites=[other_site])
    answer = client.post("/api/v1/patients", json=body(site), headers=auth.headers(nurse))
    assert answer.status_code == 422 and "site" in answer.get_json()["errors"]["json"]
    coordinator = UserFactory(role="coordinator", studies=[StudyFactory(code="ELSEWHERE")])
    answer = client.post("/api/v1/patients", json=body(site), headers=auth.headers(coordinator))
    assert answer.status_code == 422 and "study" in answer.get_json()["errors"]["json"]
    patient_user = UserFactory(role="patient")
    assert client.post("/api/v1/patients", json=body(site), headers=auth.headers(patient_user)).status_code == 403


def test_an_account_makes_a_patient_user_who_sees_only_their_record(client, auth, site):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/patients", json=body(site, account={"username": "pat-001", "password": PASSWORD},
                                                        timezone="Europe/London", locale="zh-CN"),
                         headers=auth.headers(admin))
    assert answer.status_code == 201
    patient = answer.get_json()
    assert patient["user_id"] and patient["timezone"] == "Europe/London" and patient["locale"] == "zh-CN"
    login = client.post("/api/v1/auth/login", json={"username": "pat-001", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    assert login["user"]["role"] == "patient"
    assert client.get("/api/v1/me", headers=headers).get_json()["patient_id"] == patient["id"]
    assert client.get(f"/api/v1/patients/{patient['id']}", headers=headers).status_code == 200
    other = enrol(site)
    assert client.get(f"/api/v1/patients/{other.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/patients", headers=headers).status_code == 403


def test_a_taken_username_is_a_conflict_and_enrols_nobody(client, auth, site):
    UserFactory(username="taken")
    answer = client.post("/api/v1/patients", json=body(site, account={"username": "taken", "password": PASSWORD}),
                         headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 409 and answer.get_json()["reason"] == "duplicate_username"
    assert db_counts() == (0, 0)


def test_a_failing_enrolment_leaves_nothing_half_written(client, auth, site, monkeypatch):
    """The reminders hook runs last in the enrolment transaction: if it fails, no patient, no user,
    no event and no audit record of them remain."""
    from backend.errors import Conflict
    from backend.extensions import db
    from backend.services import calendar_writes

    def failing(patient, events, now, **kwargs):
        raise Conflict("reminders refused", reason="test_failure")

    monkeypatch.setattr(calendar_writes, "_sync_reminders", failing)
    answer = client.post("/api/v1/patients", json=body(site, account={"username": "ghost", "password": PASSWORD}),
                         headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 409 and answer.get_json()["reason"] == "test_failure"
    assert db_counts() == (0, 0)
    assert db.session.scalar(sa.select(User.id).where(User.username == "ghost")) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.entity.in_(["patients", "events"]))) == 0


def test_enrolment_is_audited_for_the_patient_and_each_of_its_events(client, auth, site):
    from backend.extensions import db

    nurse = staff_for(site)["nurse"]
    patient_id = client.post("/api/v1/patients", json=body(site), headers=auth.headers(nurse)).get_json()["id"]
    created = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity_id == patient_id)).one()
    assert created.entity == "patients" and created.action == "create" and created.user_id == str(nurse.id)
    stored = events_by_key(patient_id)
    events = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "events")).all()
    assert sorted(r.entity_id for r in events) == sorted(str(e.id) for e in stored.values())
    assert {(r.action, r.role, r.user_id) for r in events} == {("create", "nurse", str(nurse.id))}


# -- reading and listing -----------------------------------------------------------------------------

def test_staff_list_their_patients_by_site_and_status_paginated(client, auth, site):
    other_site = SiteFactory(code="SH02", study=site.study)
    for _ in range(3):
        enrol(site, "INET-PER-DOC")
    enrol(other_site, "INET-PER-DOC")
    nurse = UserFactory(role="nurse", sites=[site])
    answer = client.get("/api/v1/patients?page_size=2", headers=auth.headers(nurse))
    assert answer.status_code == 200 and len(answer.get_json()) == 2
    assert json.loads(answer.headers["X-Pagination"])["total"] == 3
    coordinator = staff_for(site)["coordinator"]
    assert len(client.get("/api/v1/patients", headers=auth.headers(coordinator)).get_json()) == 4
    by_site = client.get("/api/v1/patients?site=SH02", headers=auth.headers(coordinator)).get_json()
    assert [p["site"] for p in by_site] == ["SH02"]
    assert client.get("/api/v1/patients?status=follow_up", headers=auth.headers(coordinator)).get_json() == []
    assert client.get("/api/v1/patients?status=dead", headers=auth.headers(coordinator)).status_code == 422


def test_out_of_scope_patients_are_not_found(client, auth, site):
    patient = enrol(site)
    stranger = UserFactory(role="nurse", sites=[SiteFactory(code="ZZ01")])
    assert client.get(f"/api/v1/patients/{patient.id}", headers=auth.headers(stranger)).status_code == 404
    assert client.get("/api/v1/patients/not-an-id", headers=auth.headers(UserFactory(role="admin"))).status_code == 404


# -- discontinuation -----------------------------------------------------------------------------------

def test_discontinuation_cancels_future_dosing_and_keeps_the_imaging_clock(client, auth, site):
    today = site_today(site)
    patient = enrol(site, "INET-PAC", first_dose=today - D(30))
    before = events_by_key(patient.id)
    coordinator = staff_for(site)["coordinator"]
    answer = client.post(f"/api/v1/patients/{patient.id}/discontinue",
                         json={"date": today.isoformat(), "reason": "Grade 3 neuropathy"},
                         headers=auth.headers(coordinator))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "follow_up"
    assert answer.get_json()["discontinued_on"] == today.isoformat()
    after = events_by_key(patient.id)
    future_doses = [e for e in after.values() if e.kind == "dose" and e.protocol_date >= today]
    assert future_doses and all(e.status == "cancelled" and e.reason == "Grade 3 neuropathy" for e in future_doses)
    assert all(e.status == "planned" for e in after.values() if e.kind == "dose" and e.protocol_date < today)
    assessments = {k: (e.status, e.target_date) for k, e in after.items() if e.kind == "tumor_assessment"}
    assert assessments == {k: (e.status, e.target_date) for k, e in before.items() if e.kind == "tumor_assessment"}
    assert all(status == "planned" for status, _ in assessments.values())
    again = client.post(f"/api/v1/patients/{patient.id}/discontinue", json={"date": today.isoformat(), "reason": "x"},
                        headers=auth.headers(coordinator))
    assert again.status_code == 409 and again.get_json()["reason"] == "already_discontinued"


@pytest.mark.parametrize(("rule", "day"), [
    pytest.param("not in the future", lambda today, first: today + D(1), id="future"),
    pytest.param("not before the first dose", lambda today, first: first - D(1), id="before-first-dose"),
])
def test_discontinuation_date_rules(client, auth, site, rule, day):
    today = site_today(site)
    patient = enrol(site, "INET-PAC", first_dose=today - D(10))
    answer = client.post(f"/api/v1/patients/{patient.id}/discontinue",
                         json={"date": day(today, patient.first_dose_date).isoformat(), "reason": "x"},
                         headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 422 and "date" in answer.get_json()["errors"]["json"], rule


def test_demo_patients_are_loaded_once(db):
    from backend.services.demo import load_demo

    first = load_demo()
    assert sum(line.startswith("patient ") for line in first) >= 4
    regimens = set(db.session.scalars(sa.select(Patient.regimen)))
    assert regimens == {"INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR"}
    count = db_counts()
    assert not any(line.startswith("patient ") for line in load_demo())
    assert db_counts() == count
