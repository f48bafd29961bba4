"""A patient's calendar in the database: planned at enrolment, recorded visit by visit, re-planned.

The clocks are pure (`schedules/calendars.py`); this module feeds them a patient and their study
(:func:`build_plan_inputs`), writes what they plan in bulk, turns stored events back into the facts
the clocks need, and re-plans the future after every recording (:func:`replan_patient`).

Writing: every plan or re-plan goes through :func:`_write_changes`, which inserts new events in
bulk (PostgreSQL `COPY` in the caller's transaction), updates and cancels in bulk with a version
check, writes one audit record per kind of change, and calls the reminders hook
(:func:`_sync_reminders`) once with every event it touched. Nothing here commits except the HTTP
use cases at the bottom (recording a visit, calendar feeds), which own their transaction.

Offline sync: every calendar write first locks the patient row (`SELECT ... FOR UPDATE`) and only
then stamps `updated_at`; a calendar read takes a share lock on the same row before it notes its
`as_of` instant. So a client that passes the last `as_of` back as `updated_since` never misses a
change committed by a transaction that was in flight while it read.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import uuid
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from backend.auth import Principal, parse_id
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from backend.extensions import db
from backend.models import Event, Patient, Site
from backend.models.audit import REASON_KEY, record
from backend.models.base import utcnow
from backend.services import reminders
from backend.services.regimens import regimen_for
from schedules.calendars import (
    AgentDose,
    AssessmentSchedule,
    CalendarChanges,
    EventFact,
    ExistingEvent,
    PlanInputs,
    PlannedEvent,
    SurveySchedule,
    plan_calendar,
    replan,
)
from schedules.clinics import ClinicCalendar

# Where a country's national calendar misses regional bank holidays, the subdivision a site without
# one plans with: the UK's common calendar lacks Easter Monday and the August bank holiday of England.
DEFAULT_SUBDIVISIONS = {"GB": "ENG"}
DEFAULT_HORIZON_DAYS = 730
VISIT_KINDS = frozenset({"dose", "tumor_assessment"})  # clinic visits: the ones staff reschedule
PATIENT_RECORDABLE = {"dosing_diary": frozenset({"completed", "missed"})}
_KIND_ORDER = {"dose": 0, "dosing_diary": 1, "tumor_assessment": 2, "symptom_survey": 3}

# One stored event, as plain data: the same attribute names as `Event`, read-only, cheap to build.
EVENT_COLUMNS = ("id", "patient_id", "key", "kind", "cycle", "day", "label", "agents", "protocol_date",
                 "target_date", "window_start", "window_end", "flags", "status", "actual_date", "reason",
                 "version", "created_at", "updated_at")
EventRow = namedtuple("EventRow", EVENT_COLUMNS)
_PLANNED_FIELDS = ("cycle", "day", "label", "agents", "protocol_date", "target_date", "window_start",
                   "window_end", "flags")


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


# -- time -----------------------------------------------------------------------------------------

def local_today(zone: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()


def site_today(patient: Patient, now: datetime | None = None) -> date:
    """Today at the patient's clinic: the day that separates the past from the re-plannable future."""
    return local_today(patient.site.timezone, now)


def latest_today(patient: Patient, now: datetime | None = None) -> date:
    """The later of the clinic's and the patient's today: a recorded date after it is in the future
    wherever the patient is."""
    return max(site_today(patient, now), local_today(patient.effective_timezone, now))


# -- plan inputs ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _clinic(country: str, subdivision: str | None, closures: tuple[str, ...]) -> ClinicCalendar:
    return ClinicCalendar(country, frozenset(date.fromisoformat(d) for d in closures), subdivision)


def clinic_for(site: Site) -> ClinicCalendar:
    """The site's open days: its country's (and subdivision's) holidays plus its own closures."""
    subdivision = site.subdivision or DEFAULT_SUBDIVISIONS.get(site.country)
    return _clinic(site.country, subdivision, tuple(sorted(site.closures or ())))


