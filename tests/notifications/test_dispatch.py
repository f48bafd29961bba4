"""Dispatch and delivery (notifications/dispatch.py, delivery.py): claims, sending once, retries,
fall-backs, the staff outbox. Real PostgreSQL and Redis; providers are scripted stand-ins."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import redis
import sqlalchemy as sa
from rq import Queue

from backend.models import DeliveryAttempt, Device, Reminder, StaffNotification
from backend.services.notifications import notify_site_staff
from backend.services.reminders import sync_event_reminders
from notifications.channels import PermanentDeliveryError, RecipientGone, TransientDeliveryError
from notifications.delivery import RetryPolicy, deliver_reminder_batch
from notifications.dispatch import REMINDER_QUEUE, claim_due_reminders, dispatch_due, dispatch_due_in_process
from notifications.messages import render
from tests.factories import SiteFactory, UserFactory
from tests.factories_reminders import EventFactory, channels, patient_with_account  # noqa: F401

PLANNED_AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
LATER = datetime(2026, 3, 20, tzinfo=timezone.utc)  # everything planned for early March is due


@pytest.fixture()
def fast_retries(app):
    """Three attempts in all, no waiting between them (REMINDER_RETRY_INTERVALS=0,0)."""
    previous = app.config["REMINDER_RETRY_INTERVALS"]
    app.config["REMINDER_RETRY_INTERVALS"] = [0, 0]
    yield
    app.config["REMINDER_RETRY_INTERVALS"] = previous


def reminders(db, **where):
    stmt = sa.select(Reminder).order_by(Reminder.send_at, Reminder.rule)
    for name, value in where.items():
        stmt = stmt.where(getattr(Reminder, name) == value)
    db.session.expire_all()
    return list(db.session.scalars(stmt))


def attempts(db, reminder):
    return [a.outcome for a in db.session.scalars(
        sa.select(DeliveryAttempt).where(DeliveryAttempt.reminder_id == reminder.id).order_by(DeliveryAttempt.id))]


def planned_visit(db, patient, kind="dose", day=date(2026, 3, 10), **fields):
    event = EventFactory(patient=patient, kind=kind, target_date=day, **fields)
    sync_event_reminders(patient, [event], PLANNED_AT)
    db.session.commit()
    return event


def test_due_reminders_are_sent_once_in_the_patients_language(db, channels):
    patient, _ = patient_with_account(locale="zh-CN", phone="+8613800000000")
    visit = planned_visit(db, patient)
    report = dispatch_due_in_process(LATER)
    assert (report.reminders_claimed, report.delivered.sent) == (2, 2)
    evening, morning = channels["sms"].sent
    expected = render("reminder.dose.evening_before", "zh-CN", date=date(2026, 3, 10), time=datetime(2026, 1, 1, 9).time())
    assert (evening.title, evening.body) == (expected.title, expected.body)
    assert evening.body == "您明天（3月10日 周二）09:00 有门诊就诊安排。详情请打开 Cadence 查看。"
    assert evening.recipient == "+8613800000000"
    first = reminders(db, rule="dose.evening_before")[0]
    assert evening.data == {"reminder_id": str(first.id), "event_id": str(visit.id)}
    assert [(r.status, r.channel, r.attempts) for r in reminders(db)] == [("sent", "sms", 1)] * 2
    assert attempts(db, first) == ["sent"]
    assert dispatch_due_in_process(LATER + timedelta(days=1)).reminders_claimed == 0
    assert len(channels["sms"].sent) == 2


def test_nothing_is_sent_before_its_time(db, channels):
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    just_before_evening = datetime(2026, 3, 9, 9, 59, tzinfo=timezone.utc)  # 17:59 in Shanghai
    assert dispatch_due_in_process(just_before_evening).reminders_claimed == 0
    assert dispatch_due_in_process(just_before_evening + timedelta(minutes=1)).reminders_claimed == 1


@pytest.mark.parametrize("status", ["completed", "cancelled", "held"])
def test_no_reminder_is_sent_for_an_event_that_is_no_longer_planned(db, channels, status):
    """The delivery job re-checks the event even when the planner was not told."""
    patient, _ = patient_with_account()
    visit = planned_visit(db, patient)
    visit.status = status
    db.session.commit()
    report = dispatch_due_in_process(LATER)
    assert report.delivered.cancelled == 2 and report.delivered.sent == 0
    assert {r.status for r in reminders(db)} == {"cancelled"}
    assert channels["log"].sent == []


def test_a_gone_push_token_is_retired_and_the_reminder_falls_back_to_sms(db, channels):
    patient, _ = patient_with_account(phone="+447700900000")
    db.session.add(Device(patient_id=patient.id, platform="android", token="stale-token"))
    db.session.commit()
    planned_visit(db, patient)
    channels["push"].outcomes = [RecipientGone("FCM: HTTP 404 UNREGISTERED")]
    dispatch_due_in_process(LATER)
    device = db.session.scalars(sa.select(Device)).one()
    assert device.retired_at is not None and "UNREGISTERED" in device.retired_reason
    first, second = reminders(db)
    assert (first.status, first.channel, attempts(db, first)) == ("sent", "sms", ["recipient_gone", "sent"])
    assert (second.status, second.channel, attempts(db, second)) == ("sent", "sms", ["sent"])  # no push tried again


def test_a_gone_push_token_with_no_other_route_fails_the_reminder(db, channels):
    patient, _ = patient_with_account()
    db.session.add(Device(patient_id=patient.id, platform="ios", token="gone-token"))
    db.session.commit()
    planned_visit(db, patient)
    channels["push"].outcomes = [RecipientGone("APNs: HTTP 410 Unregistered")]
    dispatch_due_in_process(LATER)
    first, second = reminders(db)
    assert (first.status, attempts(db, first)) == ("failed", ["recipient_gone", "no_route"])
    assert (second.status, second.channel) == ("sent", "log")  # no device left: the log channel
    assert channels["log"].sent[0].recipient == f"patient:{patient.id}"


def test_a_transient_failure_is_retried_after_its_back_off(db, channels, fast_retries):
    patient, _ = patient_with_account(phone="+8613800000000")
    planned_visit(db, patient)
    channels["sms"].outcomes = [TransientDeliveryError("SMS: HTTP 503", retry_after=30)]
    first = dispatch_due_in_process(LATER)
    assert first.delivered.sent == 1 and len(first.delivered.retrying) == 1
    waiting = reminders(db, status="queued")[0]
    assert waiting.last_error == "SMS: HTTP 503 (retry after 30s)"
    dispatch_due_in_process(LATER + timedelta(seconds=1))  # our back-off is over, the provider's is not
    assert attempts(db, waiting) == ["transient"]
    dispatch_due_in_process(LATER + timedelta(seconds=31))  # Retry-After: 30 honoured
    assert attempts(db, waiting) == ["transient", "sent"]
    assert {r.status for r in reminders(db)} == {"sent"}


def test_a_reminder_that_keeps_failing_transiently_fails_after_the_last_retry(db, channels, fast_retries):
    patient, _ = patient_with_account(phone="+8613800000000")
    planned_visit(db, patient, kind="tumor_assessment")
    channels["sms"].outcomes = [TransientDeliveryError("SMS: timed out")] * 6
    for second in range(5):
        dispatch_due_in_process(LATER + timedelta(seconds=second))
    for reminder in reminders(db):
        assert reminder.status == "failed" and reminder.attempts == 3
        assert reminder.last_error.startswith("gave up after 3 attempt(s)")
        assert attempts(db, reminder) == ["transient"] * 3


def test_a_permanent_error_fails_at_once(db, channels):
    patient, _ = patient_with_account(email="p@example.org")
    planned_visit(db, patient)
    channels["email"].outcomes = [PermanentDeliveryError("SMTP: 550 mailbox unavailable")]
    dispatch_due_in_process(LATER)
    failed = reminders(db, status="failed")
    assert len(failed) == 1 and attempts(db, failed[0]) == ["permanent"]


def test_a_delivery_job_that_runs_twice_sends_once(app, db, channels):
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    (claim,) = claim_due_reminders(LATER)
    retry = RetryPolicy.from_config(queued_by_rq=True)
    assert deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry).sent == 2
    assert deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry).skipped == 2
    assert len(channels["log"].sent) == 2


def test_a_stale_job_of_an_earlier_claim_sends_nothing(app, db, channels):
    """The lease ran out and the rows were claimed again: only the newest claim may send them."""
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    (old,) = claim_due_reminders(LATER)
    (new,) = claim_due_reminders(LATER + timedelta(seconds=app.config["REMINDER_LEASE_SECONDS"] + 1))
    assert set(old.ids) == set(new.ids)
    retry = RetryPolicy.from_config(queued_by_rq=True)
    assert deliver_reminder_batch(old.claim_id, old.ids, retry=retry).skipped == 2
    assert deliver_reminder_batch(new.claim_id, new.ids, retry=retry).sent == 2
    assert len(channels["log"].sent) == 2


def test_a_reminder_left_in_flight_by_a_dead_worker_is_failed_not_resent(app, db, channels):
    """Never twice: the ambiguous case is recorded for staff instead of being sent again."""
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    claim_due_reminders(LATER)
    stuck = reminders(db)[0]
    stuck.status, stuck.lease_until = "sending", LATER + timedelta(minutes=5)
    db.session.commit()
    report = dispatch_due_in_process(LATER + timedelta(minutes=6))
    assert report.ambiguous == 1
    stuck = reminders(db, id=stuck.id)[0]
    assert stuck.status == "failed" and stuck.last_error.startswith("ambiguous")
    assert attempts(db, stuck) == ["ambiguous"]
    assert len(channels["log"].sent) == 1  # only the other reminder


def test_claims_never_overlap(app, db, channels):
    patient, _ = patient_with_account()
    for day in range(5, 10):
        planned_visit(db, patient, day=date(2026, 3, day))
    first = claim_due_reminders(LATER, batch_size=3)
    second = claim_due_reminders(LATER)
    assert [len(c.ids) for c in first] == [3, 3, 3, 1] and second == []
    assert len({i for c in first for i in c.ids}) == 10


# --- the survey call task and the staff outbox ----------------------------------------------------------------
def test_an_unfinished_survey_becomes_a_call_task_for_the_coordinators(db, channels):
    site = SiteFactory(code="SH01")
    coordinator = UserFactory(role="coordinator", studies=[site.study], email="coord@example.org")
    UserFactory(role="coordinator", studies=[site.study])  # no address: the log channel
    patient, _ = patient_with_account(site=site)
    planned_visit(db, patient, kind="symptom_survey", window_end=date(2026, 3, 12))

    dispatch_due_in_process(LATER)

    task = reminders(db, rule="survey.call_patient")[0]
    assert (task.status, task.channel) == ("sent", "staff")
    outbox = list(db.session.scalars(sa.select(StaffNotification).order_by(StaffNotification.channel)))
    assert {(n.message_key, n.status) for n in outbox} == {("staff.survey_call_patient", "sent")}
    assert {n.params["deadline"] for n in outbox} == {"2026-03-12"}
    (mail,) = channels["email"].sent
    assert mail.recipient == coordinator.email and patient.subject_id in mail.title
    assert "3月12日" in mail.body  # a Chinese site reads Chinese, the date formatted for it
    assert [m.recipient for m in channels["log"].sent if m.recipient.startswith("user:")] != []


def test_a_completed_survey_makes_no_call_task(db, channels):
    site = SiteFactory()
    UserFactory(role="coordinator", studies=[site.study])
    patient, _ = patient_with_account(site=site)
    survey = planned_visit(db, patient, kind="symptom_survey", window_end=date(2026, 3, 12))
    survey.status = "completed"
    db.session.commit()
    dispatch_due_in_process(LATER)
    assert db.session.scalars(sa.select(StaffNotification)).all() == []
    assert {r.status for r in reminders(db)} == {"cancelled"}


def test_messages_other_services_put_in_the_staff_outbox_are_delivered(db, channels):
    site = SiteFactory(code="LDN01", timezone="Europe/London", country="GB")
    nurse = UserFactory(role="nurse", sites=[site], email="nurse@example.org")
    notify_site_staff(site, "nurse", "staff.pfs_at_risk", {"subject_id": "S-001", "deadline": "2026-04-02"},
                      dedupe_key="pfs:S-001", send_at=PLANNED_AT)
    db.session.commit()
    report = dispatch_due_in_process(LATER)
    assert report.staff_claimed == 1
    (mail,) = channels["email"].sent
    assert mail.recipient == nurse.email and "Thu 2 Apr" in mail.body
    outbox = db.session.scalars(sa.select(StaffNotification)).one()
    assert (outbox.status, outbox.attempts, outbox.channel) == ("sent", 1, "email")


# --- through Redis ---------------------------------------------------------------------------------------------
def test_dispatch_enqueues_one_job_per_claim_with_deterministic_ids(app, db, channels):
    patient, _ = patient_with_account()
    for day in range(5, 8):
        planned_visit(db, patient, day=date(2026, 3, day))
    app.config["REMINDER_BATCH_SIZE"] = 4
    try:
        report = dispatch_due(LATER)
    finally:
        app.config["REMINDER_BATCH_SIZE"] = 100
    assert (report.reminders_claimed, report.jobs_enqueued, report.redis_down) == (6, 2, False)
    queue = Queue(REMINDER_QUEUE, connection=redis.Redis.from_url(app.config["REDIS_URL"]))
    claim_ids = {str(r.claim_id) for r in reminders(db)}
    assert set(queue.job_ids) == {f"reminders-{claim_id}" for claim_id in claim_ids}
    job = queue.fetch_job(f"reminders-{sorted(claim_ids)[0]}")
    assert job.func_name == "notifications.jobs.deliver_reminders" and job.retries_left == 3
    assert {r.status for r in reminders(db)} == {"queued"}


def test_with_redis_down_dispatch_claims_nothing_and_says_so(app, db, channels):
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    report = dispatch_due(LATER, connection=dead)
    assert report.redis_down and report.reminders_claimed == 0
    assert {r.status for r in reminders(db)} == {"scheduled"}


def test_a_full_queue_pauses_claiming(app, db, channels):
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    connection = redis.Redis.from_url(app.config["REDIS_URL"])
    queue = Queue(REMINDER_QUEUE, connection=connection)
    app.config["REMINDER_MAX_QUEUED_JOBS"] = 1
    try:
        queue.enqueue("notifications.jobs.deliver_reminders", str(uuid.uuid4()), [])
        report = dispatch_due(LATER)
    finally:
        app.config["REMINDER_MAX_QUEUED_JOBS"] = 500
    assert report.backlog and report.reminders_claimed == 0


def test_the_cli_dispatches_in_process(runner, db, channels):
    patient, _ = patient_with_account()
    EventFactory(patient=patient, kind="dose", target_date=date.today() + timedelta(days=1))
    result = runner.invoke(args=["reminders", "dispatch", "--in-process"])
    assert result.exit_code == 0, result.output
    assert "claimed" in result.output


def test_a_row_another_dispatcher_holds_is_skipped_not_waited_for(app, db, channels):
    """FOR UPDATE SKIP LOCKED: dispatchers on other machines never claim (or block on) the same row."""
    patient, _ = patient_with_account()
    planned_visit(db, patient)
    first_id = reminders(db)[0].id
    with db.engine.connect() as other:  # another dispatcher, mid-claim
        other.execute(sa.text("SELECT id FROM reminders WHERE id = :id FOR UPDATE"), {"id": first_id})
        (claim,) = claim_due_reminders(LATER)
        assert first_id not in claim.ids and len(claim.ids) == 1
        other.rollback()
    (later,) = claim_due_reminders(LATER)
    assert later.ids == (first_id,)


def test_staff_accounts_carry_the_address_staff_messages_go_to(db, client, auth):
    from tests.factories import StudyFactory

    admin = UserFactory(role="admin")
    StudyFactory(code="ST")
    answer = client.post("/api/v1/users", json={"username": "coord2", "password": "long enough pw", "role": "coordinator",
                                                "studies": ["ST"], "email": "coord2@example.org"},
                         headers=auth.headers(admin))
    assert answer.status_code == 201 and answer.get_json()["email"] == "coord2@example.org"
    bad = client.post("/api/v1/users", json={"username": "coord3", "password": "long enough pw", "role": "coordinator",
                                             "email": "not an address"}, headers=auth.headers(admin))
    assert bad.status_code == 422 and "email" in bad.get_json()["errors"]["json"]
