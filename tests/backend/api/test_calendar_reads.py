"""Reading calendars cheaply (backend/services/calendar_reads.py): the 304 path from one indexed read, the
calendar version every writer bumps, the fast dump that equals the schemas', `?kind=`, gzip, and
`PATCH …?changed_only=true`."""
from __future__ import annotations

import gzip
import json
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.models import CalendarVersion, Event
from backend.schemas.calendars import CalendarSchema, PatientCalendarSchema
from backend.services import calendar_reads
from backend.services.calendar_reads import calendar_body, dump_calendar, encode_calendar, load_events
from tests.factories import SiteFactory, UserFactory
from tests.factories_patients import enrol, events_by_key, site_today


def url(patient):
    return f"/api/v1/patients/{patient.id}/calendar"


def version_of(patient):
    db.session.expire_all()
    return db.session.scalar(sa.select(CalendarVersion.version).where(CalendarVersion.patient_id == patient.id))


@contextmanager
def statements():
    """Every statement sent, through the ORM's engine or the held connection (backend.held_reads)."""
    from backend.held_reads import HeldReads

    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    held_first = HeldReads.first

    def held(self, sql, params):
        seen.append(sql)
        return held_first(self, sql, params)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    HeldReads.first = held
    try:
        yield seen
    finally:
        HeldReads.first = held_first
        sa.event.remove(engine, "before_cursor_execute", note)


def test_a_current_etag_is_answered_304_from_one_statement_that_also_signs_the_request_in(client, auth, site,
                                                                                           nurse):
    patient = enrol(site)
    etag = client.get(url(patient), headers=auth.headers(nurse)).headers["ETag"]
    headers, path = {**auth.headers(nurse), "If-None-Match": etag}, url(patient)
    with statements() as seen:
        answer = client.get(path, headers=headers)
    assert answer.status_code == 304 and answer.data == b""
    assert len(seen) == 1  # one round trip: sign-in, account, scope and the calendar version together
    assert "calendar_versions" in seen[0] and "sign_ins" in seen[0] and "FROM events" not in seen[0]


def test_every_kind_of_calendar_change_moves_the_version_and_the_etag(client, auth, site, nurse):
    patient = enrol(site)
    enrolled = version_of(patient)
    assert enrolled >= 1
    etag = client.get(url(patient), headers=auth.headers(nurse)).headers["ETag"]
    scan = min((e for e in events_by_key(patient.id).values() if e.kind == "tumor_assessment"),
               key=lambda e: e.target_date)
    booked = client.patch(f"/api/v1/patients/{patient.id}/events/{scan.id}", headers=auth.headers(nurse),
                          json={"appointment": {"time": "10:00", "location": None}})
    assert booked.status_code == 200 and version_of(patient) > enrolled
    answer = client.get(url(patient), headers={**auth.headers(nurse), "If-None-Match": etag})
    assert answer.status_code == 200 and answer.headers["ETag"] != etag
    # A write outside the API (a re-plan, a migration, another service) moves it too: triggers on events.
    before = version_of(patient)
    from backend.models.audit import record

    db.session.execute(sa.update(Event).where(Event.id == scan.id).values(label="Scan"))
    record(db.session, action="update", entity="events", entity_id=str(scan.id),
           changes={"label": {"before": scan.label, "after": "Scan"}})  # every change to events is audited
    db.session.commit()
    assert version_of(patient) == before + 1


def test_the_etag_depends_on_audience_and_query(client, auth, site, nurse):
    patient = enrol(site)
    tags = {client.get(url(patient) + query, headers=auth.headers(nurse)).headers["ETag"]
            for query in ("", "?kind=dose", "?kind=dose&kind=symptom_survey", f"?from={site_today(site)}")}
    assert len(tags) == 4


def test_someone_out_of_scope_gets_404_even_with_an_etag(client, auth, site, nurse):
    patient = enrol(site)
    etag = client.get(url(patient), headers=auth.headers(nurse)).headers["ETag"]
    stranger = UserFactory(role="nurse", sites=[SiteFactory()])
    answer = client.get(url(patient), headers={**auth.headers(stranger), "If-None-Match": etag})
    assert answer.status_code == 404


