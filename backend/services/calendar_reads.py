"""Reading a patient's calendar fast: conditional GETs from one indexed read, and a dedicated JSON dump.

The validator: `calendar_versions.version` is bumped by triggers on `events` in the same transaction as
any event change (migration 0006), so the ETag is derived from it, the site's today (the derived
`state` of an event changes with the day), the audience and the query. A request whose
`If-None-Match` is current is answered 304 after ONE indexed read (patient ⋈ site ⋈ version by the
patient's primary key), which also decides scope: nothing is loaded or serialised. Through the API that
read is part of the request's sign-in statement (`SIGNED_IN_HEAD`, backend.sign_in_reads), and a text
made before for the same ETag is answered from `CalendarBodies` the same way.

The body: one SELECT of the columns the wire shows, and :func:`dump_calendar`, which builds exactly the
JSON `backend.schemas.calendars.CalendarSchema` / `PatientCalendarSchema` produce (a test compares
them) without marshmallow's per-field work: 227 events × 18 fields is most of a calendar's cost.
The schemas stay the documentation of the shape (OpenAPI) and the reference of the dump.
"""
from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timezone
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, SignedInRead, can_see_patient_at, parse_id
from backend.errors import NotFound
from backend.extensions import db
from backend.models import CalendarVersion, Event, Patient, Site
from backend.models.base import utcnow
from backend.services.calendar_events import state_of
from backend.services.calendars import etag_matches, local_today

_KIND_ORDER = {"dose": 0, "dosing_diary": 1, "tumor_assessment": 2, "symptom_survey": 3}

# What the wire shows of an event, in the schema's field order (staff also see key and reason).
VIEW_COLUMNS = ("id", "kind", "cycle", "day", "label", "agents", "protocol_date", "target_date", "window_start",
                "window_end", "status", "actual_date", "version", "flags", "appointment_time",
                "appointment_location", "updated_at", "key", "reason")
EventView = namedtuple("EventView", (*VIEW_COLUMNS[:14], "appointment", "updated_at", "key", "reason"))

Head = namedtuple("Head", "patient_id site_id study_id timezone version")


# -- the validator ----------------------------------------------------------------------------------

def _head_statement(patient_id: uuid.UUID, *, lock: bool):
    stmt = (sa.select(Patient.id, Patient.site_id, Site.study_id, Site.timezone, CalendarVersion.version)
            .join(Site, Site.id == Patient.site_id)
            .outerjoin(CalendarVersion, CalendarVersion.patient_id == Patient.id)
            .where(Patient.id == patient_id))
    # Readers wait for in-flight calendar writers (they lock the patient row) before noting `as_of`.
    return stmt.with_for_update(read=True, of=Patient.__table__) if lock else stmt


def calendar_head(principal: Principal, raw_id: str | uuid.UUID, *, lock: bool = False) -> Head:
    """The patient's scope facts and calendar version in one indexed read; 404 when the patient does
    not exist or is out of the caller's scope (the same rule as `backend.auth.visible_patient`)."""
    patient_id = raw_id if isinstance(raw_id, uuid.UUID) else parse_id(raw_id, "patient")
    return visible_head(principal, db.session.execute(_head_statement(patient_id, lock=lock)).first())


def visible_head(principal: Principal, row: tuple | None) -> Head:
    """A head row (`_head_statement`'s columns) as a `Head`; 404 when there is no patient or it is out
    of the caller's scope."""
    if row is None or row[0] is None or not can_see_patient_at(principal, row[0], row[1], row[2]):
        raise NotFound("No such patient.")
    return Head(row[0], row[1], row[2], row[3], row[4] or 0)


def _signed_in_head_statement():
    stmt = _head_statement(sa.bindparam("patient_id", type_=sa.Uuid), lock=False)
    return stmt.with_only_columns(*(column.label(f"head_{n}") for n, column in enumerate(stmt.selected_columns)),
                                  maintain_column_froms=True)


