"""PRO-CTCAE symptom reporting (CONTRACT.md "Symptoms"): submitting reports (idempotent, validated,
graded, branching), survey-event completion in the patient's zone, listing and scope. The item library
the app asks them from is specified in test_symptom_items.py."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backend.models import AuditRecord, Event, StaffNotification, SymptomAlert, SymptomReport
from tests.factories import SiteFactory, StudyFactory, UserFactory
from tests.factories_symptoms import SurveyEventFactory, patient_with_account, reporting_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALM = [{"item": "PROCTCAE_9A_SCL", "value": 1}, {"item": "PROCTCAE_9B_SCL", "value": 1}]
SEVERE_NAUSEA = [{"item": "PROCTCAE_9A_SCL", "value": 4}, {"item": "PROCTCAE_9B_SCL", "value": 3}]


def _ago(**delta) -> str:
    return (datetime.now(timezone.utc) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def report_body(answers=CALM, completed_at=None, client_report_id=None) -> dict:
    return {"client_report_id": str(client_report_id or uuid.uuid4()),
            "completed_at": completed_at or _ago(minutes=10), "answers": answers}


@pytest.fixture()
def world(db):
    return reporting_world(SiteFactory(code="SH01", timezone="Asia/Shanghai"))


def post_report(client, auth, world, body, user=None):
    return client.post(f"/api/v1/patients/{world['patient'].id}/symptom-reports", json=body,
                       headers=auth.headers(user or world["patient_user"]))


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- submitting ---------------------------------------------------------------------------------
def test_a_report_is_graded_per_symptom_with_ctcae_term_and_meddra_code(client, auth, world):
    body = report_body([{"item": "PROCTCAE_9A_SCL", "value": 3}, {"item": "PROCTCAE_9B_SCL", "value": 2},
                        {"item": "PROCTCAE_24A_IND", "value": 1}])
    answer = post_report(client, auth, world, body)
    assert answer.status_code == 201
    report = answer.get_json()
    assert report["client_report_id"] == body["client_report_id"]
    assert report["completed_at"].endswith("Z")
    nausea, rash = report["symptoms"]
    assert nausea == {"term_number": 9, "term": "Nausea", "ctcae_term": "Nausea", "meddra_code": "10028813",
                      "composite_grade": 2, "answers": {"PROCTCAE_9A_SCL": 3, "PROCTCAE_9B_SCL": 2}}
    assert rash["ctcae_term"] == "Rash maculo-papular" and rash["composite_grade"] is None
    assert report["alerts"] == [] and report["message"] is None
    assert report["unscheduled"] is True and report["event_id"] is None


@pytest.mark.parametrize("answers, expanded, grade", [
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": 0}], {"PROCTCAE_9A_SCL": 0, "PROCTCAE_9B_SCL": 0}, 0,
                 id="first-item-0-follow-ups-not-asked-count-as-0"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": 0}, {"item": "PROCTCAE_9B_SCL", "value": 0}],
                 {"PROCTCAE_9A_SCL": 0, "PROCTCAE_9B_SCL": 0}, 0, id="follow-up-sent-as-0-is-accepted"),
    pytest.param([{"item": "PROCTCAE_48A_SCL", "value": 0}],
                 {"PROCTCAE_48A_SCL": 0, "PROCTCAE_48B_SCL": 0, "PROCTCAE_48C_SCL": 0}, 0,
                 id="every-follow-up-of-a-three-item-term"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": 2}], {"PROCTCAE_9A_SCL": 2}, None,
                 id="follow-up-left-out-after-non-zero-no-grade"),
])
def test_branching_after_a_first_answer_of_zero(client, auth, world, answers, expanded, grade):
    [symptom] = post_report(client, auth, world, report_body(answers)).get_json()["symptoms"]
    assert symptom["answers"] == expanded
    assert symptom["composite_grade"] == grade


@pytest.mark.parametrize("answers, item, rule", [
    pytest.param([{"item": "PROCTCAE_99A_SCL", "value": 1}], "PROCTCAE_99A_SCL", "unknown_item", id="unknown-item"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": 5}], "PROCTCAE_9A_SCL", "value_out_of_range",
                 id="scale-above-4"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": -1}], "PROCTCAE_9A_SCL", "value_out_of_range",
                 id="scale-below-0"),
    pytest.param([{"item": "PROCTCAE_24A_IND", "value": 2}], "PROCTCAE_24A_IND", "value_out_of_range",
                 id="presence-item-is-0-or-1"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": 1}, {"item": "PROCTCAE_9A_SCL", "value": 1}],
                 "PROCTCAE_9A_SCL", "duplicate_item", id="an-item-answered-twice"),
    pytest.param([{"item": "PROCTCAE_17A_SCL", "value": 1}], "PROCTCAE_17A_SCL", "not_in_panel",
                 id="item-not-in-the-study-panel"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": None}], "PROCTCAE_9A_SCL", "null_not_allowed",
                 id="null-only-where-the-item-offers-it"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": "2"}], "PROCTCAE_9A_SCL", "invalid_value",
                 id="value-must-be-an-integer"),
    pytest.param([{"item": "PROCTCAE_9A_SCL", "value": 0}, {"item": "PROCTCAE_9B_SCL", "value": 2}],
                 "PROCTCAE_9B_SCL", "not_asked_after_zero", id="follow-up-contradicts-branching"),
])
def test_invalid_answers_are_422_naming_the_item_and_the_rule(client, auth, db, world, answers, item, rule):
    answer = post_report(client, auth, world, report_body(answers))
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["reason"] == "invalid_answers"
    messages = body["errors"]["json"]["answers"][item]
    assert any(f"[{rule}]" in message for message in messages)
    assert item in body["message"]
    assert count(db, SymptomReport) == 0


def test_every_invalid_answer_is_named_at_once(client, auth, world):
    answers = [{"item": "PROCTCAE_9A_SCL", "value": 9}, {"item": "PROCTCAE_53A_SCL", "value": None}]
    errors = post_report(client, auth, world, report_body(answers)).get_json()["errors"]["json"]["answers"]
    assert set(errors) == {"PROCTCAE_9A_SCL", "PROCTCAE_53A_SCL"}


def test_the_study_chooses_its_panel(client, auth, db, world):
    world["patient"].study.settings = {"symptom_panel": [17]}
    db.session.commit()
    assert post_report(client, auth, world, report_body([{"item": "PROCTCAE_17A_SCL", "value": 1}])).status_code == 201
    refused = post_report(client, auth, world, report_body([{"item": "PROCTCAE_9A_SCL", "value": 1}]))
    assert "PROCTCAE_9A_SCL" in refused.get_json()["errors"]["json"]["answers"]


def test_an_unusable_panel_setting_is_a_conflict_naming_the_setting(client, auth, db, world):
    world["patient"].study.settings = {"symptom_panel": [999]}
    db.session.commit()
    answer = post_report(client, auth, world, report_body())
    assert answer.status_code == 409
    assert answer.get_json()["reason"] == "study_settings_invalid"
    assert "symptom_panel" in answer.get_json()["message"]


@pytest.mark.parametrize("change, field", [
    pytest.param({"completed_at": "future"}, "completed_at", id="completed-more-than-5-minutes-in-the-future"),
    pytest.param({"completed_at": "2026-03-01T10:00:00"}, "completed_at", id="completed-at-needs-an-offset"),
    pytest.param({"client_report_id": "not-a-uuid"}, "client_report_id", id="client-report-id-is-a-uuid"),
    pytest.param({"answers": []}, "answers", id="at-least-one-answer"),
    pytest.param({"extra": 1}, "extra", id="unknown-fields-are-refused"),
])
def test_invalid_reports_are_422_naming_the_field(client, auth, world, change, field):
    body = report_body()
    if change.get("completed_at") == "future":
        change = {"completed_at": _ago(minutes=-6)}
    body.update(change)
    answer = post_report(client, auth, world, body)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]


def test_a_device_clock_a_little_ahead_is_tolerated(client, auth, world):
    assert post_report(client, auth, world, report_body(completed_at=_ago(minutes=-4))).status_code == 201


# --- idempotency --------------------------------------------------------------------------------
def _written(db) -> dict[str, int]:
    return {model.__name__: count(db, model) for model in (SymptomReport, SymptomAlert, StaffNotification, AuditRecord)}


def test_a_replay_answers_200_with_the_stored_report_and_writes_nothing(client, auth, db, world):
    body = report_body(SEVERE_NAUSEA)
    first = post_report(client, auth, world, body)
    assert first.status_code == 201
    before = _written(db)
    again = post_report(client, auth, world, {**body, "answers": list(reversed(body["answers"]))})
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert _written(db) == before


@pytest.mark.parametrize("change", [
    pytest.param({"answers": CALM}, id="other-answers"),
    pytest.param({"completed_at": _ago(days=1)}, id="other-completion-time"),
])
def test_the_same_client_report_id_with_other_content_is_409(client, auth, world, change):
    body = report_body(SEVERE_NAUSEA)
    post_report(client, auth, world, body)
    answer = post_report(client, auth, world, {**body, **change})
    assert answer.status_code == 409
    assert answer.get_json()["reason"] == "client_report_id_reused"


def test_client_report_ids_are_per_patient(client, auth, world):
    other, other_user = patient_with_account(world["site"])
    body = report_body()
    assert post_report(client, auth, world, body).status_code == 201
    answer = client.post(f"/api/v1/patients/{other.id}/symptom-reports", json=body, headers=auth.headers(other_user))
    assert answer.status_code == 201


def test_two_identical_uploads_at_the_same_moment_store_one_report(app, auth, db, world, monkeypatch):
    """Both requests pass the replay check before either writes; the unique constraint decides and the
    loser answers the winner's report with 200 (real PostgreSQL, two threads)."""
    from backend.services import symptoms as symptoms_service

    event = SurveyEventFactory(patient=world["patient"], target_date=datetime.now(SHANGHAI).date())
    original = symptoms_service._stored_report
    both_checked = threading.Barrier(2, timeout=10)
    local = threading.local()

    def checked_then_wait(*args):
        found = original(*args)
        if not getattr(local, "waited", False):
            local.waited = True
            both_checked.wait()
        return found

    monkeypatch.setattr(symptoms_service, "_stored_report", checked_then_wait)
    body = report_body(SEVERE_NAUSEA)
    headers = auth.headers(world["patient_user"])
    url = f"/api/v1/patients/{world['patient'].id}/symptom-reports"
    answers = []

    def upload():
        answers.append(app.test_client().post(url, json=body, headers=headers))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert answers[0].get_json() == answers[1].get_json()
    db.session.expire_all()
    assert count(db, SymptomReport) == 1
    report = db.session.scalars(sa.select(SymptomReport)).one()
    assert count(db, SymptomAlert) == len(report.alerts) > 0
    assert db.session.get(Event, event.id).version == 2  # completed once


