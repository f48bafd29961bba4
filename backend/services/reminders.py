"""Reminders: planned in the calendar's transaction (the database is the outbox), listed for patients and
staff, confirmed by the patient's device, re-planned when the patient's time zone changes.

Entry points for the calendar service (agreed interface; none of them commits):

- `sync_event_reminders(patient, events, now)`: make the pending reminders of each given event match
  the event as it is now. Idempotent; bulk SQL.
- `reminder_rows_for(patient, event_like, policy, now)`: the rows one event should have, as plain dicts
  ready for `insert_reminder_rows` (the bulk enrolment path computes them without the ORM).
- `reminder_policy(study)`: the parsed policy to pass to `reminder_rows_for`.

Planning rules (times, quiet hours, DST) live in `schedules/reminders.py`; sending lives in
`notifications/` (dispatch, delivery, jobs).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from backend.auth import Principal, can_see_site, parse_id
from backend.errors import Conflict, InvalidInput, NotFound
from backend.extensions import db
from backend.models import Device, Event, Patient, PatientTimezoneChange, Reminder, Site, Study
from backend.models.audit import REASON_KEY, current_actor
from backend.models.base import utcnow
from backend.models.reminders import PENDING_STATUSES
from schedules.reminders import PolicyError, ReminderPolicy, parse_policy, plan_event, zone

log = logging.getLogger(__name__)

_CHUNK = 1000


# --- policy and channel ----------------------------------------------------------------------------
def reminder_policy(study: Study) -> ReminderPolicy:
    """The study's reminder policy (Study.settings["reminder_policy"] over the default; QUIET_HOURS is
    the default quiet window). A malformed policy is a 422 naming the setting."""
    settings = (study.settings or {}).get("reminder_policy")
    try:
        return parse_policy(settings, default_quiet_hours=current_app.config.get("QUIET_HOURS", "21:00-08:00"))
    except PolicyError as error:
        raise InvalidInput(f"settings.{error.field}", error.message, reason="invalid_reminder_policy") from None


def configured_channels() -> dict[str, Any]:
    """The delivery channels this deployment has, built once per process from the app config. Push
    tokens (FCM access tokens, APNs provider tokens) are shared through Redis by every process, so a
    worker's jobs, forked or not, use one token until it is due for renewal."""
    channels = current_app.extensions.get("cadence.channels")
    if channels is None:
        from backend.auth import redis_client
        from notifications.channels import RedisTokenCache, build_channels

        channels = current_app.extensions["cadence.channels"] = build_channels(
            current_app.config, token_cache=RedisTokenCache(redis_client()))
    return channels


def preferred_channel(*, has_device: bool, phone: str | None, email: str | None, available: Iterable[str]) -> str:
    """Push when the patient has an active device, else SMS when a phone is known, else e-mail when an
    address is known, else the log channel (each only when this deployment has that channel)."""
    available = set(available)
    if has_device and "push" in available:
        return "push"
    if phone and "sms" in available:
        return "sms"
    if email and "email" in available:
        return "email"
    return "log"


def planned_channel(patient: Patient, *, new: bool = False) -> str:
    """The channel a reminder of this patient would go through if it were sent now (recorded at
    planning; the delivery job decides again at send time and records what it used). A `new` patient
    (not stored yet: an import) has no device."""
    from notifications.channels import ConfigError

    has_device = not new and (db.session.scalar(sa.select(sa.exists().where(
        Device.patient_id == patient.id, Device.retired_at.is_(None)))) or False)
    try:
        available = configured_channels()
    except ConfigError:
        # Half-configured channels stop the worker at start-up; planning must not fail because of them.
        log.exception("notification channels are misconfigured; planning with the log channel")
        available = {"log": None}
    return preferred_channel(has_device=has_device, phone=patient.phone, email=patient.email, available=available)


# --- planning ----------------------------------------------------------------------------------------
def horizon_end(now: datetime) -> date:
    """The last event date whose reminders are materialised now. The events table is the truth;
    reminders are written for the next REMINDER_HORIZON_DAYS only, so an enrolment or a re-plan
    does not write two years of rows that later changes would rewrite."""
    return now.date() + timedelta(days=int(current_app.config["REMINDER_HORIZON_DAYS"]))


REMINDED_KINDS = ("dose", "tumor_assessment", "symptom_survey")


def plan_reminders_entering_horizon(now: datetime) -> int:
    """Plan the reminders of planned events that came within the horizon since they were last
    planned (time passed); idempotent, commits. Returns how many events were planned."""
    today = now.date() - timedelta(days=1)
    event = Event.__table__
    live = (sa.select(Reminder.id).where(Reminder.event_id == event.c.id, Reminder.target_date == event.c.target_date,
                                         Reminder.status != "cancelled"))
    rows = db.session.execute(
        sa.select(event.c.id, event.c.patient_id, event.c.kind, event.c.status, event.c.target_date,
                  event.c.window_end)
        .where(event.c.status == "planned", event.c.kind.in_(REMINDED_KINDS),
               event.c.target_date.between(today, horizon_end(now)), ~sa.exists(live))
        .order_by(event.c.patient_id)).all()
    by_patient: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        by_patient.setdefault(row.patient_id, []).append(row)
    for patient_id, events in by_patient.items():
        sync_event_reminders(db.session.get(Patient, patient_id), events, now)
    db.session.commit()
    return len(rows)