def _path_patient_id(view_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {"patient_id": uuid.UUID(str(view_kwargs.get("id")))}
    except ValueError:
        return {"patient_id": None}  # no row: the view answers 404 as for any unknown id


# The calendar's head read in the same statement as the sign-in (backend.auth.require_roles(read=...)):
# a 304, or a 200 from the body cache, is then one round trip to the database.
SIGNED_IN_HEAD = SignedInRead(_signed_in_head_statement, _path_patient_id)


def calendar_etag(head: Head, audience: str, query: Mapping[str, Any], now: datetime | None = None) -> str:
    """A weak validator: the calendar version, the site's today, the audience and the query."""
    kinds = ",".join(sorted(query.get("kind") or ()))
    parts = [str(head.patient_id), str(head.version), local_today(head.timezone, now).isoformat(), audience, kinds,
             *(str(query.get(name)) for name in ("from", "to", "updated_since"))]
    return 'W/"' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


# -- reading ------------------------------------------------------------------------------------------

def _columns() -> list:
    table = Event.__table__
    return [sa.cast(table.c[name], sa.Text).label(name) if name in ("agents", "flags") else table.c[name]
            for name in VIEW_COLUMNS]


class _Decoded:
    """JSON column texts decoded once per distinct text (a calendar repeats a handful of agent sets and
    flag sets hundreds of times); the values handed out are shared: read-only."""

    agents: dict[str, list[dict[str, Any]]] = {}
    flags: dict[str, list[str]] = {}
    LIMIT = 4096

    @classmethod
    def get(cls, cache: dict, text: str | None) -> Any:
        key = text or "[]"
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= cls.LIMIT:
                cache.clear()
            hit = cache[key] = json.loads(key)
        return hit


def _appointment(at: time | None, location: str | None) -> dict[str, Any] | None:
    return None if at is None else {"time": at.strftime("%H:%M"), "location": location}


def _views(stmt) -> list[EventView]:
    agents, flags, get = _Decoded.agents, _Decoded.flags, _Decoded.get
    rows = [EventView(r[0], r[1], r[2], r[3], r[4], get(agents, r[5]), r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                      get(flags, r[13]), _appointment(r[14], r[15]), r[16], r[17], r[18])
            for r in db.session.execute(stmt).all()]
    rows.sort(key=lambda row: (row.target_date, _KIND_ORDER.get(row.kind, 9), row.cycle or 0, row.day or 0, row.key))
    return rows


def load_events(patient_id: uuid.UUID, query: Mapping[str, Any]) -> list[EventView]:
    """The patient's events as the wire shows them, sorted by target date (`from`/`to` on the target
    date, inclusive; `kind`: those kinds only; `updated_since`: changed at or after that instant,
    cancelled ones included)."""
    table = Event.__table__
    stmt = sa.select(*_columns()).where(table.c.patient_id == patient_id)
    if query.get("from") is not None:
        stmt = stmt.where(table.c.target_date >= query["from"])
    if query.get("to") is not None:
        stmt = stmt.where(table.c.target_date <= query["to"])
    if query.get("updated_since") is not None:
        stmt = stmt.where(table.c.updated_at >= query["updated_since"])
    if query.get("kind"):
        stmt = stmt.where(table.c.kind.in_(sorted(set(query["kind"]))))
    return _views(stmt)


def events_by_id(patient_id: uuid.UUID, event_ids: Iterable[uuid.UUID]) -> list[EventView]:
    """These events of the patient (as they are now), sorted like the calendar."""
    ids = sorted({event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)) for event_id in event_ids})
    if not ids:
        return []
    table = Event.__table__
    return _views(sa.select(*_columns()).where(table.c.patient_id == patient_id, table.c.id.in_(ids)))


def calendar_body(head: Head, events: list[EventView], as_of: datetime) -> dict[str, Any]:
    """`today` is the site's: each event's derived `state` (`schedules.visit_states`) is read on it."""
    return {"patient_id": str(head.patient_id), "as_of": as_of, "events": events,
            "today": local_today(head.timezone, as_of)}