def build_plan_inputs(patient: Patient) -> PlanInputs:
    """Everything the clocks need for `patient`, from the patient, their site and their study.

    Study settings read: `regimen_overrides` ({code: overrides for Regimen.with_overrides}),
    `survey` ({"interval_days", "window_days"}), `planning_horizon_days` (default 730), and the
    study's assessment interval, window and phases. Settings the domain refuses answer 422
    `invalid_study_settings` (never a 500).
    """
    study = patient.study
    settings = study.settings or {}
    regimen = regimen_for(study, patient.regimen)
    try:
        assessments = AssessmentSchedule(
            interval_days=study.assessment_interval_days, window_days=study.assessment_window_days,
            phases=tuple(tuple(phase) for phase in study.assessment_phases or ()))
        survey = settings.get("survey") or {}
        surveys = SurveySchedule(**{k: int(survey[k]) for k in ("interval_days", "window_days") if k in survey})
        return PlanInputs(
            regimen=regimen, first_dose=patient.first_dose_date, clinic=_clinic_or_422(patient.site),
            assessments=assessments, surveys=surveys,
            horizon_days=int(settings.get("planning_horizon_days", DEFAULT_HORIZON_DAYS)),
            discontinued_on=patient.discontinued_on, follow_up_end=patient.follow_up_end,
            progression_on=_progression_on(patient),
        )
    except (TypeError, ValueError) as error:
        raise InvalidInput("study", f"The study's calendar settings are invalid: {error}",
                           reason="invalid_study_settings") from None


def _progression_on(patient: Patient) -> date | None:
    """The date of the first RECIST 1.1 PD assessment: the imaging clock stops there."""
    from backend.models import TumourAssessment

    return db.session.scalar(sa.select(sa.func.min(TumourAssessment.date)).where(
        TumourAssessment.patient_id == patient.id, TumourAssessment.overall_response == "PD",
        TumourAssessment.baseline.is_(False)))


def _clinic_or_422(site: Site) -> ClinicCalendar:
    try:
        return clinic_for(site)
    except ValueError as error:
        raise InvalidInput("site", f"The site's clinic calendar is invalid: {error}",
                           reason="invalid_site_settings") from None


# -- stored events <-> the domain -----------------------------------------------------------------

class _Json:
    """Agent and flag sets between the domain and their JSON text, once per distinct set: a
    calendar repeats a handful of them hundreds of times. The lists handed out are shared: treat
    rows as read-only."""

    _agents_out: dict[tuple[AgentDose, ...], tuple[list[dict[str, Any]], str]] = {}
    _flags_out: dict[frozenset[str], tuple[list[str], str]] = {}
    _agents_in: dict[str, tuple[list[dict[str, Any]], tuple[AgentDose, ...]]] = {}
    _flags_in: dict[str, tuple[list[str], frozenset[str]]] = {}
    LIMIT = 4096

    @classmethod
    def agents(cls, agents: tuple[AgentDose, ...]) -> tuple[list[dict[str, Any]], str]:
        hit = cls._agents_out.get(agents)
        if hit is None:
            cls._bound(cls._agents_out)
            value = [a.to_dict() for a in agents]
            hit = cls._agents_out[agents] = (value, json.dumps(value))
        return hit

    @classmethod
    def flags(cls, flags: frozenset[str]) -> tuple[list[str], str]:
        hit = cls._flags_out.get(flags)
        if hit is None:
            cls._bound(cls._flags_out)
            value = sorted(flags)
            hit = cls._flags_out[flags] = (value, json.dumps(value))
        return hit

    @classmethod
    def agents_from(cls, text: str | None) -> tuple[list[dict[str, Any]], tuple[AgentDose, ...]]:
        hit = cls._agents_in.get(text or "[]")
        if hit is None:
            cls._bound(cls._agents_in)
            value = json.loads(text or "[]")
            hit = cls._agents_in[text or "[]"] = (value, tuple(AgentDose(a["name"], a["dose"], a["unit"])
                                                               for a in value))
        return hit

    @classmethod
    def flags_from(cls, text: str | None) -> tuple[list[str], frozenset[str]]:
        hit = cls._flags_in.get(text or "[]")
        if hit is None:
            cls._bound(cls._flags_in)
            value = json.loads(text or "[]")
            hit = cls._flags_in[text or "[]"] = (value, frozenset(value))
        return hit

    @classmethod
    def _bound(cls, cache: dict) -> None:
        if len(cache) >= cls.LIMIT:
            cache.clear()


def _event_columns() -> list:
    """Event columns in EVENT_COLUMNS order, the JSON ones as their text (decoded through _Json)."""
    table = Event.__table__
    return [sa.cast(table.c[name], sa.Text).label(name) if name in ("agents", "flags") else table.c[name]
            for name in EVENT_COLUMNS]