@pytest.mark.parametrize("schema, staff", [(CalendarSchema, True), (PatientCalendarSchema, False)])
def test_the_fast_dump_is_exactly_what_the_schema_dumps(client, auth, site, nurse, schema, staff):
    patient = enrol(site, "INET-PYR-VNR")  # diary days, doses, scans, surveys
    scan = min((e for e in events_by_key(patient.id).values() if e.kind == "tumor_assessment"),
               key=lambda e: e.target_date)
    client.patch(f"/api/v1/patients/{patient.id}/events/{scan.id}", headers=auth.headers(nurse),
                 json={"appointment": {"time": "08:05", "location": "Imaging, 2nd floor"}})
    dose = min((e for e in events_by_key(patient.id).values() if e.kind == "dose"), key=lambda e: e.target_date)
    client.patch(f"/api/v1/patients/{patient.id}/events/{dose.id}", headers=auth.headers(nurse),
                 json={"status": "missed", "reason": "unwell"})
    head = calendar_reads.calendar_head(_admin(), patient.id)
    body = calendar_body(head, load_events(patient.id, {}), calendar_reads.utcnow())
    fast = dump_calendar(body, staff=staff)
    from backend.services.calendar_events import state_of

    reference = schema().dump({**body, "events": [
        {**e._asdict(), "state": state_of(e, body["today"]).state,
         "days_overdue": state_of(e, body["today"]).days_overdue} for e in body["events"]]})
    assert fast == reference
    assert json.dumps(fast) == json.dumps(reference)  # the same keys in the same order
    for _ in range(2):  # the JSON text the API sends, first encoded, then from the per-event cache
        assert encode_calendar(body, staff=staff, calendar_version=head.version) == json.dumps(reference, separators=(",", ":"))
    kinds = {e["kind"] for e in fast["events"]}
    assert kinds == {"dose", "dosing_diary", "tumor_assessment", "symptom_survey"}
    assert any(e["appointment"] == {"time": "08:05", "location": "Imaging, 2nd floor"} for e in fast["events"])


def _admin():
    from backend.auth import principal_for

    return principal_for(UserFactory(role="admin"))


def test_kind_keeps_only_those_kinds_and_unknown_kinds_are_refused(client, auth, site, nurse):
    patient = enrol(site, "INET-PYR-VNR")
    answer = client.get(url(patient) + "?kind=tumor_assessment&kind=symptom_survey", headers=auth.headers(nurse))
    kinds = {e["kind"] for e in answer.get_json()["events"]}
    assert kinds == {"tumor_assessment", "symptom_survey"}
    refused = client.get(url(patient) + "?kind=lunch", headers=auth.headers(nurse))
    assert refused.status_code == 422 and "kind" in refused.get_json()["errors"]["query"]


def test_json_is_gzipped_for_clients_that_accept_it(client, auth, site, nurse):
    patient = enrol(site)
    plain = client.get(url(patient), headers=auth.headers(nurse))
    zipped = client.get(url(patient), headers={**auth.headers(nurse), "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.data) < len(plain.data) / 4
    unzipped = json.loads(gzip.decompress(zipped.data))
    assert unzipped["events"] == plain.get_json()["events"]
    assert zipped.headers["ETag"] == plain.headers["ETag"]  # weak validators survive compression


def test_changed_only_answers_with_just_the_events_the_change_touched(client, auth, site, nurse):
    patient = enrol(site)
    dose = min((e for e in events_by_key(patient.id).values() if e.kind == "dose"), key=lambda e: e.target_date)
    answer = client.patch(f"/api/v1/patients/{patient.id}/events/{dose.id}?changed_only=true",
                          headers=auth.headers(nurse), json={"status": "held", "reason": "neutropenia"})
    assert answer.status_code == 200
    changed = answer.get_json()
    assert set(changed) == {"patient_id", "as_of", "events"}
    ids = [e["id"] for e in changed["events"]]
    assert str(dose.id) in ids and len(ids) < 50
    full = {e["id"]: e for e in client.get(url(patient), headers=auth.headers(nurse)).get_json()["events"]}
    assert all(full[e["id"]] == e for e in changed["events"])  # the same events as the full calendar shows
    booked = client.patch(f"/api/v1/patients/{patient.id}/events/{dose.id}?changed_only=true",
                          headers=auth.headers(nurse), json={"appointment": {"time": "07:00"}})
    assert booked.status_code == 409  # a held visit cannot be booked …
    scan = min((e for e in events_by_key(patient.id).values() if e.kind == "tumor_assessment"),
               key=lambda e: e.target_date)
    booked = client.patch(f"/api/v1/patients/{patient.id}/events/{scan.id}?changed_only=1",
                          headers=auth.headers(nurse), json={"appointment": {"time": "07:00"}})
    assert [e["id"] for e in booked.get_json()["events"]] == [str(scan.id)]
    assert booked.get_json()["events"][0]["appointment"] == {"time": "07:00", "location": None}


def test_without_changed_only_the_answer_stays_the_whole_calendar(client, auth, site, nurse):
    patient = enrol(site)
    dose = min((e for e in events_by_key(patient.id).values() if e.kind == "dose"), key=lambda e: e.target_date)
    answer = client.patch(f"/api/v1/patients/{patient.id}/events/{dose.id}", headers=auth.headers(nurse),
                          json={"status": "held", "reason": "neutropenia"})
    assert len(answer.get_json()["events"]) == len(events_by_key(patient.id))


def test_patients_do_not_see_staff_fields_in_the_fast_dump(client, auth, site):
    user = UserFactory(role="patient")
    patient = enrol(site)
    patient.user_id = user.id
    db.session.commit()
    events = client.get(url(patient), headers=auth.headers(user)).get_json()["events"]
    assert events and not any("key" in e or "reason" in e for e in events)
    assert all(isinstance(e["appointment"], (dict, type(None))) for e in events)