# --- survey events ------------------------------------------------------------------------------
def _local_instant(day, hour, minute) -> str:
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(timezone.utc).isoformat()


def test_a_report_late_in_the_patients_evening_completes_that_days_survey(client, auth, db, world):
    """23:30 in Shanghai is 15:30Z the same day: the local date decides, not the UTC one."""
    day = datetime.now(SHANGHAI).date() - timedelta(days=3)
    event = SurveyEventFactory(patient=world["patient"], target_date=day - timedelta(days=1), window_days=1)
    completed_at = _local_instant(day, 23, 30)
    assert completed_at.endswith("15:30:00+00:00")
    answer = post_report(client, auth, world, report_body(completed_at=completed_at))
    report = answer.get_json()
    assert report["event_id"] == str(event.id) and report["unscheduled"] is False
    assert report["local_date"] == day.isoformat()
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert (stored.status, stored.actual_date) == ("completed", day)


def test_a_report_after_local_midnight_is_outside_a_window_that_ended_the_day_before(client, auth, db, world):
    day = datetime.now(SHANGHAI).date() - timedelta(days=3)
    event = SurveyEventFactory(patient=world["patient"], target_date=day - timedelta(days=1), window_days=1)
    report = post_report(client, auth, world, report_body(completed_at=_local_instant(day + timedelta(days=1), 0, 30)))
    body = report.get_json()
    assert body["unscheduled"] is True and body["event_id"] is None
    db.session.expire_all()
    assert db.session.get(Event, event.id).status == "planned"