def _load(stmt, *, with_plans: bool = False) -> tuple[list[EventRow], list[ExistingEvent]]:
    """Run a SELECT of _event_columns(): plain rows and, on demand, what the clocks planned."""
    rows, existing = [], []
    agents_from, flags_from = _Json.agents_from, _Json.flags_from
    for r in db.session.execute(stmt).all():
        agents, agent_doses = agents_from(r[7])
        flags, flag_set = flags_from(r[12])
        row = EventRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], agents, r[8], r[9], r[10], r[11], flags,
                       r[13], r[14], r[15], r[16], r[17], r[18])
        rows.append(row)
        if with_plans:
            existing.append(ExistingEvent(str(row.id), row.status, PlannedEvent(
                key=row.key, kind=row.kind, cycle=row.cycle, day=row.day, label=row.label, agents=agent_doses,
                protocol_date=row.protocol_date, target_date=row.target_date, window_start=row.window_start,
                window_end=row.window_end, flags=flag_set)))
    return rows, existing


def stored_events(patient_id: uuid.UUID) -> list[EventRow]:
    """Every event of the patient, cancelled ones included, as plain rows."""
    return _load(sa.select(*_event_columns()).where(Event.__table__.c.patient_id == patient_id))[0]


def facts_of(rows: Iterable[EventRow]) -> dict[str, EventFact]:
    """What has been recorded: every non-planned event, and planned visits staff rescheduled
    (flag `rescheduled`: their target is the date staff chose)."""
    facts = {}
    for row in rows:
        rescheduled = "rescheduled" in (row.flags or ())
        if row.status != "planned" or rescheduled:
            facts[row.key] = EventFact(key=row.key, status=row.status, actual_date=row.actual_date,
                                       rescheduled_to=row.target_date if rescheduled else None,
                                       target_date=row.target_date)
    return facts


def _new_rows(patient_id: uuid.UUID, planned: Iterable[PlannedEvent], facts: Mapping[str, EventFact],
              now: datetime) -> tuple[list[EventRow], list[tuple]]:
    """Rows to insert (and the same rows with JSON columns encoded, in EVENT_COLUMNS order)."""
    planned = list(planned)
    rows, encoded = [], []
    for event_id, event in zip(_new_ids(len(planned)), planned):
        agents, agents_json = _Json.agents(event.agents)
        flags, flags_json = _Json.flags(event.flags)
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
    now = utcnow()
    session = db.session
    if reason is not None:
        session.info[REASON_KEY] = reason
    created, encoded = _new_rows(patient.id, changes.to_create, facts or {}, now)
    _insert_events(created, encoded)
    if created:
        record(session, action="create", entity="events", entity_id=str(patient.id),
               changes={"events_created": len(created), "event_ids": [str(row.id) for row in created]})

    by_id = {str(row.id): row for row in stored}
    updated, diffs, pairs = [], {}, []
    for event_id, event in changes.to_update:
        old = by_id[event_id]
        agents, _ = _Json.agents(event.agents)
        flags, _ = _Json.flags(event.flags)
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
        record(session, action="update", entity="events", entity_id=str(patient.id), changes={
            "events_updated": len(updated), "events_cancelled": len(cancelled),
            "updated": diffs, "cancelled_ids": list(changes.to_cancel)})
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
    planned = plan_calendar(build_plan_inputs(patient), facts)
    if facts:
        _check_recorded(planned, facts, latest_today(patient))
    return _write_changes(patient, [], CalendarChanges(to_create=planned), facts=facts)


