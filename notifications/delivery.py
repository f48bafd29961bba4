"""Sending what the dispatcher claimed: re-check each row, send it once, record every attempt.

Guarantees and the trade-off behind them
----------------------------------------
A claimed reminder row carries the claim's id (`claim_id`) and a lease (`lease_until`). Only a job of
the row's current claim may send it, and only after winning a conditional UPDATE `queued → sending`
(which also re-checks that the event is still planned for the same date) and *committing* it. The
provider is called after that commit; what came of it (`sent`, `failed`, back to `queued` for a retry)
is committed afterwards. An RQ job does both for its whole batch at once — one guarded UPDATE …
RETURNING, then one set-based statement for the outcomes and one for the delivery attempts
(notifications/delivery_tx.py) — and keeps, in between, a delivery journal in Redis of which row it is
handing to a provider and what came back (notifications/journal.py), one round trip per message.

- A job that runs twice (RQ retry, a duplicate enqueue, a stale job of an earlier claim) finds the row
  no longer `queued` under its claim and skips it: sent once.
- A worker that dies before `sending` was committed leaves the rows `queued`; when the lease runs out
  the dispatcher claims them again under a new claim and another worker sends them: nothing is lost.
- A worker that dies after `sending` was committed and before the outcomes were leaves the batch
  `sending`. When the lease runs out the dispatcher fences the journal (a job still running stops
  before its next provider call) and reads it: rows with a `sent` result are recorded sent, rows never
  handed to a provider (or refused by it) are due again, and the one row handed over without a result —
  the message is in the provider's hands or not, nobody knows — is the one ambiguous case.
  At-least-once delivery would send it again (a patient may get the same message twice); at-most-once
  gives up on it (the patient may get nothing). **Patient messages prefer never-twice**: the
  dispatcher marks that row `failed` with an `ambiguous` delivery attempt, so it is shown to staff
  (`GET /sites/{code}/reminders?status=failed`) instead of being sent a second time; a device receipt
  arriving later turns it into `delivered`. The window is one provider call per worker, as it was with
  a commit per reminder. If Redis has lost the journal too, every `sending` row of that batch is
  ambiguous (never twice over never lost).
- The in-process dispatcher (no Redis, hence no journal) commits `sending` and the outcome row by row,
  so a crash there also leaves at most one row in doubt.
- **Staff messages prefer at-least-once** (notifications/delivery_staff.py): a nurse reading an e-mail
  twice is harmless, a lost safety escalation is not. Their rows stay `queued` until the outcome is
  committed, so a crash in mid-send resends them when the lease runs out.

Both commits of a batch are durable (synchronous): the outcomes are committed before the journal is
deleted. Rows whose event is no longer due are cancelled in one set-based UPDATE … RETURNING.

Failures: a transient provider error puts the row back to `queued` (lease extended past the retry
delay, or the provider's Retry-After when longer) and the batch job raises `RetryLater`, so RQ retries
the batch with back-off — not sooner than the longest Retry-After (notifications.worker.AppJob); rows
already sent are skipped on the retry. At the last attempt (RQ has no retries left, or the row has used
all of REMINDER_RETRY_INTERVALS) the row is `failed`. A permanent error fails it at once. A push token
the provider calls unregistered (`RecipientGone`) is retired and the next route (another device, SMS,
e-mail) is tried; with none left the row fails.
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

from backend.extensions import db
from backend.models import Device, Event, Patient, Reminder, Site, Study
from backend.models.base import utcnow
from backend.services.bulk_reads import ids_filter
from backend.services.devices import retire_device
from backend.services.notifications import notify_site_staff, site_staff
from backend.services.reminders import configured_channels
from notifications.channels import (
    Message,
    PermanentDeliveryError,
    RecipientGone,
    TransientDeliveryError,
)
from notifications.delivery_tx import DeliveryTx
from notifications.journal import DeliveryJournal, sent_entry, unsent_entry
from notifications.messages import MessageCatalogError, render
from schedules.reminders import message_key, message_params, parse_policy

log = logging.getLogger(__name__)

class RetryLater(Exception):
    """Some messages of the batch failed transiently; raised so RQ retries the batch with back-off, and
    not sooner than `retry_after` seconds when a provider asked for that (notifications.worker.AppJob)."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GaveUp(Exception):
    """Some messages of the batch failed transiently at their last attempt (now `failed`); raised so
    RQ records the job as failed too."""


