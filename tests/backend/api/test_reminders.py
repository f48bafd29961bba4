"""Reminders: planned with the calendar (services/reminders.py) and shown to patients and staff
(CONTRACT.md "Devices and reminders")."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from backend.errors import InvalidInput
from backend.models import AuditRecord, Device, Event, PatientTimezoneChange, Reminder
from backend.models.audit import SYSTEM_ACTOR, current_actor
from backend.services.reminders import (
    change_patient_timezone,
    insert_reminder_rows,
    reminder_policy,
    reminder_rows_for,
    sync_event_reminders,
)
from tests.factories import SiteFactory, StudyFactory, UserFactory, staff_for
from tests.factories_reminders import EventFactory, channels, log_only, patient_with_account  # noqa: F401

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def rows(db, **where):
    stmt = sa.select(Reminder).order_by(Reminder.send_at, Reminder.rule)
    for name, value in where.items():
        stmt = stmt.where(getattr(Reminder, name) == value)
    return list(db.session.scalars(stmt))


def live(db, event):
    return [(r.rule, r.send_at) for r in rows(db, event_id=event.id) if r.status != "cancelled"]


@pytest.fixture()
def patient(db, log_only):
    patient, _user = patient_with_account(site=SiteFactory(timezone="Asia/Shanghai"))
    return patient


def plan(db, patient, *events, now=NOW):
    sync_event_reminders(patient, list(events), now)
    db.session.commit()


# --- planning -----------------------------------------------------------------------------------------------
def test_planning_writes_each_kinds_default_reminders_in_the_patients_zone(db, patient):
    dose = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    survey = EventFactory(patient=patient, kind="symptom_survey", target_date=date(2026, 3, 10),
                          window_end=date(2026, 3, 13))
    scan = EventFactory(patient=patient, kind="tumor_assessment", target_date=date(2026, 3, 20))
    diary = EventFactory(patient=patient, kind="dosing_diary", target_date=date(2026, 3, 10))
    plan(db, patient, dose, survey, scan, diary)

    assert live(db, dose) == [("dose.evening_before", utc(2026, 3, 9, 10, 0)), ("dose.morning_of", utc(2026, 3, 9, 23, 30))]
    assert live(db, survey) == [("survey.open", utc(2026, 3, 10, 1, 0)), ("survey.nudge", utc(2026, 3, 11, 1, 0)),
                                ("survey.call_patient", utc(2026, 3, 13, 1, 0))]
    assert live(db, scan) == [("assessment.days_before", utc(2026, 3, 17, 10, 0)),
                              ("assessment.day_before", utc(2026, 3, 19, 10, 0))]
    assert live(db, diary) == []
    assert {(r.audience, r.channel) for r in rows(db, event_id=survey.id)} == {("patient", "log"), ("staff", "staff")}
    assert {r.status for r in rows(db)} == {"scheduled"}
    assert {r.timezone for r in rows(db)} == {"Asia/Shanghai"}


def test_calling_sync_twice_changes_nothing(db, patient):
    events = [EventFactory(patient=patient, kind=kind, target_date=date(2026, 3, 10))
              for kind in ("dose", "symptom_survey", "tumor_assessment")]
    plan(db, patient, *events)
    before = [(r.id, r.status, r.updated_at) for r in rows(db)]
    plan(db, patient, *events)
    assert [(r.id, r.status, r.updated_at) for r in rows(db)] == before


def test_editing_a_visit_five_times_leaves_exactly_the_reminders_of_its_final_date(db, patient):
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    plan(db, patient, visit)
    for day in (12, 9, 16, 11, 14):
        visit.target_date = date(2026, 3, day)
        db.session.flush()
        plan(db, patient, visit)
    assert live(db, visit) == [("dose.evening_before", utc(2026, 3, 13, 10, 0)), ("dose.morning_of", utc(2026, 3, 13, 23, 30))]
    assert {r.target_date for r in rows(db, event_id=visit.id) if r.status != "cancelled"} == {date(2026, 3, 14)}
    assert len(rows(db, event_id=visit.id, status="cancelled")) == 2 * 5


def test_moving_a_visit_back_to_an_earlier_date_plans_it_again(db, patient):
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    plan(db, patient, visit)
    visit.target_date = date(2026, 3, 12)
    plan(db, patient, visit)
    visit.target_date = date(2026, 3, 10)
    plan(db, patient, visit)
    assert [rule for rule, _ in live(db, visit)] == ["dose.evening_before", "dose.morning_of"]


@pytest.mark.parametrize("kind, status, left", [
    pytest.param("dose", "completed", [], id="completed-visit-no-reminders"),
    pytest.param("dose", "missed", [], id="missed-visit-no-reminders"),
    pytest.param("dose", "held", [], id="held-dose-no-reminders"),
    pytest.param("dose", "cancelled", [], id="cancelled-visit-no-reminders"),
    pytest.param("symptom_survey", "completed", [], id="completed-survey-no-nudge-no-call"),
    pytest.param("symptom_survey", "missed", ["survey.call_patient"], id="missed-survey-still-gets-the-call-task"),
])
def test_an_event_that_is_no_longer_planned_keeps_no_pending_patient_reminder(db, patient, kind, status, left):
    event = EventFactory(patient=patient, kind=kind, target_date=date(2026, 3, 10), window_end=date(2026, 3, 13))
    plan(db, patient, event)
    event.status = status
    plan(db, patient, event)
    assert [rule for rule, _ in live(db, event)] == left


def test_no_reminder_is_planned_for_a_time_already_past(db, patient):
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    plan(db, patient, visit, now=utc(2026, 3, 9, 12, 0))  # 20:00 in Shanghai: the evening reminder has gone
    assert [rule for rule, _ in live(db, visit)] == ["dose.morning_of"]


def test_a_reminder_already_sent_is_not_planned_again(db, patient):
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    plan(db, patient, visit)
    evening = rows(db, rule="dose.evening_before")[0]
    evening.status = "sent"
    db.session.commit()
    plan(db, patient, visit, now=NOW + timedelta(hours=1))
    assert len(rows(db, event_id=visit.id)) == 2
    assert rows(db, rule="dose.evening_before")[0].status == "sent"


def test_the_bulk_enrolment_path_computes_rows_without_the_orm(db, patient):
    event = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    event_like = {"id": event.id, "kind": "dose", "status": "planned", "target_date": date(2026, 3, 10),
                  "window_end": date(2026, 3, 11)}
    computed = reminder_rows_for(patient, event_like, reminder_policy(patient.study), NOW)
    assert [(row["rule"], row["send_at"], row["channel"]) for row in computed] == [
        ("dose.evening_before", utc(2026, 3, 9, 10, 0), "log"), ("dose.morning_of", utc(2026, 3, 9, 23, 30), "log")]
    insert_reminder_rows(computed)
    insert_reminder_rows(reminder_rows_for(patient, event_like, reminder_policy(patient.study), NOW))  # skipped
    db.session.commit()
    assert len(rows(db)) == 2
    plan(db, patient, event)  # the planner agrees with what the bulk path wrote
    assert len(rows(db)) == 2


def test_a_studys_policy_overrides_the_default(db, log_only):
    study = StudyFactory(settings={"reminder_policy": {"rules": {"dose": [
        {"rule": "dose.evening_before", "day": -2, "at": "19:00"}]}}})
    patient, _ = patient_with_account(site=SiteFactory(study=study, timezone="Europe/London"))
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    plan(db, patient, visit)
    assert live(db, visit) == [("dose.evening_before", utc(2026, 3, 8, 19, 0))]


def test_a_broken_policy_is_a_422_naming_the_setting(db, log_only):
    study = StudyFactory(settings={"reminder_policy": {"quiet_hours": "late"}})
    patient, _ = patient_with_account(site=SiteFactory(study=study))
    with pytest.raises(InvalidInput) as caught:
        sync_event_reminders(patient, [EventFactory(patient=patient)], NOW)
    assert caught.value.field == "settings.reminder_policy.quiet_hours"


@pytest.mark.parametrize("device, phone, email, channel", [
    pytest.param(True, "+8613800000000", "p@example.org", "push", id="an-active-device-means-push"),
    pytest.param(False, "+8613800000000", "p@example.org", "sms", id="no-device-but-a-phone-means-sms"),
    pytest.param(False, None, "p@example.org", "email", id="only-an-address-means-email"),
    pytest.param(False, None, None, "log", id="nothing-known-means-log"),
])
def test_the_channel_follows_what_is_known_of_the_patient(db, channels, device, phone, email, channel):
    patient, _ = patient_with_account(phone=phone, email=email)
    if device:
        db.session.add(Device(patient_id=patient.id, platform="ios", token="t" * 64))
        db.session.commit()
    plan(db, patient, EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10)))
    assert {r.channel for r in rows(db)} == {channel}


def test_a_channel_this_deployment_lacks_is_skipped(db, log_only):
    patient, _ = patient_with_account(phone="+447700900000")
    plan(db, patient, EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10)))
    assert {r.channel for r in rows(db)} == {"log"}


# --- time zone changes -----------------------------------------------------------------------------------------
def test_changing_the_patients_zone_replans_pending_reminders_at_the_same_local_time(db, patient):
    nurse = UserFactory(role="nurse", sites=[patient.site])
    first = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 5))
    second = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 12))
    plan(db, patient, first, second)
    sent = rows(db, event_id=first.id, rule="dose.evening_before")[0]
    sent.status = "sent"
    db.session.commit()

    change_patient_timezone(patient, "Europe/London", "moved to London for treatment", NOW, changed_by=nurse.id)
    db.session.commit()  # the caller's service owns the transaction

    assert live(db, second) == [("dose.evening_before", utc(2026, 3, 11, 18, 0)), ("dose.morning_of", utc(2026, 3, 12, 7, 30))]
    assert [(r.rule, r.status, r.timezone) for r in rows(db, event_id=first.id) if r.status != "cancelled"] == [
        ("dose.evening_before", "sent", "Asia/Shanghai"), ("dose.morning_of", "scheduled", "Europe/London")]
    history = db.session.scalars(sa.select(PatientTimezoneChange)).one()
    assert (history.old_timezone, history.new_timezone, history.changed_by, history.reason) == (
        None, "Europe/London", nurse.id, "moved to London for treatment")
    audit = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "patients", AuditRecord.action == "update")).one()
    assert audit.changes["timezone"] == {"before": None, "after": "Europe/London"}
    assert audit.reason == "moved to London for treatment"


def test_clearing_the_patients_zone_falls_back_to_the_sites(db, log_only):
    patient, _ = patient_with_account(site=SiteFactory(timezone="Europe/London"), timezone="America/New_York")
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    plan(db, patient, visit)
    token = current_actor.set(SYSTEM_ACTOR)  # a command or job: no user to name
    try:
        change_patient_timezone(patient, None, "back home", NOW)
        db.session.commit()
    finally:
        current_actor.reset(token)
    assert live(db, visit)[1] == ("dose.morning_of", utc(2026, 3, 10, 7, 30))
    assert [(h.old_timezone, h.changed_by) for h in db.session.scalars(sa.select(PatientTimezoneChange))] == [
        ("America/New_York", None)]


def test_an_unknown_zone_is_refused_naming_the_field(db, patient):
    with pytest.raises(InvalidInput) as caught:
        change_patient_timezone(patient, "Mars/Olympus_Mons", "typo", NOW)
    assert caught.value.field == "timezone"
    assert db.session.scalars(sa.select(PatientTimezoneChange)).all() == []


# --- the HTTP contract -----------------------------------------------------------------------------------------
CONTRACT_KEYS = {"id", "event_id", "channel", "send_at", "status"}


@pytest.fixture()
def world(db, log_only):
    site = SiteFactory(code="SH01", timezone="Asia/Shanghai")
    patient, patient_user = patient_with_account(site=site)
    other, other_user = patient_with_account(site=SiteFactory(code="BJ01"))
    survey = EventFactory(patient=patient, kind="symptom_survey", target_date=date(2026, 3, 10),
                          window_end=date(2026, 3, 13))
    plan(db, patient, survey)
    return {"site": site, "patient": patient, "user": patient_user, "other": other, "other_user": other_user,
            "staff": staff_for(site), "survey": survey}


def test_a_patient_lists_their_own_reminders_without_the_staff_tasks(client, auth, world):
    answer = client.get(f"/api/v1/patients/{world['patient'].id}/reminders", headers=auth.headers(world["user"]))
    assert answer.status_code == 200
    body = answer.get_json()
    assert [item["rule"] for item in body] == ["survey.open", "survey.nudge"]
    assert CONTRACT_KEYS <= set(body[0]) and "last_error" not in body[0]
    assert body[0]["send_at"] == "2026-03-10T01:00:00Z" and body[0]["status"] == "scheduled"
    assert body[0]["event_id"] == str(world["survey"].id)


@pytest.mark.parametrize("role", ["admin", "coordinator", "nurse"])
def test_staff_in_scope_see_every_reminder_with_attempts(client, auth, world, role):
    answer = client.get(f"/api/v1/patients/{world['patient'].id}/reminders", headers=auth.headers(world["staff"][role]))
    assert answer.status_code == 200
    body = answer.get_json()
    assert [(item["rule"], item["audience"]) for item in body][-1] == ("survey.call_patient", "staff")
    assert {"attempts", "last_error", "patient_id"} <= set(body[0])


def test_another_patients_reminders_are_not_found(client, auth, world):
    answer = client.get(f"/api/v1/patients/{world['patient'].id}/reminders", headers=auth.headers(world["other_user"]))
    assert answer.status_code == 404


def test_the_list_filters_by_status_and_shows_sending_as_queued(db, client, auth, world):
    first = rows(db, rule="survey.open")[0]
    first.status = "sending"
    db.session.commit()
    answer = client.get(f"/api/v1/patients/{world['patient'].id}/reminders?status=queued", headers=auth.headers(world["user"]))
    assert [(item["id"], item["status"]) for item in answer.get_json()] == [(str(first.id), "queued")]
    bad = client.get(f"/api/v1/patients/{world['patient'].id}/reminders?status=lost", headers=auth.headers(world["user"]))
    assert bad.status_code == 422


def test_staff_list_a_sites_failed_reminders_page_by_page(db, client, auth, world):
    for reminder in rows(db):
        reminder.status, reminder.last_error = "failed", "gave up after 4 attempt(s): SMS: HTTP 503"
    db.session.commit()
    answer = client.get("/api/v1/sites/SH01/reminders?status=failed&page_size=2", headers=auth.headers(world["staff"]["nurse"]))
    assert answer.status_code == 200
    assert len(answer.get_json()) == 2
    assert '"total": 3' in answer.headers["X-Pagination"]
    item = answer.get_json()[0]
    assert item["subject_id"] == world["patient"].subject_id and item["last_error"].startswith("gave up")
    outsider = UserFactory(role="nurse", sites=[SiteFactory(code="XX01")])
    assert client.get("/api/v1/sites/SH01/reminders", headers=auth.headers(outsider)).status_code == 404


def _receipt(client, auth, user, reminder_id, **body):
    return client.post(f"/api/v1/me/reminders/{reminder_id}/receipt", json=body, headers=auth.headers(user))


@pytest.mark.parametrize("status, answer_status, final", [
    pytest.param("sent", 200, "delivered", id="sent-becomes-delivered"),
    pytest.param("sending", 200, "delivered", id="a-receipt-can-beat-the-sent-mark"),
    pytest.param("failed", 200, "delivered", id="a-receipt-settles-an-ambiguous-failure"),
    pytest.param("delivered", 200, "delivered", id="twice-is-fine"),
    pytest.param("scheduled", 409, "scheduled", id="not-sent-yet-is-a-conflict"),
    pytest.param("cancelled", 409, "cancelled", id="cancelled-is-a-conflict"),
])
def test_a_device_receipt_marks_a_sent_reminder_delivered(db, client, auth, world, status, answer_status, final):
    reminder = rows(db, rule="survey.open")[0]
    reminder.status = status
    db.session.commit()
    answer = _receipt(client, auth, world["user"], reminder.id, received_at="2026-03-10T09:01:00+08:00")
    assert answer.status_code == answer_status
    db.session.refresh(reminder)
    assert reminder.status == final
    if answer_status == 200:
        assert answer.get_json()["status"] == "delivered"
    else:
        assert answer.get_json()["reason"] == "reminder_not_sent"
    if status in ("sent", "sending", "failed"):
        assert reminder.delivered_at == utc(2026, 3, 10, 1, 1)


def test_a_receipt_for_someone_elses_or_a_staff_reminder_is_not_found(db, client, auth, world):
    task = rows(db, rule="survey.call_patient")[0]
    task.status = "sent"
    db.session.commit()
    assert _receipt(client, auth, world["user"], task.id).status_code == 404
    patient_reminder = rows(db, rule="survey.open")[0]
    assert _receipt(client, auth, world["other_user"], patient_reminder.id).status_code == 404
    assert _receipt(client, auth, world["user"], "not-an-id").status_code == 404


def test_events_are_untouched_by_planning(db, patient):
    visit = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    version = visit.version
    plan(db, patient, visit)
    assert db.session.get(Event, visit.id).version == version
