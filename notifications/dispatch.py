"""The dispatcher: claim what is due in the database, hand it to RQ in batches.

It runs as the last task of the periodic tick (notifications/periodic.py), or alone from
`flask reminders dispatch`. One run:

1. settles batches stuck in `sending` past their lease from their delivery journal (notifications/
   journal.py): sent rows are recorded sent, rows never handed to a provider are due again, and the one
   a provider may or may not have got is `failed` + an `ambiguous` attempt (notifications/delivery.py
   explains why it is not resent);
2. claims due rows — `scheduled` with `send_at <= now`, or `queued` whose lease ran out (their job was
   lost: Redis flushed, worker killed) — with `SELECT ... FOR UPDATE SKIP LOCKED`, so dispatchers on
   several machines never claim the same row; each batch of REMINDER_BATCH_SIZE rows gets a claim id
   and a lease (REMINDER_LEASE_SECONDS) and is committed as `queued`;
3. enqueues one delivery job per claim with `Queue.enqueue_many` (built with `Queue.prepare_data`),
   job id `reminders-<claim id>` and `Retry(max=len(REMINDER_RETRY_INTERVALS), interval=...)`.

Only the database is needed to plan reminders. When Redis is down the tick claims nothing (or hands
its claims back at once if Redis fails in between) and says so; the rows stay due and the next tick
after Redis returns sends them, once. Without RQ at all, `dispatch_due_in_process(now)` claims and
sends synchronously. The staff outbox (`staff_notifications`) goes through the same steps with its own
job (`deliver_staff_notifications`).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from flask import current_app
from rq import Queue, Retry

from backend.extensions import db
from backend.models import DeliveryAttempt, Reminder, StaffNotification
from backend.models.base import utcnow
from notifications.delivery import BatchOutcome, RetryPolicy, deliver_reminder_batch
from notifications.delivery_staff import deliver_staff_batch
from notifications.journal import DeliveryJournal, Entry

log = logging.getLogger(__name__)

REMINDER_QUEUE = "reminders"
DISPATCH_QUEUE = "dispatch"


@dataclass(frozen=True)
class Claim:
    claim_id: uuid.UUID
    ids: tuple[uuid.UUID, ...]


@dataclass
class DispatchReport:
    reminders_claimed: int = 0
    staff_claimed: int = 0
    jobs_enqueued: int = 0
    ambiguous: int = 0
    redis_down: bool = False
    backlog: bool = False
    delivered: BatchOutcome = field(default_factory=BatchOutcome)  # in-process dispatch only

    def summary(self) -> str:
        parts = [f"{self.reminders_claimed} reminder(s) and {self.staff_claimed} staff message(s) claimed",
                 f"{self.jobs_enqueued} job(s) enqueued"]
        if self.ambiguous:
            parts.append(f"{self.ambiguous} ambiguous send(s) marked failed")
        if self.backlog:
            parts.append("reminder queue full: claiming paused")
        if self.redis_down:
            parts.append("Redis is unavailable: due messages stay in the database for the next run")
        return "; ".join(parts)


# --- Redis --------------------------------------------------------------------------------------------
def rq_connection() -> redis.Redis:
    """Redis for enqueueing, with a short connect timeout so an outage costs little."""
    client = current_app.extensions.get("cadence.rq_redis")
    if client is None:
        timeout = float(current_app.config["REDIS_SOCKET_TIMEOUT_SECONDS"])
        client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=timeout,
                                      socket_timeout=max(timeout, 5.0))
        current_app.extensions["cadence.rq_redis"] = client
    return client


def retry_for_jobs() -> Retry | None:
    intervals = list(current_app.config["REMINDER_RETRY_INTERVALS"])
    return Retry(max=len(intervals), interval=intervals) if intervals else None


# --- claiming --------------------------------------------------------------------------------------------
AMBIGUOUS_ERROR = "ambiguous: the worker stopped while the provider had the message; not resent (never twice)"


def settle_in_flight(now: datetime, journal: Callable[[], DeliveryJournal | None]) -> int:
    """Rows left `sending` past their lease: their job stopped (or outlived its lease) between marking
    them and recording what came of them. The claim's delivery journal, fenced first so a job still
    running stops, says what happened to each (notifications/journal.py): sent rows are recorded sent,
    rows never handed to a provider or refused by it are due again, and the one in flight — or every
    row, when there is no journal to read — is failed with an `ambiguous` attempt (never twice).
    `journal` is called only when there is something to settle. Returns the number of ambiguous rows."""
    rows = db.session.execute(
        sa.select(Reminder.id, Reminder.claim_id, Reminder.attempts)
        .where(Reminder.status == "sending", Reminder.lease_until < now).with_for_update(skip_locked=True)).all()
    if not rows:
        db.session.commit()
        return 0
    reader = journal()
    entries: dict[uuid.UUID | None, dict | None] = {}
    for claim_id in {row.claim_id for row in rows}:
        try:
            entries[claim_id] = reader.fence(claim_id) if reader is not None and claim_id else None
        except redis.RedisError as error:
            log.warning("delivery journal of claim %s unreadable, its rows are ambiguous: %s", claim_id, error)
            entries[claim_id] = None
    ambiguous = 0
    retry = RetryPolicy.from_config(queued_by_rq=False)
    for row in rows:
        found = entries[row.claim_id]
        entry = found.get((str(row.id), row.attempts)) if found is not None else Entry("start")
        values: dict[str, Any] = {"claim_id": None, "lease_until": None, "updated_at": now}
        if entry is None:  # never handed to a provider
            values.update(status="scheduled", attempts=Reminder.attempts - 1)
        elif entry.kind == "sent":
            values.update(status="sent", channel=entry.channel, sent_at=now, last_error=None,
                          provider_message_id=entry.provider_message_id)
            db.session.add(DeliveryAttempt(reminder_id=row.id, at=now, channel=entry.channel, outcome="sent",
                                           provider_message_id=entry.provider_message_id,
                                           error="recorded from the delivery journal: the worker stopped"))
        elif entry.kind == "unsent":  # as the worker would have recorded it (notifications.delivery)
            values.update(_unsent_outcome(entry, row.attempts, now, retry))
            db.session.add(DeliveryAttempt(reminder_id=row.id, at=now, channel=entry.channel, outcome=entry.outcome,
                                           error=entry.error))
        else:  # started, no result: the provider may or may not have the message
            values.update(status="failed", last_error=AMBIGUOUS_ERROR)
            db.session.add(DeliveryAttempt(reminder_id=row.id, at=now, channel="-", outcome="ambiguous",
                                           error=AMBIGUOUS_ERROR))
            ambiguous += 1
        db.session.execute(sa.update(Reminder).where(Reminder.id == row.id, Reminder.status == "sending")
                           .values(**values), execution_options={"synchronize_session": False})
    db.session.commit()
    if ambiguous:
        log.warning("%d reminder(s) were in flight when their worker stopped; marked failed for staff", ambiguous)
    return ambiguous


def _unsent_outcome(entry: Entry, attempts: int, now: datetime, retry: RetryPolicy) -> dict[str, Any]:
    """A journalled refusal settles as the worker would have: a permanent one, or no route left, fails the
    row; a transient one waits its back-off (queued, due again when its lease ends), or fails at the last
    attempt; never sent again at once."""
    if entry.outcome != "transient":
        return {"status": "failed", "last_error": entry.error}
    if retry.is_last(attempts, job_has_no_retry_left=False):
        return {"status": "failed", "last_error": f"gave up after {attempts} attempt(s): {entry.error}"}
    return {"status": "queued", "last_error": entry.error, "lease_until": retry.next_lease(attempts, now)}


def _claim(model, now: datetime, limit: int, batch_size: int, lease_seconds: int) -> list[Claim]:
    due = sa.or_(sa.and_(model.status == "scheduled", model.send_at <= now),
                 sa.and_(model.status == "queued", model.lease_until < now))
    ids = list(db.session.scalars(
        sa.select(model.id).where(due).order_by(model.send_at).limit(limit).with_for_update(skip_locked=True)))
    claims = [Claim(uuid.uuid4(), tuple(ids[start:start + batch_size])) for start in range(0, len(ids), batch_size)]
    values: dict[str, Any] = {"status": "queued", "lease_until": now + timedelta(seconds=lease_seconds)}
    if model is Reminder:
        values["updated_at"] = now
    for claim in claims:
        db.session.execute(sa.update(model).where(model.id.in_(claim.ids)).values(claim_id=claim.claim_id, **values),
                           execution_options={"synchronize_session": False})
    db.session.commit()
    return claims


def claim_due_reminders(now: datetime, *, limit: int | None = None, batch_size: int | None = None) -> list[Claim]:
    config = current_app.config
    return _claim(Reminder, now, limit or config["REMINDER_DISPATCH_LIMIT"], batch_size or config["REMINDER_BATCH_SIZE"],
                  config["REMINDER_LEASE_SECONDS"])


def claim_due_staff_notifications(now: datetime, *, limit: int | None = None) -> list[Claim]:
    config = current_app.config
    return _claim(StaffNotification, now, limit or config["REMINDER_DISPATCH_LIMIT"], config["REMINDER_BATCH_SIZE"],
                  config["REMINDER_LEASE_SECONDS"])


def release_claims(model, claims: Sequence[Claim]) -> None:
    """Hand claims back (Redis refused them): the rows are due again at once."""
    for claim in claims:
        db.session.execute(
            sa.update(model).where(model.claim_id == claim.claim_id, model.status == "queued")
            .values(status="scheduled", claim_id=None, lease_until=None),
            execution_options={"synchronize_session": False})
    db.session.commit()


def enqueue_claims(connection: redis.Redis, claims: Sequence[Claim], job: Callable, prefix: str) -> int:
    """One RQ job per claim, deterministic id `<prefix>-<claim id>`, in one pipeline."""
    if not claims:
        return 0
    config = current_app.config
    queue = Queue(REMINDER_QUEUE, connection=connection)
    retry = retry_for_jobs()
    datas = [Queue.prepare_data(job, args=(str(claim.claim_id), [str(i) for i in claim.ids]),
                                job_id=f"{prefix}-{claim.claim_id}", timeout=config["REMINDER_JOB_TIMEOUT_SECONDS"],
                                retry=retry, result_ttl=3600, failure_ttl=7 * 24 * 3600,
                                description=f"deliver {len(claim.ids)} {prefix}")
             for claim in claims]
    with connection.pipeline() as pipe:
        queue.enqueue_many(datas, pipeline=pipe)
        pipe.execute()
    return len(datas)


# --- the dispatcher ------------------------------------------------------------------------------------------
def dispatch_due(now: datetime | None = None, *, connection: redis.Redis | None = None) -> DispatchReport:
    """Claim what is due and enqueue delivery jobs; never raises because Redis is down."""
    from notifications.jobs import deliver_reminders, deliver_staff_notifications

    now = now or utcnow()
    report = DispatchReport()
    connection = connection or rq_connection()
    try:
        connection.ping()
        backlog = Queue(REMINDER_QUEUE, connection=connection).count
    except redis.RedisError as error:
        log.warning("dispatch skipped, Redis is unavailable: %s", error)
        report.redis_down = True
        return report
    report.ambiguous = settle_in_flight(now, lambda: DeliveryJournal(connection))
    max_jobs = current_app.config["REMINDER_MAX_QUEUED_JOBS"]
    for model, job, prefix in ((StaffNotification, deliver_staff_notifications, "staff"),
                               (Reminder, deliver_reminders, "reminders")):
        while True:
            if model is Reminder and backlog >= max_jobs:
                report.backlog = True  # workers are behind: leave the rows for a later tick
                break
            claims = claim_due_staff_notifications(now) if model is StaffNotification else claim_due_reminders(now)
            if not claims:
                break
            try:
                enqueued = enqueue_claims(connection, claims, job, prefix)
            except redis.RedisError as error:
                log.warning("Redis refused %d job(s), claims handed back: %s", len(claims), error)
                release_claims(model, claims)
                report.redis_down = True
                return report
            claimed = sum(len(claim.ids) for claim in claims)
            if model is Reminder:
                report.reminders_claimed += claimed
                backlog += enqueued
            else:
                report.staff_claimed += claimed
            report.jobs_enqueued += enqueued
            if claimed < current_app.config["REMINDER_DISPATCH_LIMIT"]:
                break
    return report


def dispatch_due_in_process(now: datetime | None = None) -> DispatchReport:
    """Claim and send synchronously, without Redis or RQ (a laptop without Redis; tests; a cron).

    Same claims and guarantees as the RQ path; a transient failure leaves the row queued until its
    back-off has passed, and a later call picks it up again.
    """
    now = now or utcnow()
    report = DispatchReport()
    report.ambiguous = settle_in_flight(now, _journal_if_reachable)
    retry = RetryPolicy.from_config(queued_by_rq=False)

    def clock() -> datetime:
        return now

    for claim in claim_due_staff_notifications(now):
        report.staff_claimed += len(claim.ids)
        _add(report.delivered, deliver_staff_batch(claim.claim_id, claim.ids, retry=retry, clock=clock))
    while claims := claim_due_reminders(now):
        for claim in claims:
            report.reminders_claimed += len(claim.ids)
            _add(report.delivered, deliver_reminder_batch(claim.claim_id, claim.ids, retry=retry, clock=clock))
        if sum(len(claim.ids) for claim in claims) < current_app.config["REMINDER_DISPATCH_LIMIT"]:
            break
    # The staff outbox again: survey call tasks written by the reminders just sent.
    for claim in claim_due_staff_notifications(now):
        report.staff_claimed += len(claim.ids)
        _add(report.delivered, deliver_staff_batch(claim.claim_id, claim.ids, retry=retry, clock=clock))
    return report


def _journal_if_reachable() -> DeliveryJournal | None:
    """The RQ workers' delivery journal, when their Redis answers (rows an RQ job left `sending`)."""
    try:
        connection = rq_connection()
        connection.ping()
    except redis.RedisError:
        return None
    return DeliveryJournal(connection)


def _add(total: BatchOutcome, part: BatchOutcome) -> None:
    total.sent += part.sent
    total.cancelled += part.cancelled
    total.skipped += part.skipped
    total.failed += part.failed
    total.retrying += part.retrying
    total.gave_up += part.gave_up