def conditional_calendar(principal: Principal, raw_id: str | uuid.UUID, audience: str, query: Mapping[str, Any],
                         if_none_match: str | None, head_row: tuple | None = None) -> tuple[bytes | None, str]:
    """(the calendar as JSON, UTF-8, with a final newline; etag), or (None, etag) when the client's
    copy is current (304).

    `head_row`: the head read with the sign-in (`SIGNED_IN_HEAD`), else it is read here. A 304 is
    decided from the head alone; so is a 200 whose text `CalendarBodies` holds for the same ETag. A
    text is made by re-reading the head under a share lock of the patient row (so a writer in flight
    is waited for, and `as_of` is noted after it), then the events, dumped with :func:`dump_calendar`."""
    if head_row is not None or if_none_match:
        head = visible_head(principal, head_row) if head_row is not None else calendar_head(principal, raw_id)
        etag, text, current = answer_from_head(head, audience, query, if_none_match)
        if current:
            return None, etag
        if text is not None:
            return text, etag
        raw_id = head.patient_id
    head = calendar_head(principal, raw_id, lock=True)
    as_of = utcnow()
    etag = calendar_etag(head, audience, query, as_of)
    text = CalendarBodies.get(etag)
    if text is None:
        body = calendar_body(head, load_events(head.patient_id, query), as_of)
        text = CalendarBodies.put(etag, (encode_calendar(body, staff=audience == "staff",
                                                         calendar_version=head.version) + "\n").encode())
    return text, etag


def answer_from_head(head: Head, audience: str, query: Mapping[str, Any],
                     if_none_match: str | None) -> tuple[str, bytes | None, bool]:
    """What can be answered without reading an event: (the ETag, the cached text for it or None,
    whether the client's copy is current)."""
    etag = calendar_etag(head, audience, query, utcnow())
    if etag_matches(if_none_match, etag):
        return etag, None, True
    return etag, CalendarBodies.get(etag), False


class CalendarBodies:
    """Whole calendar texts by ETag, in process memory (bounded by size, least recently used first out).

    The ETag hashes the patient, the calendar version, the site's today, the audience and the query:
    everything the text depends on (an event's `state` is derived from its row and today). Any change
    to a patient's events moves the version in the writer's transaction (triggers, migration 0006), and
    the version is read before the events it was made from, so a text is never older than its key; a
    new day is a new key. A text is handed out only after the request's sign-in, account and scope
    were checked (the held read). The `as_of` inside is when it was made: at most as new as the
    version says, so `updated_since=as_of` can only fetch more, never miss a change."""

    texts: "OrderedDict[str, bytes]" = OrderedDict()
    size = 0
    LIMIT_BYTES = 32 * 1024 * 1024  # bytes, per worker process
    lock = threading.Lock()

    @classmethod
    def get(cls, etag: str) -> bytes | None:
        with cls.lock:
            text = cls.texts.get(etag)
            if text is not None:
                cls.texts.move_to_end(etag)
            return text

    @classmethod
    def put(cls, etag: str, text: bytes) -> bytes:
        with cls.lock:
            if etag not in cls.texts and len(text) <= cls.LIMIT_BYTES:
                cls.texts[etag] = text
                cls.size += len(text)
                while cls.size > cls.LIMIT_BYTES:
                    cls.size -= len(cls.texts.popitem(last=False)[1])
        return text

    @classmethod
    def variant(cls, etag: str, encoding: str, make: Callable[[], bytes]) -> bytes:
        """The text for `etag` compressed with `encoding`, made once (`make`) and kept like the text."""
        key = f"{etag};{encoding}"
        return cls.get(key) or cls.put(key, make())

    @classmethod
    def clear(cls) -> None:
        with cls.lock:
            cls.texts.clear()
            cls.size = 0


# -- the dump -------------------------------------------------------------------------------------

