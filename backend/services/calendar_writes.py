"""Planning and re-planning a patient's calendar in the database, in bulk.

Every plan or re-plan goes through :func:`_write_changes`, which inserts new events in bulk
(PostgreSQL `COPY` in the caller's transaction, after their audit records: the database checks new
events against them at once), updates and cancels in bulk with a version check, writes one audit
record per changed event, and calls the reminders hook (:func:`_sync_reminders`)
once with every event it touched. Nothing here commits except :func:`replan_study`.

Offline sync: every calendar write first locks the patient row (`SELECT ... FOR UPDATE`, see
:func:`lock_patient`) and only then stamps `updated_at`; a calendar read takes a share lock on the
same row before it notes its `as_of` instant.
"""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from backend.errors import InvalidInput
from backend.extensions import db
from backend.models import Event, Patient
from backend.models.audit import REASON_KEY, record_many
from backend.models.base import utcnow
from backend.services import reminders
from backend.services.calendar_events import (
    _PLANNED_FIELDS,
    EVENT_COLUMNS,
    EventJson,
    EventRow,
    event_columns,
    facts_of,
    load_events,
)
from backend.services.calendar_inputs import build_plan_inputs, latest_today, site_today
from backend.services.plausibility import check_calendar_size, check_recorded_dates
from schedules.calendar_planning import plan_calendar
from schedules.calendar_replans import CalendarChanges, replan
from schedules.calendars import EventFact, PlannedEvent

#: What the audit record of each bulk-created event keeps (its id and patient are the record's keys).
_AUDITED_ON_CREATE = ("patient_id", "key", "kind", "cycle", "day", "label", "agents", "protocol_date", "target_date",
                      "window_start", "window_end", "flags", "status", "actual_date")

# -- the reminders hook ---------------------------------------------------------------------------

def _sync_reminders(patient: Patient, events: Sequence[EventRow], now: datetime, *, fresh: bool) -> None:
    """Called once, in the caller's transaction, after every plan and re-plan with each event
    created, updated or cancelled (and an event just recorded): the reminder outbox follows the
    calendar in the same transaction. A fresh calendar (enrolment) has no reminders to reconcile,
    so its rows are inserted straight away."""
    if fresh:
        policy = reminders.reminder_policy(patient.study)
        channel, zone = reminders.planned_channel(patient), patient.effective_timezone
        reminders.copy_new_reminder_rows([row for event in events for row in reminders.reminder_rows_for(
            patient, event, policy, now, channel=channel, zone_name=zone)])
    else:
        reminders.sync_event_reminders(patient, events, now)


def _new_rows(patient_id: uuid.UUID, planned: Iterable[PlannedEvent], facts: Mapping[str, EventFact],
              now: datetime) -> tuple[list[EventRow], list[tuple]]:
    """Rows to insert (and the same rows with JSON columns encoded, in EVENT_COLUMNS order)."""
    planned = list(planned)
    rows, encoded = [], []
    for event_id, event in zip(_new_ids(len(planned)), planned):
        agents, agents_json = EventJson.agents(event.agents)
        flags, flags_json = EventJson.flags(event.flags)
        fact = facts.get(event.key)
        status, actual = ("planned", None) if fact is None else (fact.status, fact.actual_date)
        rows.append(EventRow(event_id, patient_id, event.key, event.kind, event.cycle, event.day, event.label,
                             agents, event.protocol_date, event.target_date, event.window_start, event.window_end,
                             flags, status, actual, None, 1, now, now))
        encoded.append((event_id, patient_id, event.key, event.kind, event.cycle, event.day, event.label,
                        agents_json, event.protocol_date, event.target_date, event.window_start, event.window_end,
                        flags_json, status, actual, None, 1, now, now))
    return rows, encoded


def _new_ids(n: int) -> list[uuid.UUID]:
    """n random (version 4) UUIDs from one read of the system CSPRNG: uuid4() reads it per id."""
    raw = os.urandom(16 * n)
    from_bytes, make = int.from_bytes, uuid.UUID
    return [make(int=from_bytes(raw[i:i + 16]), version=4) for i in range(0, 16 * n, 16)]