def _check_recorded(planned: Sequence[PlannedEvent], facts: Mapping[str, EventFact], today: date) -> None:
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
    or later; history and ids are kept (schedules.calendars.replan). Locks the patient; does not
    commit. Returns every event created, updated or cancelled."""
    db.session.flush()
    lock_patient(patient)
    stored, existing = _load(sa.select(*_event_columns()).where(Event.__table__.c.patient_id == patient.id),
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


def record_scan_on_calendar(patient: Patient, scan_date: date, reason: str | None) -> list[EventRow]:
    """A tumour assessment was recorded: the planned scan visit whose window holds its date is
    completed on that date, and the calendar re-planned (a PD ends the imaging clock). Does not
    commit; the caller owns the transaction."""
    lock_patient(patient)
    if not has_calendar(patient):
        return []
    visit = db.session.scalar(
        sa.select(Event).where(Event.patient_id == patient.id, Event.kind == "tumor_assessment",
                               Event.status == "planned", Event.window_start <= scan_date,
                               Event.window_end >= scan_date)
        .order_by(sa.func.abs(Event.protocol_date - scan_date), Event.protocol_date).limit(1))
    also: list[EventRow] = []
    if visit is not None:
        visit.status, visit.actual_date = "completed", scan_date
        db.session.flush()
        also.append(_row_of(visit))
    return replan_patient(patient, min(site_today(patient), scan_date), reason, also=also)


# -- reading --------------------------------------------------------------------------------------

def _sort_key(row: EventRow) -> tuple:
    return (row.target_date, _KIND_ORDER.get(row.kind, 9), row.cycle or 0, row.day or 0, row.key)


def _filtered(stmt, query: Mapping[str, Any]):
    table = Event.__table__
    if query.get("from") is not None:
        stmt = stmt.where(table.c.target_date >= query["from"])
    if query.get("to") is not None:
        stmt = stmt.where(table.c.target_date <= query["to"])
    if query.get("updated_since") is not None:
        stmt = stmt.where(table.c.updated_at >= query["updated_since"])
    return stmt


def calendar_etag(patient: Patient, audience: str, query: Mapping[str, Any]) -> str:
    """A weak validator from the patient's events (count, newest change, sum of versions), the
    audience and the query: any create, update or cancellation changes it."""
    table = Event.__table__
    count, newest, versions = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(table.c.updated_at), sa.func.coalesce(sa.func.sum(table.c.version), 0))
        .where(table.c.patient_id == patient.id)).one()
    parts = [str(patient.id), str(count), newest.isoformat() if newest else "-", str(versions), audience,
             *(str(query.get(name)) for name in ("from", "to", "updated_since"))]
    return 'W/"' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def calendar(patient: Patient, query: Mapping[str, Any]) -> dict[str, Any]:
    """The patient's events sorted by target date (`from`/`to` on the target date, inclusive;
    `updated_since`: only events changed at or after that instant, cancelled ones included).
    `as_of` is the instant to pass back as `updated_since` next time."""
    db.session.execute(sa.select(Patient.id).where(Patient.id == patient.id).with_for_update(read=True))
    as_of = utcnow()
    stmt = _filtered(sa.select(*_event_columns()).where(Event.__table__.c.patient_id == patient.id), query)
    rows = sorted(_load(stmt)[0], key=_sort_key)
    return {"patient_id": str(patient.id), "as_of": as_of, "events": rows}


def calendar_if_changed(patient: Patient, audience: str, query: Mapping[str, Any],
                        if_none_match: str | None) -> tuple[dict[str, Any] | None, str]:
    """(calendar, etag), or (None, etag) when the client's copy is current (answer 304)."""
    etag = calendar_etag(patient, audience, query)
    if etag_matches(if_none_match, etag):
        return None, etag
    return calendar(patient, query), etag


# -- recording ------------------------------------------------------------------------------------

def parse_if_match(header: str | None) -> int | None:
    """An event version from If-Match: `3`, `"3"` or `W/"3"`; `*` or nothing means any version."""
    if header is None or not header.strip() or header.strip() == "*":
        return None
    raw = header.strip().removeprefix("W/").strip().strip('"')
    if not raw.isdigit():
        raise InvalidInput("If-Match", "Send the event's version, e.g. If-Match: \"3\".", location="headers")
    return int(raw)


def _recorded_neighbours(event: Event) -> tuple[tuple[str, date] | None, tuple[str, date] | None]:
    """The nearest earlier and later events of the same clock (kind) that carry an actual date."""
    base = (sa.select(Event.label, Event.actual_date)
            .where(Event.patient_id == event.patient_id, Event.kind == event.kind, Event.id != event.id,
                   Event.actual_date.is_not(None), Event.status != "cancelled"))
    before = db.session.execute(base.where(Event.protocol_date < event.protocol_date)
                                .order_by(Event.protocol_date.desc()).limit(1)).first()
    after = db.session.execute(base.where(Event.protocol_date > event.protocol_date)
                               .order_by(Event.protocol_date).limit(1)).first()
    return (tuple(before) if before else None), (tuple(after) if after else None)