@dataclass
class BatchOutcome:
    sent: int = 0
    cancelled: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    retry_after: float = 0.0  # the longest Retry-After a provider asked for among the retrying rows

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "cancelled": self.cancelled, "skipped": self.skipped, "failed": self.failed,
                "retrying": len(self.retrying)}


@dataclass(frozen=True)
class Route:
    channel: str
    recipient: str
    platform: str | None = None
    device_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How long a transiently failed row waits, and when it has had its last attempt."""

    intervals: tuple[int, ...]
    lease_seconds: int
    queued_by_rq: bool  # True: RQ retries the job, so keep the dispatcher off the row meanwhile
    call_timeout: float = 10.0  # HTTP_TIMEOUT_SECONDS: the longest one provider call may take
    job_timeout: float | None = None  # REMINDER_JOB_TIMEOUT_SECONDS under RQ: no job runs longer

    @classmethod
    def from_config(cls, *, queued_by_rq: bool) -> RetryPolicy:
        config = current_app.config
        try:
            call_timeout = float(config.get("HTTP_TIMEOUT_SECONDS", 10))
        except (TypeError, ValueError):
            call_timeout = 10.0  # the channel registry refuses such a setting at start-up
        job_timeout = float(config["REMINDER_JOB_TIMEOUT_SECONDS"]) if queued_by_rq else None
        return cls(tuple(config["REMINDER_RETRY_INTERVALS"]), int(config["REMINDER_LEASE_SECONDS"]), queued_by_rq,
                   call_timeout, job_timeout)

    def sending_lease(self, messages: int) -> float:
        """Seconds a batch of `messages` stays leased once marked `sending`: long enough for every
        provider call at its timeout, so a slow provider never sees the dispatcher settle (and fence) a
        batch still being sent; under RQ no longer than the job may run, because RQ stops a job at its
        timeout. Either way the fence keeps a job that outlives its lease from sending again."""
        calls = messages * self.call_timeout
        return self.lease_seconds + (min(calls, self.job_timeout) if self.job_timeout else calls)

    @property
    def max_attempts(self) -> int:
        return len(self.intervals) + 1

    def is_last(self, attempts: int, job_has_no_retry_left: bool) -> bool:
        return job_has_no_retry_left or attempts >= self.max_attempts

    def next_lease(self, attempts: int, now: datetime) -> datetime:
        delay = self.intervals[min(attempts, len(self.intervals)) - 1] if self.intervals else 0
        return now + timedelta(seconds=delay + (self.lease_seconds if self.queued_by_rq else 0))


# --- patient reminders -------------------------------------------------------------------------------
@dataclass
class _Due:
    row: Any
    rule: Any
    text: Any


def deliver_reminder_batch(claim_id: uuid.UUID, reminder_ids: Sequence[uuid.UUID], *, retry: RetryPolicy,
                           last_try: bool = False, clock: Callable[[], datetime] = utcnow,
                           journal: DeliveryJournal | None = None) -> BatchOutcome:
    """Send the reminders of one claim (see the module docstring for the guarantees). With a `journal`
    (RQ jobs) the batch is marked `sending` and recorded in one transaction each; without one (the
    in-process dispatcher) row by row. `clock` gives the instants recorded (the in-process dispatcher
    passes its own `now`)."""
    session = db.session
    tx = DeliveryTx(session, claim_id)
    outcome = BatchOutcome()
    rows = session.execute(
        sa.select(Reminder.id, Reminder.status, Reminder.claim_id, Reminder.rule, Reminder.audience,
                  Reminder.target_date, Reminder.attempts, Reminder.patient_id, Reminder.event_id,
                  Event.kind, Event.status.label("event_status"), Event.target_date.label("event_target"),
                  Event.window_end, Event.appointment_time, Patient.locale, Patient.phone, Patient.email, Patient.subject_id,
                  Patient.site_id, Patient.study_id)
        .join(Event, Event.id == Reminder.event_id).join(Patient, Patient.id == Reminder.patient_id)
        .where(ids_filter(Reminder.id, reminder_ids)).order_by(Reminder.send_at, Reminder.id)).all()
    outcome.skipped += len(set(reminder_ids)) - len(rows)
    devices = _active_devices({row.patient_id for row in rows if row.audience == "patient"})
    policies: dict[uuid.UUID, Any] = {}

    due, gone = [], []
    for row in rows:
        if row.status != "queued" or row.claim_id != claim_id:
            outcome.skipped += 1  # sent, cancelled or re-claimed meanwhile: not this job's to send
            continue
        policy = policies.get(row.study_id) or policies.setdefault(row.study_id, _study_policy(row.study_id))
        rule = policy.rule(row.rule) or parse_policy({}).rule(row.rule)
        # Never a reminder for a cancelled, completed or moved event, whatever the planner missed.
        stale = row.event_status not in rule.active_statuses or row.event_target != row.target_date
        (gone if stale else due).append((row, policy, rule))
    if gone:  # one set-based UPDATE … RETURNING for every row whose event is no longer due
        result = tx.run(sa.update(Reminder).where(
            Reminder.id.in_([row.id for row, _, _ in gone]), Reminder.status == "queued",
            Reminder.claim_id == claim_id).values(status="cancelled", lease_until=None, updated_at=clock())
            .returning(Reminder.id))
        cancelled = len(result.all())
        outcome.cancelled += cancelled
        outcome.skipped += len(gone) - cancelled

    to_send: list[_Due] = []
    for row, policy, rule in due:
        now = clock()
        params = message_params(rule, row.kind, row.target_date, row.window_end, policy, row.appointment_time)
        if row.audience == "staff":
            _staff_task(tx, row, rule, claim_id, params, now, outcome)
            continue
        try:
            text = render(message_key(rule, row.appointment_time), row.locale, **params)
        except MessageCatalogError as error:
            tx.outcome(row.id, "failed", now=now, error=f"message: {error}", attempts=1, was="queued")
            tx.record(reminder_id=row.id, channel="-", outcome="permanent", at=now, error=str(error))
            outcome.failed += 1
            continue
        to_send.append(_Due(row, rule, text))
    if not to_send:
        tx.commit()  # cancellations and unrenderable rows (else committed with the first `sending` marks)
    step = max(len(to_send), 1) if journal is not None else 1
    for start in range(0, len(to_send), step):
        _send_chunk(tx, claim_id, to_send[start:start + step], devices, retry, last_try, outcome, clock, journal)
    return outcome


def _journal_says_go(write: Callable[..., bool], *args: Any) -> bool:
    try:
        return write(*args)
    except redis.RedisError as error:  # without the journal a crash could not be sorted out: stop sending
        log.warning("delivery journal unavailable, the rest of the batch is handed back: %s", error)
        return False


def _send_chunk(tx: DeliveryTx, claim_id: uuid.UUID, chunk: list[_Due], devices: dict[uuid.UUID, list[Any]],
                retry: RetryPolicy, last_try: bool, outcome: BatchOutcome, clock: Callable[[], datetime],
                journal: DeliveryJournal | None) -> None:
    """`queued → sending` for the chunk (committed), the provider calls (journalled), then every outcome
    and attempt in one commit."""
    now = clock()
    if journal is not None and not _journal_says_go(journal.open, claim_id):
        outcome.skipped += len(chunk)  # the dispatcher settled this claim: its rows are no longer ours
        tx.commit()
        return
    won = tx.start_sending([(item.row.id, item.rule.active_statuses) for item in chunk],
                           now + timedelta(seconds=retry.sending_lease(len(chunk))), now)
    available = set(configured_channels())
    previous: list[Any] | None = None
    stopped = False
    for item in chunk:
        attempt = won.get(item.row.id)
        if attempt is None:
            outcome.skipped += 1  # cancelled, moved or re-claimed since it was read
            continue
        if stopped or (journal is not None and not _journal_says_go(journal.start, claim_id, item.row.id, attempt,
                                                                     previous)):
            stopped = True  # never handed to a provider: due again at once (a no-op if the dispatcher settled it)
            tx.outcome(item.row.id, "queued", now=clock(), lease_until=clock(), attempts=-1,
                       error="handed back unsent: the delivery journal was unavailable or fenced")
            outcome.skipped += 1
            continue
        patient_devices = devices.setdefault(item.row.patient_id, [])
        routes = _patient_routes(item.row, patient_devices, available)
        previous = _send_patient_message(tx, item, attempt, routes, patient_devices, retry, last_try, outcome, clock)
    if journal is not None and previous is not None and not stopped:
        _journal_says_go(journal.finish, claim_id, previous)
    tx.commit()
    if journal is not None:
        try:
            journal.close(claim_id)
        except redis.RedisError:
            pass  # it expires; the rows it describes are no longer `sending`


def _study_policy(study_id: uuid.UUID):
    settings = db.session.scalar(sa.select(Study.settings).where(Study.id == study_id)) or {}
    try:
        return parse_policy(settings.get("reminder_policy"),
                            default_quiet_hours=current_app.config.get("QUIET_HOURS", "21:00-08:00"))
    except ValueError:
        log.exception("study %s has an invalid reminder policy; using the default one", study_id)
        return parse_policy({})


def _active_devices(patient_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    found: dict[uuid.UUID, list[Any]] = {}
    if not patient_ids:
        return found
    rows = db.session.execute(
        sa.select(Device.id, Device.patient_id, Device.platform, Device.token)
        .where(Device.patient_id.in_(patient_ids), Device.retired_at.is_(None))
        .order_by(Device.patient_id, Device.last_seen_at.desc()))
    for device in rows:
        found.setdefault(device.patient_id, []).append(device)
    return found


def _patient_routes(row, devices: list[Any], available: set[str]) -> list[Route]:
    """Push to the most recently seen active device, else SMS, else e-mail, else the log channel. The
    later routes are the fall-backs when a push token turns out to be gone."""
    routes: list[Route] = []
    if "push" in available:
        routes += [Route("push", d.token, d.platform, d.id) for d in devices]
    if row.phone and "sms" in available:
        routes.append(Route("sms", row.phone))
    if row.email and "email" in available:
        routes.append(Route("email", row.email))
    if not routes:
        routes.append(Route("log", f"patient:{row.patient_id}"))  # never a contact detail in the log
    return routes


def _send_patient_message(tx: DeliveryTx, item: _Due, attempt: int, routes: list[Route], devices: list[Any],
                          retry: RetryPolicy, last_try: bool, outcome: BatchOutcome,
                          clock: Callable[[], datetime]) -> list[Any]:
    """Try the routes in order; buffer the outcome; return the journal's entry for it."""
    channels = configured_channels()
    row, text = item.row, item.text
    data = {"reminder_id": str(row.id), "event_id": str(row.event_id)}
    for route in routes:
        message = Message(recipient=route.recipient, title=text.title, body=text.body, data=data,
                          platform=route.platform)
        try:
            result = channels[route.channel].send(message)
        except RecipientGone as error:
            now = clock()
            tx.record(reminder_id=row.id, channel=route.channel, outcome="recipient_gone", at=now, error=str(error))
            if route.device_id is not None:
                retire_device(route.device_id, f"provider: {error}", now)
                devices[:] = [device for device in devices if device.id != route.device_id]  # not for the next row
            continue
        except TransientDeliveryError as error:
            now = clock()
            detail = str(error) + (f" (retry after {error.retry_after:g}s)" if error.retry_after else "")
            tx.record(reminder_id=row.id, channel=route.channel, outcome="transient", at=now, error=detail)
            if retry.is_last(attempt, last_try):
                tx.outcome(row.id, "failed", now=now, error=f"gave up after {attempt} attempt(s): {detail}")
                outcome.failed += 1
                outcome.gave_up.append(str(row.id))
            else:
                lease_until = retry.next_lease(attempt, now)
                if error.retry_after:  # the provider's Retry-After, when it asks for longer than our back-off
                    lease_until = max(lease_until, now + timedelta(seconds=error.retry_after))
                    outcome.retry_after = max(outcome.retry_after, float(error.retry_after))
                tx.outcome(row.id, "queued", now=now, error=detail, lease_until=lease_until)
                outcome.retrying.append(str(row.id))
            return unsent_entry(row.id, attempt, route.channel, "transient", detail)
        except PermanentDeliveryError as error:
            now = clock()
            tx.record(reminder_id=row.id, channel=route.channel, outcome="permanent", at=now, error=str(error))
            tx.outcome(row.id, "failed", now=now, channel=route.channel, error=str(error))
            outcome.failed += 1
            return unsent_entry(row.id, attempt, route.channel, "permanent", str(error))
        now = clock()
        tx.record(reminder_id=row.id, channel=route.channel, outcome="sent", at=now,
                  provider_message_id=result.provider_message_id)
        tx.outcome(row.id, "sent", now=now, channel=route.channel, provider_message_id=result.provider_message_id)
        outcome.sent += 1
        return sent_entry(row.id, attempt, route.channel, result.provider_message_id)
    now = clock()
    tx.record(reminder_id=row.id, channel=routes[-1].channel, outcome="no_route", at=now,
              error="every push token is gone and no phone or e-mail is known")
    tx.outcome(row.id, "failed", now=now, error="recipient gone: no other route to the patient")
    outcome.failed += 1
    return unsent_entry(row.id, attempt, routes[-1].channel, "no_route", "recipient gone")