_COPY_SQL = f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["uuid", "uuid", "varchar", "varchar", "int4", "int4", "varchar", "text", "date", "date",
               "date", "date", "text", "varchar", "date", "text", "int4", "timestamptz", "timestamptz"]


def _insert_events(rows: list[EventRow], encoded: list[tuple]) -> None:
    """Bulk insert in the session's transaction: binary COPY on PostgreSQL (json is sent as its
    text, which is json's binary format), one executemany INSERT elsewhere."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(_COPY_SQL) as copy:
                copy.set_types(_COPY_TYPES)
                for values in encoded:
                    copy.write_row(values)
    else:
        db.session.execute(sa.insert(Event.__table__), [row._asdict() for row in rows])


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


_UPDATE_PLANNED_SQL = sa.text("""
UPDATE events AS e
SET cycle = v.cycle, day = v.day, label = v.label, agents = v.agents, protocol_date = v.protocol_date,
    target_date = v.target_date, window_start = v.window_start, window_end = v.window_end, flags = v.flags,
    version = e.version + 1, updated_at = :now
FROM json_to_recordset(CAST(:rows AS json))
     AS v(id uuid, version integer, cycle integer, day integer, label varchar, agents json, protocol_date date,
          target_date date, window_start date, window_end date, flags json)
WHERE e.id = v.id AND e.version = v.version
""")


def _update_events(updates: Sequence[tuple[EventRow, EventRow]], now: datetime) -> None:
    """Write the re-planned fields of many events at once, each only if still at the version read:
    on PostgreSQL one UPDATE joined to the new values sent as one JSON document (json_to_recordset;
    array parameters cost more to encode than the update itself), an executemany elsewhere."""
    if not updates:
        return
    session = db.session
    if session.connection().dialect.name == "postgresql":
        rows = [{"id": str(old.id), "version": old.version, "cycle": new.cycle, "day": new.day, "label": new.label,
                 "agents": new.agents, "protocol_date": new.protocol_date.isoformat(),
                 "target_date": new.target_date.isoformat(), "window_start": new.window_start.isoformat(),
                 "window_end": new.window_end.isoformat(), "flags": new.flags} for old, new in updates]
        result = session.execute(_UPDATE_PLANNED_SQL, {"now": now, "rows": json.dumps(rows)})
    else:
        table = Event.__table__
        result = session.execute(
            table.update().where(table.c.id == sa.bindparam("_id"), table.c.version == sa.bindparam("_version"))
            .values(version=table.c.version + 1),
            [{"_id": old.id, "_version": old.version, "updated_at": now,
              **{name: getattr(new, name) for name in _PLANNED_FIELDS}} for old, new in updates])
    if result.rowcount != len(updates):
        raise StaleDataError("an event changed while its calendar was re-planned")


def lock_patient(patient: Patient) -> None:
    """Serialise calendar writes per patient (and make calendar readers wait for in-flight
    writers): lock the patient row alone (not its site or study) and reload it, so a change
    committed by a concurrent writer is seen. Flush pending changes first."""
    db.session.execute(sa.select(Patient).where(Patient.id == patient.id)
                       .with_for_update(of=Patient.__table__).execution_options(populate_existing=True))


def _write_changes(patient: Patient, stored: Sequence[EventRow], changes: CalendarChanges, *,
                   facts: Mapping[str, EventFact] | None = None, reason: str | None = None,
                   also: Sequence[EventRow] = ()) -> list[EventRow]:
    """Apply a plan's changes in bulk, audit them, and hand every touched event to the reminders
    hook. `also`: events the caller already changed (a recorded visit). Returns the touched rows."""
    check_calendar_size(len(stored) + len(changes.to_create))
    now = utcnow()
    session = db.session
    if reason is not None:
        session.info[REASON_KEY] = reason
    created, encoded = _new_rows(patient.id, changes.to_create, facts or {}, now)
    # The audit records first: new events are checked against them as they are inserted (0009).
    record_many(session, action="create", entity="events", changes_by_id={
        str(row.id): {name: {"before": None, "after": getattr(row, name)} for name in _AUDITED_ON_CREATE}
        for row in created})
    _insert_events(created, encoded)

    by_id = {str(row.id): row for row in stored}
    updated, diffs, pairs = [], {}, []
    for event_id, event in changes.to_update:
        old = by_id[event_id]
        agents, _ = EventJson.agents(event.agents)
        flags, _ = EventJson.flags(event.flags)
        new = old._replace(cycle=event.cycle, day=event.day, label=event.label, agents=agents,
                           protocol_date=event.protocol_date, target_date=event.target_date,
                           window_start=event.window_start, window_end=event.window_end, flags=flags,
                           version=old.version + 1, updated_at=now)
        diffs[event_id] = {name: {"before": _plain(getattr(old, name)), "after": _plain(getattr(new, name))}
                           for name in _PLANNED_FIELDS if getattr(old, name) != getattr(new, name)}
        pairs.append((old, new))
        updated.append(new)
    _update_events(pairs, now)

    cancelled = []
    if changes.to_cancel:
        ids = [by_id[event_id].id for event_id in changes.to_cancel]
        table = Event.__table__
        result = session.execute(
            table.update().where(table.c.id.in_(ids), table.c.status == "planned")
            .values(status="cancelled", reason=reason, version=table.c.version + 1, updated_at=now))
        if result.rowcount != len(ids):
            raise StaleDataError("an event changed while its calendar was re-planned")
        cancelled = [by_id[event_id]._replace(status="cancelled", reason=reason, version=by_id[event_id].version + 1,
                                              updated_at=now) for event_id in changes.to_cancel]
    if updated or cancelled:
        record_many(session, action="update", entity="events", changes_by_id={
            **diffs,
            **{str(row.id): {"status": {"before": "planned", "after": "cancelled"}} for row in cancelled}})
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Event):  # the ORM's copies are out of date after the bulk UPDATEs
                session.expire(obj)

    touched = [*also, *created, *updated, *cancelled]
    _sync_reminders(patient, touched, now, fresh=not stored and not also)
    return touched


def plan_new_patient(patient: Patient, facts: Mapping[str, EventFact] | None = None) -> list[EventRow]:
    """Plan and store the whole calendar of a patient who has none yet (enrolment). `facts` are
    visits already recorded elsewhere (an import): they shape the plan and give the events their
    status. Does not commit."""
    facts = facts or {}
    db.session.flush()  # the patient row, which the events reference
    check_recorded_dates(patient, facts)  # before planning: a C1D1 in year 1 would plan a century
    planned = plan_calendar(build_plan_inputs(patient), facts)
    if facts:
        check_imported_visits(planned, facts, latest_today(patient))
        check_recorded_dates(patient, facts, planned)
    return _write_changes(patient, [], CalendarChanges(to_create=planned), facts=facts)


# -- many new calendars at once (an import batch) -------------------------------------------------

def new_calendar(patient: Patient, planned: Sequence[PlannedEvent], facts: Mapping[str, EventFact],
                 now: datetime) -> tuple[list[tuple], list[dict[str, Any]], dict[str, Any]]:
    """A new patient's planned calendar as rows to store with :func:`write_new_calendars`: the events
    (EVENT_COLUMNS order, JSON encoded), their reminders, and the changes of the calendar's audit
    record (every event with what :func:`_write_changes` records of it, and its id). No database access."""
    check_calendar_size(len(planned))
    rows, encoded = _new_rows(patient.id, planned, facts, now)
    policy = reminders.reminder_policy(patient.study)
    channel, zone = reminders.planned_channel(patient, new=True), patient.effective_timezone
    last, kinds = reminders.horizon_end(now), reminders.REMINDED_KINDS
    reminder_rows = [reminder for row in rows if row.kind in kinds and row.target_date <= last
                     for reminder in reminders.reminder_rows_for(patient, row, policy, now, channel=channel,
                                                                 zone_name=zone)]
    return encoded, reminder_rows, {"events": {"before": None, "after": _calendar_columns(rows)}}


_DATE_COLUMNS = frozenset({"protocol_date", "target_date", "window_start", "window_end", "actual_date"})


def _calendar_columns(rows: Sequence[EventRow]) -> dict[str, list[Any]]:
    """What the audit record of a new calendar says of its events, by column: `id`, then each field
    :func:`_write_changes` audits of a created event (the patient is the record's entity id); the
    n-th value of every column belongs to the n-th event."""
    columns = dict(zip(EVENT_COLUMNS, zip(*rows))) if rows else {name: () for name in EVENT_COLUMNS}
    out: dict[str, list[Any]] = {"id": [str(value) for value in columns["id"]]}
    for name in _AUDITED_ON_CREATE[1:]:
        out[name] = ([value.isoformat() if value is not None else None for value in columns[name]]
                     if name in _DATE_COLUMNS else list(columns[name]))
    return out


def write_new_calendars(events: Sequence[tuple], reminder_rows: Sequence[dict[str, Any]],
                        audits: Mapping[uuid.UUID, tuple[dict[str, Any], str]]) -> None:
    """Store the calendars of many patients who had none (an import batch; the patients already
    flushed) in the session's transaction: one COPY of their audit records (one per patient's
    calendar, entity `events`, the patient's id, naming every event: `audits` gives its changes and
    reason), then one of their events, one of their reminders."""
    session = db.session
    # The audit records first: new events are checked against them as they are inserted (0009).
    record_many(session, action="create", entity="events",
                changes_by_id={str(pid): changes for pid, (changes, _) in audits.items()},
                reasons={str(pid): reason for pid, (_, reason) in audits.items()})
    if session.connection().dialect.name == "postgresql":
        _insert_events(list(events), list(events))
    else:
        _insert_events([EventRow(*v[:7], json.loads(v[7]), *v[8:12], json.loads(v[12]), *v[13:]) for v in events],
                       list(events))
    reminders.copy_new_reminder_rows(reminder_rows)


def check_imported_visits(planned: Sequence[PlannedEvent], facts: Mapping[str, EventFact], today: date) -> None:
    """Visits recorded elsewhere must exist in the calendar, not be in the future, and follow
    each other in order within each clock (the rules of recording a visit through the API)."""
    by_key = {event.key: event for event in planned}
    for key, fact in facts.items():
        if key not in by_key:
            raise InvalidInput("visits", f"{key} is not in this patient's calendar.")
        if fact.actual_date is not None and fact.actual_date > today:
            raise InvalidInput("visits", f"{key}: {fact.actual_date.isoformat()} is in the future.")
    previous: dict[str, tuple[str, date]] = {}
    for event in sorted((by_key[key] for key in facts), key=lambda e: (e.protocol_date, e.key)):
        actual = facts[event.key].actual_date
        if actual is None:
            continue
        last = previous.get(event.kind)
        if last is not None and actual < last[1]:
            raise InvalidInput("visits", f"{event.key}: {actual.isoformat()} is before the previous visit "
                                         f"({last[0]} on {last[1].isoformat()}).")
        previous[event.kind] = (event.key, actual)


def replan_patient(patient: Patient, today: date, reason: str | None, *,
                   also: Sequence[EventRow] = ()) -> list[EventRow]:
    """Bring the stored calendar in line with what has been recorded and with the patient's
    current state (discontinuation, end of follow-up), changing only planned events dated `today`
    or later; history and ids are kept (schedules.calendar_replans.replan). Locks the patient; does not
    commit. Returns every event created, updated or cancelled."""
    db.session.flush()
    lock_patient(patient)
    stored, existing = load_events(sa.select(*event_columns()).where(Event.__table__.c.patient_id == patient.id),
                             with_plans=True)
    changes = replan(existing, build_plan_inputs(patient), facts_of(stored), today)
    return _write_changes(patient, stored, changes, reason=reason, also=also)


def replan_study(study_id: uuid.UUID, reason: str) -> int:
    """After a protocol amendment: re-plan the future of every patient still on study, one patient per
    transaction (a failure leaves the others re-planned and is raised). Returns the number re-planned."""
    patient_ids = list(db.session.scalars(sa.select(Patient.id).where(
        Patient.study_id == study_id, Patient.status != "off_study").order_by(Patient.subject_id)))
    for patient_id in patient_ids:
        patient = db.session.get(Patient, patient_id)
        try:
            if has_calendar(patient):
                replan_patient(patient, site_today(patient), reason)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return len(patient_ids)


def has_calendar(patient: Patient) -> bool:
    """Enrolment plans the calendar; a record without one (legacy rows) is not planned implicitly."""
    return db.session.scalar(sa.select(sa.exists().where(Event.patient_id == patient.id)))