def _field(event: Any, name: str) -> Any:
    return event[name] if isinstance(event, Mapping) else getattr(event, name)


def reminder_rows_for(patient: Patient, event_like: Any, policy: ReminderPolicy, now: datetime, *,
                      channel: str | None = None, zone_name: str | None = None,
                      include_past: bool = False) -> list[dict[str, Any]]:
    """The reminder rows one event should have now, as dicts for a bulk INSERT.

    `event_like` is an Event or anything with `id`, `kind`, `status`, `target_date` and `window_end`
    (attributes or keys). Rows whose instant is already past are left out (no reminder "for
    yesterday") unless `include_past`. Pass `channel` and `zone_name` when planning many events of one
    patient to skip the per-call lookups.
    """
    kind = _field(event_like, "kind")
    status = _field(event_like, "status") or "planned"
    target_date: date = _field(event_like, "target_date")
    window_end: date | None = _field(event_like, "window_end")
    rows: list[dict[str, Any]] = []
    if target_date > horizon_end(now):
        return rows  # planned when the event comes within the horizon (plan_reminders_entering_horizon)
    zone_name = zone_name or patient.effective_timezone
    planned = [p for p in plan_event(kind, target_date, window_end, policy, zone_name)
               if status in p.rule.active_statuses and (include_past or p.send_at >= now)]
    if not planned:
        return rows
    if channel is None:
        channel = planned_channel(patient)
    for item in planned:
        rows.append({
            "id": uuid.uuid4(), "patient_id": patient.id, "event_id": _field(event_like, "id"),
            "rule": item.rule.name, "audience": item.rule.audience,
            "channel": channel if item.rule.audience == "patient" else "staff",
            "target_date": target_date, "timezone": zone_name, "send_at": item.send_at, "status": "scheduled",
            "attempts": 0, "created_at": now, "updated_at": now,
        })
    return rows


_COPY_COLUMNS = ("id", "patient_id", "event_id", "rule", "audience", "channel", "target_date", "timezone",
                 "send_at", "status", "attempts", "created_at", "updated_at")
_COPY_SQL = f"COPY reminders ({', '.join(_COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["uuid", "uuid", "uuid", "varchar", "varchar", "varchar", "date", "varchar", "timestamptz",
               "varchar", "int4", "timestamptz", "timestamptz"]


def copy_new_reminder_rows(rows: Sequence[dict[str, Any]]) -> None:
    """Bulk load the reminders of a calendar planned from scratch (enrolment): nothing can collide,
    so PostgreSQL takes them with a binary COPY in the session's transaction; elsewhere an INSERT."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        insert_reminder_rows(rows)
        return
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(_COPY_SQL) as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row([row[name] for name in _COPY_COLUMNS])


def insert_reminder_rows(rows: Sequence[dict[str, Any]]) -> None:
    """Bulk INSERT (executemany) of rows from `reminder_rows_for`; a live duplicate is skipped."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Reminder.__table__)
    statement = insert.on_conflict_do_nothing(
        index_elements=["event_id", "rule", "send_at"], index_where=sa.text("status <> 'cancelled'"))
    for start in range(0, len(rows), 5000):
        db.session.execute(statement, list(rows[start:start + 5000]))