def _check_actual_date(patient: Patient, event: Event, actual: date) -> None:
    """An actual date is never in the future (the later of clinic- and patient-local today), never
    before the previous recorded visit of the same clock, never after the next recorded one."""
    today = latest_today(patient)
    if actual > today:
        raise InvalidInput("actual_date", f"{actual.isoformat()} is in the future (today is {today.isoformat()}).",
                           reason="actual_date_in_future")
    before, after = _recorded_neighbours(event)
    if before is not None and actual < before[1]:
        raise InvalidInput("actual_date", f"{actual.isoformat()} is before the previous visit of this schedule "
                                          f"({before[0]} on {before[1].isoformat()}).", reason="actual_date_out_of_order")
    if after is not None and actual > after[1]:
        raise InvalidInput("actual_date", f"{actual.isoformat()} is after the next recorded visit of this schedule "
                                          f"({after[0]} on {after[1].isoformat()}).", reason="actual_date_out_of_order")


def _check_who_may_record(principal: Principal, event: Event, data: Mapping[str, Any]) -> None:
    """Staff in scope record anything; a patient records only their own dosing-diary entries, as
    taken (completed) or not (missed)."""
    if principal.role != "patient":
        return
    allowed = PATIENT_RECORDABLE.get(event.kind, frozenset())
    if data.get("status") not in allowed:
        raise Forbidden("Patients record their own dosing diary only; clinic visits are recorded by the site.",
                        reason="patient_cannot_record")


def _record_status(patient: Patient, event: Event, data: Mapping[str, Any]) -> None:
    if event.status != "planned" and not data.get("reason"):
        raise InvalidInput("reason", "Changing what was already recorded needs a reason.")
    actual = data.get("actual_date")
    if actual is not None:
        _check_actual_date(patient, event, actual)
    event.status = data["status"]
    event.actual_date = actual
    event.reason = data.get("reason")


def _reschedule(patient: Patient, event: Event, data: Mapping[str, Any]) -> None:
    """Staff move a planned clinic visit within its window (the window stays around the protocol
    date); outside it only with `force` (and the reason already required)."""
    if event.kind not in VISIT_KINDS:
        raise InvalidInput("target_date", "Only clinic visits (doses, tumour assessments) are rescheduled.",
                           reason="not_a_visit")
    if event.status != "planned":
        raise Conflict(f"The visit is {event.status}; only a planned visit can be rescheduled.",
                       reason="event_not_planned")
    target: date = data["target_date"]
    today = site_today(patient)
    if target < today:
        raise InvalidInput("target_date", f"{target.isoformat()} is in the past (today is {today.isoformat()}).")
    if not event.window_start <= target <= event.window_end and not data.get("force"):
        raise InvalidInput("target_date", f"{target.isoformat()} is outside the visit window "
                                          f"{event.window_start.isoformat()}..{event.window_end.isoformat()}; "
                                          "send \"force\": true to override.", reason="outside_window")
    event.target_date = target
    event.flags = sorted((set(event.flags or ()) - {"clinic_closed"}) | {"rescheduled"})
    event.reason = data["reason"]
    if not data.get("keep_appointment", True):  # a booking moves with the visit unless the nurse clears it
        event.appointment_time, event.appointment_location = None, None


def _row_of(event: Event) -> EventRow:
    return EventRow(*(getattr(event, name) for name in EVENT_COLUMNS))


def record_event(principal: Principal, patient: Patient, event_id: str, data: Mapping[str, Any],
                 if_match: str | None) -> list[uuid.UUID]:
    """Record a visit's outcome, or reschedule a planned visit, then re-plan the future; one
    transaction, audited with the reason. Commits; returns the ids of every event changed."""
    event_uuid = parse_id(event_id, "event")
    expected = parse_if_match(if_match)
    session = db.session
    try:
        lock_patient(patient)
        event = session.scalar(sa.select(Event).where(Event.id == event_uuid, Event.patient_id == patient.id)
                               .execution_options(populate_existing=True))
        if event is None:
            raise NotFound("No such event.")
        _check_who_may_record(principal, event, data)
        if expected is not None and expected != event.version:
            raise Conflict(f"The event is at version {event.version}, not {expected}; reload the calendar.",
                           reason="stale_version")
        if event.status == "cancelled":
            raise Conflict("The event was cancelled by a re-plan; it cannot be recorded.", reason="event_cancelled")
        session.info[REASON_KEY] = data.get("reason")
        if data.get("target_date") is not None:
            _reschedule(patient, event, data)
        else:
            _record_status(patient, event, data)
        session.flush()
        touched = replan_patient(patient, site_today(patient), data.get("reason"), also=[_row_of(event)])
        session.commit()
        return list(dict.fromkeys(row.id for row in touched))
    except StaleDataError:
        session.rollback()
        raise Conflict("The event was changed by someone else; reload the calendar.", reason="stale_version") from None
    except Exception:
        session.rollback()
        raise