def test_overlapping_windows_complete_the_survey_with_the_nearest_target(client, auth, db, world):
    day = datetime.now(SHANGHAI).date() - timedelta(days=5)
    SurveyEventFactory(patient=world["patient"], target_date=day - timedelta(days=2), window_days=3)
    nearest = SurveyEventFactory(patient=world["patient"], target_date=day + timedelta(days=1), window_days=3)
    report = post_report(client, auth, world, report_body(completed_at=_local_instant(day, 9, 0))).get_json()
    assert report["event_id"] == str(nearest.id)


@pytest.mark.parametrize("status", ["completed", "missed", "cancelled"])
def test_only_a_planned_survey_is_completed_by_a_report(client, auth, world, status):
    day = datetime.now(SHANGHAI).date() - timedelta(days=2)
    SurveyEventFactory(patient=world["patient"], target_date=day, status=status)
    report = post_report(client, auth, world, report_body(completed_at=_local_instant(day, 9, 0))).get_json()
    assert report["unscheduled"] is True


def test_other_kinds_of_event_are_not_completed_by_a_report(client, auth, world):
    day = datetime.now(SHANGHAI).date() - timedelta(days=2)
    SurveyEventFactory(patient=world["patient"], target_date=day, kind="tumor_assessment")
    report = post_report(client, auth, world, report_body(completed_at=_local_instant(day, 9, 0))).get_json()
    assert report["unscheduled"] is True