def _mine(reminder_id: uuid.UUID, claim_id: uuid.UUID) -> tuple:
    return Reminder.id == reminder_id, Reminder.status == "queued", Reminder.claim_id == claim_id


def _staff_task(tx: DeliveryTx, row, rule, claim_id: uuid.UUID, params: dict[str, Any], now: datetime,
                outcome: BatchOutcome) -> None:
    """The "call the patient" task: written to the staff outbox in the same transaction that marks the
    reminder sent, so it exists exactly once (the outbox's dedupe key guards re-plans too)."""
    still_due = sa.exists().where(Event.id == Reminder.event_id, Event.status.in_(rule.active_statuses),
                                  Event.target_date == Reminder.target_date)
    result = tx.run(sa.update(Reminder).where(*_mine(row.id, claim_id), still_due).values(
        status="sent", channel="staff", sent_at=now, attempts=Reminder.attempts + 1, lease_until=None,
        updated_at=now))
    if not result.rowcount:
        outcome.skipped += 1
        return
    site = tx.session.get(Site, row.site_id)
    role = next((role for role in ("coordinator", "nurse") if site_staff(site, role)), None)
    if role is None:
        error = "no coordinator or nurse is assigned to the site"
        tx.run(sa.update(Reminder).where(Reminder.id == row.id).values(status="failed", last_error=error))
        tx.record(reminder_id=row.id, channel="staff", outcome="no_route", at=now, error=error)
        tx.commit()
        outcome.failed += 1
        return
    staff_params = {"subject_id": row.subject_id, "deadline": params["deadline"].isoformat()}
    queued = notify_site_staff(site, role, "staff.survey_call_patient", staff_params, patient_id=row.patient_id,
                               dedupe_key=f"survey_call:{row.event_id}:{row.target_date.isoformat()}", send_at=now)
    tx.record(reminder_id=row.id, channel="staff", outcome="sent", at=now,
            error=None if role == "coordinator" else "no coordinator assigned; sent to the site's nurses")
    tx.commit()
    outcome.sent += 1
    log.debug("survey call task for reminder %s: %d message(s) queued to %ss", row.id, queued, role)


__all__ = ["BatchOutcome", "GaveUp", "RetryLater", "RetryPolicy", "deliver_reminder_batch"]