# -- calendar feeds (iCalendar) -------------------------------------------------------------------

# Neutral summaries: a phone calendar is seen by others, so no diagnosis, drug or study names.
ICS_SUMMARIES = {
    "en": {"dose": "Clinic visit", "tumor_assessment": "Scan appointment", "symptom_survey": "Symptom survey"},
    "zh-CN": {"dose": "门诊就诊", "tumor_assessment": "影像检查预约", "symptom_survey": "症状问卷"},
}
ICS_NAME = {"en": "Clinic appointments", "zh-CN": "门诊预约"}


def _feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_calendar_feed(patient: Patient) -> str:
    """A new secret for the patient's subscription URL; the previous one stops working. Commits."""
    token = secrets.token_urlsafe(32)
    patient.calendar_feed_hash = _feed_hash(token)
    db.session.commit()
    return token


def revoke_calendar_feed(patient: Patient) -> None:
    patient.calendar_feed_hash = None
    db.session.commit()


def patient_for_feed(token: str) -> Patient:
    """The patient whose feed secret this is; unknown or revoked secrets answer 401."""
    patient = db.session.scalar(sa.select(Patient).where(Patient.calendar_feed_hash == _feed_hash(token)))
    if patient is None:
        raise Unauthorized("Unknown or revoked calendar feed.", reason="invalid_feed_token")
    return patient


def render_ics(patient: Patient) -> bytes:
    """The patient's clinic visits, scans and surveys as an iCalendar (RFC 5545) feed.

    All-day events on the target date, or timed in the site's zone (TZID, with its VTIMEZONE) when
    the visit is booked (an hour long, at the booked location); UID = event id (stable across
    re-plans); SEQUENCE = the event's version; cancelled events stay in the feed as STATUS:CANCELLED so subscribed phones
    remove them. Dosing-diary days are left out (one a day would flood a phone calendar; the app
    keeps the diary). Summaries are neutral (`ICS_SUMMARIES`).
    """
    from icalendar import Calendar
    from icalendar import Event as IcsEvent

    locale = patient.locale if patient.locale in ICS_SUMMARIES else "en"
    summaries = ICS_SUMMARIES[locale]
    feed = Calendar()
    feed.add("prodid", "-//Cadence//Patient calendar//EN")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", ICS_NAME[locale])
    feed.add("x-wr-timezone", patient.effective_timezone)
    feed.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", "PT6H")
    booked = {event_id: (at, location) for event_id, at, location in db.session.execute(
        sa.select(Event.id, Event.appointment_time, Event.appointment_location)
        .where(Event.patient_id == patient.id, Event.appointment_time.is_not(None)))}
    site_zone = ZoneInfo(patient.site.timezone)
    for row in sorted(stored_events(patient.id), key=_sort_key):
        if row.kind not in summaries:
            continue
        item = IcsEvent()
        item.add("uid", f"{row.id}@cadence")
        item.add("dtstamp", row.updated_at)
        item.add("last-modified", row.updated_at)
        if row.id in booked:
            at, location = booked[row.id]
            start = datetime.combine(row.target_date, at, tzinfo=site_zone)
            item.add("dtstart", start)
            item.add("dtend", start + timedelta(hours=1))
            if location:
                item.add("location", location)
        else:
            item.add("dtstart", row.target_date)
            item.add("dtend", row.target_date + timedelta(days=1))
        item.add("summary", summaries[row.kind])
        item.add("sequence", row.version)
        item.add("status", "CANCELLED" if row.status == "cancelled" else "CONFIRMED")
        item.add("transp", "TRANSPARENT")
        feed.add_component(item)
    if booked:
        feed.add_missing_timezones()
    return feed.to_ical()