def test_the_report_and_the_survey_completion_are_audited(client, auth, db, world):
    day = datetime.now(SHANGHAI).date() - timedelta(days=1)
    event = SurveyEventFactory(patient=world["patient"], target_date=day)
    report = post_report(client, auth, world, report_body(completed_at=_local_instant(day, 9, 0))).get_json()
    records = db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.entity_id.in_([report["id"], str(event.id)]), AuditRecord.user_id == str(world["patient_user"].id)))
    by_entity = {(record.entity, record.action): record for record in records}
    assert set(by_entity) == {("symptom_reports", "create"), ("events", "update")}
    assert by_entity[("events", "update")].changes["status"] == {"before": "planned", "after": "completed"}
    assert report["client_report_id"] in by_entity[("events", "update")].reason


# --- who may submit and read --------------------------------------------------------------------
def test_site_staff_may_enter_a_report_on_the_patients_behalf(client, auth, world):
    answer = post_report(client, auth, world, report_body(), user=world["nurse"])
    assert answer.status_code == 201
    assert answer.get_json()["entered_by_role"] == "nurse"


@pytest.mark.parametrize("who", ["other_patient", "other_nurse", "other_coordinator"])
def test_out_of_scope_callers_get_404_on_submit_and_list(client, auth, world, who):
    other_site = SiteFactory(code="BJ01", study=StudyFactory(code="OTHER"))
    users = {"other_patient": patient_with_account(world["site"])[1],
             "other_nurse": UserFactory(role="nurse", sites=[other_site]),
             "other_coordinator": UserFactory(role="coordinator", studies=[other_site.study])}
    url = f"/api/v1/patients/{world['patient'].id}/symptom-reports"
    headers = auth.headers(users[who])
    assert client.post(url, json=report_body(), headers=headers).status_code == 404
    assert client.get(url, headers=headers).status_code == 404


def test_reports_are_listed_newest_first(client, auth, world):
    for days in (3, 1, 2):
        post_report(client, auth, world, report_body(completed_at=_ago(days=days)))
    answer = client.get(f"/api/v1/patients/{world['patient'].id}/symptom-reports", headers=auth.headers(world["nurse"]))
    assert answer.status_code == 200
    completed = [report["completed_at"] for report in answer.get_json()]
    assert completed == sorted(completed, reverse=True) and len(completed) == 3
    assert json.loads(answer.headers["X-Pagination"])["total"] == 3


# --- the message to the patient -----------------------------------------------------------------
@pytest.mark.parametrize("locale, words", [
    pytest.param("en", "contact your care team", id="english"),
    pytest.param("zh-CN", "联系您的医护团队", id="simplified-chinese"),
])
def test_a_report_that_raises_an_alert_tells_the_patient_to_contact_the_care_team(client, auth, db, world,
                                                                                    locale, words):
    world["patient"].locale = locale
    db.session.commit()
    body = report_body(SEVERE_NAUSEA)
    report = post_report(client, auth, world, body).get_json()
    assert report["alerts"]
    assert words in report["message"]
    assert words in post_report(client, auth, world, body).get_json()["message"]  # the replay says it too


def test_a_report_in_the_survey_window_cancels_the_surveys_pending_reminders(client, auth, db):
    """The survey is done: no nudge tomorrow, no call task for the coordinator."""
    from backend.models import Reminder
    from tests.factories_patients import enrol, site_today

    site = SiteFactory(code="SH09")
    patient = enrol(site, first_dose=site_today(site))
    user = UserFactory(role="patient")
    patient.user_id = user.id
    db.session.commit()
    survey = db.session.scalars(sa.select(Event).where(Event.patient_id == patient.id, Event.key == "survey:1")).one()
    pending = sa.select(sa.func.count()).select_from(Reminder).where(
        Reminder.event_id == survey.id, Reminder.status == "scheduled")
    assert db.session.scalar(pending) > 0
    answer = client.post(f"/api/v1/patients/{patient.id}/symptom-reports",
                         json=report_body(completed_at=datetime.now(timezone.utc).isoformat()),
                         headers=auth.headers(user))
    assert answer.status_code == 201, answer.get_json()
    db.session.expire_all()
    assert db.session.get(Event, survey.id).status == "completed"
    assert db.session.scalar(pending) == 0
