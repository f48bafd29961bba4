"""Sending what the dispatcher claimed: re-check each row, send it once, record every attempt.

Guarantees and the trade-off behind them
----------------------------------------
A claimed reminder row carries the claim's id (`claim_id`) and a lease (`lease_until`). Only a job of
the row's current claim may send it, and only after winning a conditional UPDATE `queued → sending`
(which also re-checks that the event is still planned for the same date) and *committing* it. The
provider is called after that commit; `sending → sent` (or failed, or back to queued for a retry) is
committed afterwards, together with the next row's `queued → sending`, so a batch costs one commit per
reminder.

- A job that runs twice (RQ retry, a duplicate enqueue, a stale job of an earlier claim) finds the row
  no longer `queued` under its claim and skips it: sent once.
- A worker that dies before `sending` was committed leaves the row `queued`; when the lease runs out
  the dispatcher claims it again under a new claim and another worker sends it: nothing is lost.
- A worker that dies after `sending` was committed and before the outcome was — the message is in
  the provider's hands or not, nobody knows — leaves the row `sending`. That is the one ambiguous case.
  At-least-once delivery would send it again (a patient may get the same message twice); at-most-once
  gives up on it (the patient may get nothing). **Patient messages prefer never-twice**: when the lease
  runs out the dispatcher marks the row `failed` with an `ambiguous` delivery attempt, so it is shown to
  staff (`GET /sites/{code}/reminders?status=failed`) instead of being sent a second time; a device
  receipt arriving later turns it into `delivered`. The window is one provider call per worker.
- **Staff messages prefer at-least-once** (`deliver_staff_batch`): a nurse reading an e-mail twice is
  harmless, a lost safety escalation is not. Their rows stay `queued` until the outcome is committed,
  so a crash in mid-send resends them when the lease runs out.

Batching: the rows of a job are read, checked and rendered together (rows whose event is no longer
due are cancelled in one set-based UPDATE … RETURNING), and each row's `queued → sending` is committed in
one pipelined round trip with the previous row's `sent` mark and its attempt (notifications/delivery_tx.py).
That per-row commit is asynchronous (`synchronous_commit = off` for that transaction only): once PostgreSQL
has it, a worker crash cannot undo it, so the guarantees above hold against dead workers exactly as with a
synchronous commit; only a crash of the database server itself within about wal_writer_delay of a send
could lose marks, and a reminder sent in that window could be sent again. The job ends with a durable
commit.

Failures: a transient provider error puts the row back to `queued` (lease extended past the retry
delay) and the batch job raises `RetryLater`, so RQ retries the batch with back-off; rows already sent
are skipped on the retry. At the last attempt (RQ has no retries left, or the row has used all of
REMINDER_RETRY_INTERVALS) the row is `failed`. A permanent error fails it at once. A push token the
provider calls unregistered (`RecipientGone`) is retired and the next route (another device, SMS,
e-mail) is tried; with none left the row fails.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.extensions import db
from backend.models import Device, Event, Patient, Reminder, Site, StaffNotification, Study, User
from backend.models.base import utcnow
from backend.services.devices import retire_device
from backend.services.notifications import notify_site_staff, site_staff
from backend.services.reminders import configured_channels
from notifications.channels import (
    Message,
    PermanentDeliveryError,
    RecipientGone,
    TransientDeliveryError,
)
from notifications.delivery_tx import MARK_SENT_SQL, DeliveryTx, mark_sent_statement
from notifications.messages import MessageCatalogError, render, resolve_locale
from schedules.reminders import message_key, message_params, parse_policy

log = logging.getLogger(__name__)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RetryLater(Exception):
    """Some messages of the batch failed transiently; raised so RQ retries the batch with back-off."""


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

    @classmethod
    def from_config(cls, *, queued_by_rq: bool) -> RetryPolicy:
        config = current_app.config
        return cls(tuple(config["REMINDER_RETRY_INTERVALS"]), int(config["REMINDER_LEASE_SECONDS"]), queued_by_rq)

    @property
    def max_attempts(self) -> int:
        return len(self.intervals) + 1

    def is_last(self, attempts: int, job_has_no_retry_left: bool) -> bool:
        return job_has_no_retry_left or attempts >= self.max_attempts

    def next_lease(self, attempts: int, now: datetime) -> datetime:
        delay = self.intervals[min(attempts, len(self.intervals)) - 1] if self.intervals else 0
        return now + timedelta(seconds=delay + (self.lease_seconds if self.queued_by_rq else 0))


# --- patient reminders -------------------------------------------------------------------------------
def deliver_reminder_batch(claim_id: uuid.UUID, reminder_ids: Sequence[uuid.UUID], *, retry: RetryPolicy,
                           last_try: bool = False, clock: Callable[[], datetime] = utcnow) -> BatchOutcome:
    """Send the reminders of one claim (see the module docstring for the guarantees). `clock` gives
    the instants recorded (the in-process dispatcher passes its own `now`)."""
    session = db.session
    tx = DeliveryTx(session)
    outcome = BatchOutcome()
    lease = timedelta(seconds=retry.lease_seconds)
    rows = session.execute(
        sa.select(Reminder.id, Reminder.status, Reminder.claim_id, Reminder.rule, Reminder.audience,
                  Reminder.target_date, Reminder.attempts, Reminder.patient_id, Reminder.event_id,
                  Event.kind, Event.status.label("event_status"), Event.target_date.label("event_target"),
                  Event.window_end, Event.appointment_time, Patient.locale, Patient.phone, Patient.email, Patient.subject_id,
                  Patient.site_id, Patient.study_id)
        .join(Event, Event.id == Reminder.event_id).join(Patient, Patient.id == Reminder.patient_id)
        .where(Reminder.id.in_(list(reminder_ids))).order_by(Reminder.send_at, Reminder.id)).all()
    outcome.skipped += len(set(reminder_ids)) - len(rows)
    devices = _active_devices({row.patient_id for row in rows if row.audience == "patient"})
    policies: dict[uuid.UUID, Any] = {}
    available = set(configured_channels())

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

    for row, policy, rule in due:
        now = clock()
        params = message_params(rule, row.kind, row.target_date, row.window_end, policy, row.appointment_time)
        if row.audience == "staff":
            _staff_task(tx, row, rule, claim_id, params, now, outcome)
            continue
        try:
            text = render(message_key(rule, row.appointment_time), row.locale, **params)
        except MessageCatalogError as error:
            result = tx.run(sa.update(Reminder).where(*_mine(row.id, claim_id)).values(
                status="failed", last_error=f"message: {error}", attempts=Reminder.attempts + 1, updated_at=now))
            if result.rowcount:
                tx.record(reminder_id=row.id, channel="-", outcome="permanent", at=now, error=str(error))
                outcome.failed += 1
            continue
        routes = _patient_routes(row, devices.get(row.patient_id, []), available)
        won = tx.start_sending({"p_id": row.id, "p_claim": claim_id, "p_active": sorted(rule.active_statuses),
                                "p_lease": now + lease, "p_channel": routes[0].channel, "p_now": now})
        # Committed before the provider sees anything (this commit also settles the previous row).
        if not won:
            outcome.skipped += 1
            continue
        message_data = {"reminder_id": str(row.id), "event_id": str(row.event_id)}
        _send_patient_message(tx, row, routes, devices.get(row.patient_id, []), text, message_data, retry,
                              last_try, outcome, clock)
    tx.commit()
    return outcome


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


def _send_patient_message(tx: DeliveryTx, row, routes: list[Route], devices: list[Any], text, data: dict[str, str],
                          retry: RetryPolicy, last_try: bool, outcome: BatchOutcome,
                          clock: Callable[[], datetime]) -> None:
    channels = configured_channels()
    attempts = row.attempts + 1
    for route in routes:
        message = Message(recipient=route.recipient, title=text.title, body=text.body, data=data,
                          platform=route.platform)
        try:
            result = channels[route.channel].send(message)
        except RecipientGone as error:
            now = clock()
            tx.record(reminder_id=row.id, channel=route.channel, outcome="recipient_gone", at=now,
                    error=str(error))
            if route.device_id is not None:
                retire_device(route.device_id, f"provider: {error}", now)
                devices[:] = [device for device in devices if device.id != route.device_id]  # not for the next row
            continue
        except TransientDeliveryError as error:
            now = clock()
            detail = str(error) + (f" (retry after {error.retry_after:g}s)" if error.retry_after else "")
            tx.record(reminder_id=row.id, channel=route.channel, outcome="transient", at=now, error=detail)
            if retry.is_last(attempts, last_try):
                tx.run(sa.update(Reminder).where(*_sending(row.id)).values(
                    status="failed", last_error=f"gave up after {attempts} attempt(s): {detail}", lease_until=None,
                    updated_at=now))
                outcome.failed += 1
                outcome.gave_up.append(str(row.id))
            else:
                lease_until = retry.next_lease(attempts, now)
                if error.retry_after:  # the provider's Retry-After, when it asks for longer than our back-off
                    lease_until = max(lease_until, now + timedelta(seconds=error.retry_after))
                tx.run(sa.update(Reminder).where(*_sending(row.id)).values(
                    status="queued", last_error=detail, lease_until=lease_until, updated_at=now))
                outcome.retrying.append(str(row.id))
            return
        except PermanentDeliveryError as error:
            now = clock()
            tx.record(reminder_id=row.id, channel=route.channel, outcome="permanent", at=now, error=str(error))
            tx.run(sa.update(Reminder).where(*_sending(row.id)).values(
                status="failed", channel=route.channel, last_error=str(error)[:2000], lease_until=None,
                updated_at=now))
            outcome.failed += 1
            return
        now = clock()
        tx.record(reminder_id=row.id, channel=route.channel, outcome="sent", at=now,
                provider_message_id=result.provider_message_id)
        sent = {"p_id": row.id, "p_channel": route.channel, "p_now": now, "p_provider_id": result.provider_message_id}
        tx.defer(MARK_SENT_SQL, sent, mark_sent_statement(), sent)
        outcome.sent += 1
        return
    now = clock()
    tx.record(reminder_id=row.id, channel=routes[-1].channel, outcome="no_route", at=now,
            error="every push token is gone and no phone or e-mail is known")
    tx.run(sa.update(Reminder).where(*_sending(row.id)).values(
        status="failed", last_error="recipient gone: no other route to the patient", lease_until=None,
        updated_at=now))
    outcome.failed += 1


def _sending(reminder_id: uuid.UUID) -> tuple:
    return Reminder.id == reminder_id, Reminder.status == "sending"


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


# --- staff messages ----------------------------------------------------------------------------------
def staff_locale(country: str | None) -> str:
    """Staff have no locale setting: sites in China read Chinese, everyone else English."""
    return resolve_locale("zh-CN" if country == "CN" else "en")


def _staff_params(params: dict[str, Any]) -> dict[str, Any]:
    """Outbox params are JSON: ISO dates become dates again so they are formatted for the locale."""
    return {key: date.fromisoformat(value) if isinstance(value, str) and _ISO_DATE.match(value) else value
            for key, value in (params or {}).items()}


def deliver_staff_batch(claim_id: uuid.UUID, ids: Sequence[uuid.UUID], *, retry: RetryPolicy,
                        last_try: bool = False, clock: Callable[[], datetime] = utcnow) -> BatchOutcome:
    """Send claimed staff outbox messages by e-mail (the log channel when the user has no address or no
    SMTP is configured). At-least-once: the outcome is committed after the send (module docstring)."""
    session = db.session
    tx = DeliveryTx(session)
    outcome = BatchOutcome()
    channels = configured_channels()
    rows = session.execute(
        sa.select(StaffNotification.id, StaffNotification.status, StaffNotification.claim_id,
                  StaffNotification.message_key, StaffNotification.params, StaffNotification.channel,
                  StaffNotification.attempts, StaffNotification.user_id, User.email, User.is_active, Site.country)
        .join(User, User.id == StaffNotification.user_id).outerjoin(Site, Site.id == StaffNotification.site_id)
        .where(StaffNotification.id.in_(list(ids))).order_by(StaffNotification.send_at)).all()
    outcome.skipped += len(set(ids)) - len(rows)
    for row in rows:
        if row.status != "queued" or row.claim_id != claim_id:
            outcome.skipped += 1
            continue
        mine = (StaffNotification.id == row.id, StaffNotification.status == "queued",
                StaffNotification.claim_id == claim_id)
        attempts = row.attempts + 1
        if not row.is_active:
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="cancelled", last_error="the user's account is inactive"))
            tx.commit()
            outcome.cancelled += 1
            continue
        use_email = row.channel == "email" and row.email and "email" in channels
        channel = "email" if use_email else "log"
        recipient = row.email if use_email else f"user:{row.user_id}"
        now = clock()
        try:
            text = render(row.message_key, staff_locale(row.country), **_staff_params(row.params))
            result = channels[channel].send(Message(recipient=recipient, title=text.title, body=text.body))
        except TransientDeliveryError as error:
            tx.record(staff_notification_id=row.id, channel=channel, outcome="transient", at=now,
                    error=str(error))
            last = retry.is_last(attempts, last_try)
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="failed" if last else "queued", attempts=attempts, last_error=str(error)[:2000],
                lease_until=None if last else retry.next_lease(attempts, now)))
            if last:
                outcome.failed += 1
                outcome.gave_up.append(str(row.id))
            else:
                outcome.retrying.append(str(row.id))
        except (PermanentDeliveryError, MessageCatalogError) as error:
            tx.record(staff_notification_id=row.id, channel=channel, outcome="permanent", at=now,
                    error=str(error))
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="failed", attempts=attempts, last_error=str(error)[:2000], lease_until=None))
            outcome.failed += 1
        else:
            tx.record(staff_notification_id=row.id, channel=channel, outcome="sent", at=now,
                    provider_message_id=result.provider_message_id)
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="sent", attempts=attempts, sent_at=now, last_error=None, lease_until=None, channel=channel))
            outcome.sent += 1
        tx.commit()
    return outcome


__all__ = ["BatchOutcome", "GaveUp", "RetryLater", "RetryPolicy", "deliver_reminder_batch",
           "deliver_staff_batch", "staff_locale"]