def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _agents(agents: list[dict[str, Any]], cache: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    hit = cache.get(id(agents))
    if hit is None:
        hit = cache[id(agents)] = [{name: agent[name] for name in ("name", "dose", "unit") if name in agent}
                                   for agent in agents]
    return hit


def dump_event(e: EventView, today: date, *, staff: bool, agents_cache: dict | None = None) -> dict[str, Any]:
    """One event exactly as `EventSchema` (staff) or `PatientEventSchema` dumps it; `state` and
    `days_overdue` on the site's `today` through `state_of`, as every other view of the event."""
    state = state_of(e, today)
    out = {
        "id": str(e.id), "kind": e.kind, "cycle": e.cycle, "day": e.day, "label": e.label,
        "agents": _agents(e.agents, {} if agents_cache is None else agents_cache),
        "protocol_date": _day(e.protocol_date), "target_date": _day(e.target_date),
        "window_start": _day(e.window_start), "window_end": _day(e.window_end), "status": e.status,
        "state": state.state, "days_overdue": state.days_overdue, "actual_date": _day(e.actual_date), "version": e.version, "flags": list(e.flags),
        "appointment": None if e.appointment is None else dict(e.appointment), "updated_at": _instant(e.updated_at),
    }
    if staff:
        out["key"] = e.key
        out["reason"] = e.reason
    return out


def dump_calendar(body: Mapping[str, Any], *, staff: bool) -> dict[str, Any]:
    """`{"patient_id", "as_of", "events"}` exactly as `CalendarSchema` (staff) or
    `PatientCalendarSchema` dumps it."""
    agents_cache: dict[int, list[dict[str, Any]]] = {}
    return {"patient_id": body["patient_id"], "as_of": _instant(body["as_of"]),
            "events": [dump_event(e, body["today"], staff=staff, agents_cache=agents_cache) for e in body["events"]]}


def changed_events(principal: Principal, patient_id: uuid.UUID, audience: str,
                   event_ids: Iterable[uuid.UUID]) -> dict[str, Any]:
    """The calendar's shape holding only these events as they are now (PATCH `?changed_only=true`)."""
    head = calendar_head(principal, patient_id, lock=True)
    as_of = utcnow()
    return dump_calendar(calendar_body(head, events_by_id(head.patient_id, event_ids), as_of),
                         staff=audience == "staff")


class _Fragments:
    """Each event's JSON text, kept per (patient's calendar version, event id, event version,
    updated_at, the site's today, audience): any change to a patient's events moves the calendar version (triggers),
    so a changed event never matches an old text. Bounded; cleared when full. Repeated reads of an
    unchanged calendar (several devices, staff pages, a stale If-None-Match) encode nothing."""

    texts: dict[tuple, str] = {}
    LIMIT = 50_000

    @classmethod
    def of(cls, calendar_version: int, e: EventView, today: date, staff: bool, agents_cache: dict) -> str:
        key = (calendar_version, e.id, e.version, e.updated_at, today, staff)
        text = cls.texts.get(key)
        if text is None:
            if len(cls.texts) >= cls.LIMIT:
                cls.texts.clear()
            text = cls.texts[key] = _encode(dump_event(e, today, staff=staff, agents_cache=agents_cache))
        return text


def _encode(value: Any) -> str:
    """Flask's JSON provider's output for the same value (ASCII, compact)."""
    return json.dumps(value, separators=(",", ":"))


def encode_calendar(body: Mapping[str, Any], *, staff: bool, calendar_version: int) -> str:
    """`dump_calendar` as JSON text, the events' texts from `_Fragments` (`calendar_version`: the
    version the events were read at)."""
    agents_cache: dict[int, list[dict[str, Any]]] = {}
    events = ",".join(_Fragments.of(calendar_version, e, body["today"], staff, agents_cache) for e in body["events"])
    return (f'{{"patient_id":{_encode(body["patient_id"])},"as_of":{_encode(_instant(body["as_of"]))},'
            f'"events":[{events}]}}')
