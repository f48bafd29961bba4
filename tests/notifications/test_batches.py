"""Batched delivery (notifications/delivery.py, journal.py): a batch is marked `sending` and recorded in
one transaction each, and a worker that dies anywhere in between leaves at most one reminder in doubt —
the rest are recorded sent or sent later, once. Real PostgreSQL and Redis; the provider is scripted and
"dies" by raising an exception no handler catches, as a killed worker would stop."""
import signal
import threading
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
import redis
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from backend.models import DeliveryAttempt, Reminder
from backend.services.reminders import sync_event_reminders
from notifications import worker
from notifications.channels import PermanentDeliveryError, TransientDeliveryError
from notifications.delivery import RetryPolicy, deliver_reminder_batch
from notifications.delivery_tx import DeliveryTx
from notifications.dispatch import REMINDER_QUEUE, claim_due_reminders, dispatch_due, settle_in_flight
from notifications.journal import DeliveryJournal
from tests.factories_reminders import EventFactory, channels, patient_with_account  # noqa: F401

PLANNED_AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
LATER = datetime(2026, 3, 20, tzinfo=timezone.utc)


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing in the job catches it, nothing after it runs."""


@pytest.fixture()
def journal(app):
    return DeliveryJournal(redis.Redis.from_url(app.config["REDIS_URL"]))


def batch_of(db, size: int):
    """`size` due reminders (two per dosing visit) of one patient, claimed as one batch."""
    patient, _ = patient_with_account()
    events = [EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 2 + day)) for day in range(size // 2)]
    sync_event_reminders(patient, events, PLANNED_AT)
    db.session.commit()
    (claim,) = claim_due_reminders(LATER)
    assert len(claim.ids) == size
    return claim


def dying_at(channel, call: int):
    """The provider call number `call` never returns: the worker dies while the provider has it."""
    send = channel.send

    def send_or_die(message):
        if channel.tried + 1 == call:
            channel.tried += 1
            raise WorkerDied()
        return send(message)

    channel.send = send_or_die


def run_until_death(db, claim, journal):
    retry = RetryPolicy.from_config(queued_by_rq=True)
    with pytest.raises(WorkerDied):
        deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry, clock=lambda: LATER, journal=journal)
    db.session.rollback()  # PostgreSQL rolls back what the dead connection had not committed


def state(db):
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Reminder).order_by(Reminder.send_at, Reminder.id)).all()
    attempts: dict = {}
    for attempt in db.session.scalars(sa.select(DeliveryAttempt).order_by(DeliveryAttempt.id)):
        attempts.setdefault(attempt.reminder_id, []).append(attempt.outcome)
    return [(row.id, row.status, attempts.get(row.id, [])) for row in rows]


def sent_counts(channel) -> Counter:
    return Counter(message.data["reminder_id"] for message in channel.sent)


def deliver_the_rest(db, journal, at: datetime):
    """The next tick after the lease: settle, claim again, send."""
    retry = RetryPolicy.from_config(queued_by_rq=True)
    ambiguous = settle_in_flight(at, lambda: journal)
    for claim in claim_due_reminders(at):
        deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry, clock=lambda: at, journal=journal)
    return ambiguous


AFTER_LEASE = LATER + timedelta(hours=1)


def test_a_worker_dying_during_a_provider_call_leaves_only_that_reminder_in_doubt(db, channels, journal):
    claim = batch_of(db, 8)
    dying_at(channels["log"], call=4)
    run_until_death(db, claim, journal)
    assert {status for _, status, _ in state(db)} == {"sending"}  # PostgreSQL alone cannot tell them apart

    assert deliver_the_rest(db, journal, AFTER_LEASE) == 1
    rows = state(db)
    in_doubt = rows[3]
    assert in_doubt[1:] == ("failed", ["ambiguous"])  # handed to the provider, no answer: never resent
    for reminder_id, status, attempts in rows[:3] + rows[4:]:
        assert (status, attempts) == ("sent", ["sent"]), reminder_id
    assert sent_counts(channels["log"]) == Counter({str(rid): 1 for rid, _, _ in rows[:3] + rows[4:]})


def test_a_worker_dying_after_its_last_send_but_before_recording_loses_and_repeats_nothing(db, channels, journal,
                                                                                           monkeypatch):
    claim = batch_of(db, 6)
    commit = DeliveryTx.commit

    def die_before_recording(self):
        if any(outcome["p_status"] == "sent" for outcome in self.outcomes):
            raise WorkerDied()
        commit(self)

    monkeypatch.setattr(DeliveryTx, "commit", die_before_recording)
    run_until_death(db, claim, journal)
    monkeypatch.setattr(DeliveryTx, "commit", commit)
    assert len(channels["log"].sent) == 6

    assert deliver_the_rest(db, journal, AFTER_LEASE) == 0  # the journal has every result
    assert [(status, attempts) for _, status, attempts in state(db)] == [("sent", ["sent"])] * 6
    assert set(sent_counts(channels["log"]).values()) == {1}


def test_a_worker_dying_at_its_first_provider_call_sends_the_others_later_once(db, channels, journal):
    claim = batch_of(db, 4)
    dying_at(channels["log"], call=1)
    run_until_death(db, claim, journal)

    assert deliver_the_rest(db, journal, AFTER_LEASE) == 1
    rows = state(db)
    assert [(status, attempts) for _, status, attempts in rows] == [("failed", ["ambiguous"])] + [("sent", ["sent"])] * 3
    assert rows[1][0] and all(n == 1 for n in sent_counts(channels["log"]).values())


def test_without_its_journal_a_stranded_batch_is_ambiguous_not_resent(db, channels, journal):
    """Redis lost the journal (flushed, restarted without persistence): never twice over never lost."""
    claim = batch_of(db, 4)
    dying_at(channels["log"], call=3)
    run_until_death(db, claim, journal)
    journal.connection.delete(journal.key(claim.claim_id))

    assert deliver_the_rest(db, journal, AFTER_LEASE) == 4
    assert {(status, tuple(attempts)) for _, status, attempts in state(db)} == {("failed", ("ambiguous",))}
    assert len(channels["log"].sent) == 2  # nothing more


def test_a_job_that_outlives_its_lease_stops_at_the_fence(app, db, channels, journal):
    """The dispatcher settles the batch while the job is still sending: the job's next message is not
    sent and what it records later changes nothing the dispatcher decided."""
    claim = batch_of(db, 6)
    send = channels["log"].send

    def settled_meanwhile(message):
        result = send(message)
        if channels["log"].tried == 2:  # the dispatcher's tick runs, in another thread, after this send
            def tick():
                with app.app_context():
                    settle_in_flight(AFTER_LEASE, lambda: journal)

            thread = threading.Thread(target=tick)
            thread.start()
            thread.join()
        return result

    channels["log"].send = settled_meanwhile
    retry = RetryPolicy.from_config(queued_by_rq=True)
    outcome = deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry, clock=lambda: LATER, journal=journal)
    assert outcome.sent == 2 and len(channels["log"].sent) == 2
    rows = state(db)
    # The first send's result reached the journal; the second was in flight when it was fenced.
    assert [(status, attempts) for _, status, attempts in rows[:2]] == [("sent", ["sent"]), ("failed", ["ambiguous"])]
    assert {status for _, status, _ in rows[2:]} == {"scheduled"}

    deliver_the_rest(db, journal, AFTER_LEASE)
    assert [(status, attempts) for _, status, attempts in state(db)[2:]] == [("sent", ["sent"])] * 4
    assert set(sent_counts(channels["log"]).values()) == {1}


def test_a_batch_costs_one_sending_mark_and_one_set_based_record_statement_each(db, channels, journal):
    claim = batch_of(db, 10)
    statements: list[tuple[str, bool]] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement.split()[0], executemany))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        retry = RetryPolicy.from_config(queued_by_rq=True)
        deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry, clock=lambda: LATER, journal=journal)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert Counter(statements) == Counter({("SELECT", False): 3, ("UPDATE", False): 2, ("INSERT", False): 1})
    assert [(status, attempts) for _, status, attempts in state(db)] == [("sent", ["sent"])] * 10
    assert journal.connection.exists(journal.key(claim.claim_id)) == 0  # deleted once the outcomes are committed


# --- Retry-After under RQ --------------------------------------------------------------------------------------
def test_rq_retries_a_batch_no_sooner_than_the_providers_retry_after(app, db, channels):
    patient, _ = patient_with_account(phone="+8613800000000")
    event = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    sync_event_reminders(patient, [event], PLANNED_AT)
    db.session.commit()
    channels["sms"].outcomes = [TransientDeliveryError("SMS: HTTP 429", retry_after=600)]
    previous = app.config["REMINDER_RETRY_INTERVALS"]
    app.config["REMINDER_RETRY_INTERVALS"] = [5, 5]
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert dispatch_due(LATER).jobs_enqueued == 1
        before = datetime.now(timezone.utc)
        worker.run(app, queues=[REMINDER_QUEUE], burst=True, with_cron=False, simple=True)  # RQ, in this process
    finally:
        app.config["REMINDER_RETRY_INTERVALS"] = previous
        for number, handler in handlers.items():  # the worker installed its own
            signal.signal(number, handler)
    connection = redis.Redis.from_url(app.config["REDIS_URL"])
    registry = ScheduledJobRegistry(REMINDER_QUEUE, connection=connection)
    (job_id,) = registry.get_job_ids()
    delay = registry.get_scheduled_time(job_id) - before
    assert timedelta(seconds=595) <= delay < timedelta(seconds=660)  # not the 5 s back-off (RQ keeps whole seconds)
    assert channels["sms"].tried == 2 and len(channels["sms"].sent) == 1  # the other reminder went out


def test_refusals_journalled_before_a_worker_died_settle_as_the_worker_would_have(db, channels, journal):
    """A permanent refusal fails its reminder; a transient one waits its back-off: neither is sent again
    on the next tick (before this, both went straight back to the provider)."""
    claim = batch_of(db, 8)
    channels["log"].outcomes = [None, TransientDeliveryError("provider busy"), PermanentDeliveryError("bad token")]
    dying_at(channels["log"], call=5)
    run_until_death(db, claim, journal)

    assert deliver_the_rest(db, journal, AFTER_LEASE) == 1
    rows = state(db)
    assert [(status, attempts) for _, status, attempts in rows[:5]] == [
        ("sent", ["sent"]), ("queued", ["transient"]), ("failed", ["permanent"]), ("sent", ["sent"]),
        ("failed", ["ambiguous"])]
    for _, status, attempts in rows[5:]:
        assert (status, attempts) == ("sent", ["sent"])
    waiting = db.session.get(Reminder, rows[1][0])
    assert waiting.lease_until > AFTER_LEASE  # due again after its back-off, not at once
    assert str(rows[1][0]) not in sent_counts(channels["log"])


def test_a_batch_in_flight_is_leased_for_every_provider_call_at_its_timeout(app, db, channels, journal):
    claim = batch_of(db, 8)
    dying_at(channels["log"], call=2)
    run_until_death(db, claim, journal)

    budget = app.config["REMINDER_LEASE_SECONDS"] + 8 * RetryPolicy.from_config(queued_by_rq=True).call_timeout
    leases = {row.lease_until for row in db.session.scalars(sa.select(Reminder).where(Reminder.status == "sending"))}
    assert leases == {LATER + timedelta(seconds=budget)}
    assert settle_in_flight(LATER + timedelta(seconds=budget - 1), lambda: journal) == 0  # not yet settled


@pytest.mark.parametrize(("messages", "queued_by_rq", "lease"), [
    pytest.param(8, True, 300 + 8 * 10, id="every-call-at-its-timeout"),
    pytest.param(200, True, 300 + 600, id="no-longer-than-rq-lets-the-job-run"),
    pytest.param(200, False, 300 + 200 * 10, id="in-process-every-call"),
])
def test_a_sending_batch_is_leased_for_its_calls_but_never_past_the_jobs_timeout(app, messages, queued_by_rq, lease):
    policy = RetryPolicy((60,), lease_seconds=300, queued_by_rq=queued_by_rq, call_timeout=10.0,
                         job_timeout=600.0 if queued_by_rq else None)
    assert policy.sending_lease(messages) == lease


# --- what a batch's record statement may write -----------------------------------------------------------------
def marked_sending(db, size: int):
    claim = batch_of(db, size)
    db.session.execute(sa.update(Reminder).where(Reminder.id.in_(claim.ids)).values(status="sending", attempts=1))
    db.session.commit()
    return claim


def recorded_sent(db, claim_id, reminder_ids) -> None:
    tx = DeliveryTx(db.session, claim_id)
    for reminder_id in reminder_ids:
        tx.record(reminder_id=reminder_id, channel="log", outcome="sent", at=LATER, provider_message_id=f"m-{reminder_id}")
        tx.outcome(reminder_id, "sent", now=LATER, channel="log", provider_message_id=f"m-{reminder_id}")
    tx.commit()


def test_recording_a_batch_keeps_a_receipt_that_came_first_and_leaves_rows_the_dispatcher_settled(db, channels):
    claim = marked_sending(db, 4)
    first, received, settled, last = claim.ids
    db.session.execute(sa.update(Reminder).where(Reminder.id == received).values(status="delivered"))
    db.session.execute(sa.update(Reminder).where(Reminder.id == settled).values(status="failed", claim_id=None))
    db.session.commit()

    recorded_sent(db, claim.claim_id, claim.ids)

    by_id = {reminder_id: (status, attempts) for reminder_id, status, attempts in state(db)}
    assert by_id == {first: ("sent", ["sent"]), received: ("delivered", ["sent"]), settled: ("failed", []),
                     last: ("sent", ["sent"])}
    assert db.session.get(Reminder, received).provider_message_id == f"m-{received}"


def test_a_late_job_of_an_older_claim_records_nothing(db, channels):
    claim = marked_sending(db, 2)
    recorded_sent(db, uuid.uuid4(), claim.ids)
    assert [(status, attempts) for _, status, attempts in state(db)] == [("sending", [])] * 2


def test_two_outcomes_of_one_row_in_one_record_apply_in_order(db, channels):
    claim = marked_sending(db, 2)
    handed_back, _ = claim.ids
    tx = DeliveryTx(db.session, claim.claim_id)
    tx.outcome(handed_back, "queued", now=LATER, lease_until=LATER, attempts=-1, error="handed back unsent")
    tx.outcome(handed_back, "failed", now=LATER, was="queued", error="message: no such key")
    tx.commit()
    row = db.session.get(Reminder, handed_back)
    db.session.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("failed", 0, "message: no such key")


def test_a_naive_instant_is_refused_before_anything_is_buffered(db, channels):
    tx = DeliveryTx(db.session, uuid.uuid4())
    with pytest.raises(ValueError, match="timezone-aware"):
        tx.outcome(uuid.uuid4(), "sent", now=datetime(2026, 3, 20, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        tx.record(reminder_id=uuid.uuid4(), channel="log", outcome="sent", at=datetime(2026, 3, 20, 9, 0))
    assert tx.outcomes == [] and tx.attempts == []