def sync_event_reminders(patient: Patient, events: Sequence[Any], now: datetime) -> None:
    """Make the pending reminders of each event match the event's current state, in the caller's
    transaction (no commit).

    For every event, whatever its status: pending (scheduled/queued) reminders that the event should no
    longer have — it was cancelled, completed, missed or held, its target date moved, or the patient's
    zone changed — are cancelled, and the reminders of its current target date are created unless they
    already exist or are in the past. A rule already sent (or failed, or in flight) for the event's
    current target date is not planned again, even at another instant (after a zone change). Calling it twice changes nothing. A reminder already handed to a provider (`sending`) is
    left alone; the delivery job re-checks the event just before it sends.
    """
    events = list(events)
    if not events:
        return
    policy = reminder_policy(patient.study)
    zone_name = patient.effective_timezone
    channel = planned_channel(patient)
    desired: dict[tuple, dict[str, Any]] = {}
    for event in events:
        for row in reminder_rows_for(patient, event, policy, now, channel=channel, zone_name=zone_name,
                                     include_past=True):
            desired[(row["event_id"], row["rule"], row["send_at"])] = row

    event_ids = [_field(event, "id") for event in events]
    present: set[tuple] = set()
    handled: set[tuple] = set()  # (event, rule, target date) already handed to a provider
    pending: list[tuple[uuid.UUID, tuple]] = []
    for chunk in _chunks(event_ids):
        existing = db.session.execute(
            sa.select(Reminder.id, Reminder.event_id, Reminder.rule, Reminder.target_date, Reminder.send_at,
                      Reminder.status).where(Reminder.event_id.in_(chunk), Reminder.status != "cancelled"))
        for row in existing:
            key = (row.event_id, row.rule, row.send_at)
            present.add(key)
            if row.status in PENDING_STATUSES:
                pending.append((row.id, key))
            else:
                handled.add((row.event_id, row.rule, row.target_date))
    to_cancel = [reminder_id for reminder_id, key in pending if key not in desired]
    for chunk in _chunks(to_cancel):
        db.session.execute(
            sa.update(Reminder).where(Reminder.id.in_(chunk), Reminder.status.in_(PENDING_STATUSES))
            .values(status="cancelled", claim_id=None, lease_until=None, updated_at=now),
            execution_options={"synchronize_session": False})
    insert_reminder_rows([
        row for key, row in desired.items()
        if key not in present and row["send_at"] >= now
        and (row["event_id"], row["rule"], row["target_date"]) not in handled])


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def change_patient_timezone(patient: Patient, new_zone: str | None, reason: str | None, now: datetime, *,
                            changed_by: uuid.UUID | None = None) -> Patient:
    """Move a patient to another IANA zone (None: follow the site's zone again), keep the history and
    re-plan every pending reminder in the new zone, in the caller's transaction (no commit).

    Reminders already sent stay as they were; pending ones are cancelled and planned again at the same
    local wall-clock times in the new zone (those now in the past are not re-created).
    """
    new_zone = (new_zone or "").strip() or None
    if new_zone is not None:
        try:
            zone(new_zone)
        except PolicyError:
            raise InvalidInput("timezone", f"Unknown IANA time zone {new_zone!r}.") from None
    if new_zone == patient.timezone:
        return patient
    if changed_by is None:
        actor = current_actor.get().user_id
        changed_by = uuid.UUID(actor) if actor else None
    db.session.info[REASON_KEY] = reason or "time zone changed"
    db.session.add(PatientTimezoneChange(patient_id=patient.id, old_timezone=patient.timezone, new_timezone=new_zone,
                                         changed_at=now, changed_by=changed_by, reason=reason))
    patient.timezone = new_zone
    events = list(db.session.scalars(sa.select(Event).where(Event.patient_id == patient.id)))
    sync_event_reminders(patient, events, now)
    return patient


# --- API use cases -------------------------------------------------------------------------------------
def _visible_patient(principal: Principal, raw_id: str) -> Patient:
    patient = db.session.get(Patient, parse_id(raw_id, "patient"))
    if patient is None:
        raise NotFound("No such patient.")
    if principal.role == "patient":
        if patient.id != principal.patient_id:
            raise NotFound("No such patient.")
    elif not can_see_site(principal, patient.site):
        raise NotFound("No such patient.")
    return patient


def list_patient_reminders(principal: Principal, patient_id: str, status: str | None = None) -> list[Reminder]:
    """A patient's reminders by send time; the patient sees their own messages, staff also the tasks."""
    patient = _visible_patient(principal, patient_id)
    stmt = sa.select(Reminder).where(Reminder.patient_id == patient.id)
    if principal.role == "patient":
        stmt = stmt.where(Reminder.audience == "patient")
    if status:
        stmt = stmt.where(Reminder.status.in_(_stored_statuses(status)))
    return list(db.session.scalars(stmt.order_by(Reminder.send_at, Reminder.rule)))


def site_reminders_query(principal: Principal, code: str, status: str | None = None) -> sa.Select:
    """Reminders of a site's patients, most recent first (e.g. `status="failed"` for the staff's list)."""
    site = db.session.scalar(sa.select(Site).where(Site.code == code))
    if site is None or not can_see_site(principal, site):
        raise NotFound(f"No site {code!r}.")
    stmt = (sa.select(Reminder).join(Patient, Patient.id == Reminder.patient_id).where(Patient.site_id == site.id)
            .options(so.selectinload(Reminder.patient)))
    if status:
        stmt = stmt.where(Reminder.status.in_(_stored_statuses(status)))
    return stmt.order_by(Reminder.send_at.desc(), Reminder.id)


def _stored_statuses(status: str) -> tuple[str, ...]:
    return ("queued", "sending") if status == "queued" else (status,)


def record_receipt(principal: Principal, reminder_id: str, received_at: datetime | None = None) -> Reminder:
    """The patient's device confirms it showed the reminder: sent → delivered (idempotent).

    A receipt for a reminder recorded as failed after an ambiguous crash settles it: it was delivered.
    """
    reminder = db.session.get(Reminder, parse_id(reminder_id, "reminder"))
    if reminder is None or reminder.patient_id != principal.patient_id or reminder.audience != "patient":
        raise NotFound("No such reminder.")
    if reminder.status == "delivered":
        return reminder
    at = (received_at or utcnow()).astimezone(timezone.utc)
    result = db.session.execute(
        sa.update(Reminder).where(Reminder.id == reminder.id, Reminder.status.in_(("sending", "sent", "failed")))
        .values(status="delivered", delivered_at=at, updated_at=utcnow()),
        execution_options={"synchronize_session": False})
    if not result.rowcount:
        db.session.rollback()
        raise Conflict("This reminder has not been sent.", reason="reminder_not_sent")
    db.session.commit()
    db.session.refresh(reminder)
    return reminder
