"""The calendar's text cache and the held read (backend/services/calendar_reads.py `CalendarBodies`,
backend/held_reads.py): a cached calendar is never older than the events, never reaches someone the
request's own sign-in, account and scope do not allow, and a new day is a new text."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.models import Event
from backend.models.audit import record
from backend.services import calendar_reads
from backend.services.calendar_reads import CalendarBodies
from tests.backend.api.test_calendar_reads import statements
from tests.factories import SiteFactory, UserFactory
from tests.factories_patients import enrol, events_by_key


def url(patient):
    return f"/api/v1/patients/{patient.id}/calendar"


def first_dose(patient):
    return min((e for e in events_by_key(patient.id).values() if e.kind == "dose"), key=lambda e: e.target_date)


def test_a_repeated_read_is_answered_from_the_cache_with_the_same_text_and_etag(client, auth, site, nurse):
    patient = enrol(site)
    headers = auth.headers(nurse)
    first = client.get(url(patient), headers=headers)
    assert CalendarBodies.get(first.headers["ETag"]) is not None
    path = url(patient)
    with statements() as seen:
        again = client.get(path, headers=headers)
    assert len(seen) == 1  # the sign-in and the calendar version: no event is read
    assert again.status_code == 200 and again.data == first.data and again.headers["ETag"] == first.headers["ETag"]


def test_a_change_through_the_api_is_never_answered_from_the_old_text(client, auth, site, nurse):
    patient = enrol(site)
    headers = auth.headers(nurse)
    before = client.get(url(patient), headers=headers)
    dose = first_dose(patient)
    client.patch(f"/api/v1/patients/{patient.id}/events/{dose.id}", headers=headers,
                 json={"status": "held", "reason": "neutropenia"})
    for extra in ({}, {"If-None-Match": before.headers["ETag"]}):
        after = client.get(url(patient), headers={**headers, **extra})
        assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
        shown = {e["id"]: e for e in after.get_json()["events"]}
        assert shown[str(dose.id)]["status"] == "held"


def test_a_change_outside_the_api_is_never_answered_from_the_old_text(client, auth, site, nurse):
    """Triggers on `events` move the calendar version whoever writes (a re-plan, a script)."""
    patient = enrol(site)
    headers = auth.headers(nurse)
    client.get(url(patient), headers=headers)
    dose = first_dose(patient)
    db.session.execute(sa.update(Event).where(Event.id == dose.id).values(label="Cycle 1 (moved)"))
    record(db.session, action="update", entity="events", entity_id=str(dose.id),
           changes={"label": {"before": dose.label, "after": "Cycle 1 (moved)"}})
    db.session.commit()
    shown = {e["id"]: e for e in client.get(url(patient), headers=headers).get_json()["events"]}
    assert shown[str(dose.id)]["label"] == "Cycle 1 (moved)"


def test_a_new_day_is_a_new_text_because_states_are_read_on_the_sites_today(client, auth, site, nurse,
                                                                           monkeypatch):
    patient = enrol(site)
    headers = auth.headers(nurse)
    today = client.get(url(patient), headers=headers)
    later = calendar_reads.utcnow() + timedelta(days=1)
    monkeypatch.setattr(calendar_reads, "utcnow", lambda: later)
    tomorrow = client.get(url(patient), headers={**headers, "If-None-Match": today.headers["ETag"]})
    assert tomorrow.status_code == 200 and tomorrow.headers["ETag"] != today.headers["ETag"]
    assert tomorrow.get_json()["as_of"] != today.get_json()["as_of"]  # made anew, not the cached text


def test_a_revoked_sign_in_is_refused_even_when_the_calendar_is_cached(client, auth, patient_and_user):
    patient, user = patient_and_user
    tokens = auth.tokens(user)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    cached = client.get(url(patient), headers=headers)
    assert cached.status_code == 200 and CalendarBodies.get(cached.headers["ETag"]) is not None
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    for extra in ({}, {"If-None-Match": cached.headers["ETag"]}):
        refused = client.get(url(patient), headers={**headers, **extra})
        assert refused.status_code == 401 and refused.get_json()["reason"] == "token_revoked"


def test_a_disabled_account_is_refused_even_when_the_calendar_is_cached(client, auth, patient_and_user):
    patient, user = patient_and_user
    headers = auth.headers(user)
    cached = client.get(url(patient), headers=headers)
    assert cached.status_code == 200
    user.is_active = False
    db.session.commit()
    for extra in ({}, {"If-None-Match": cached.headers["ETag"]}):
        assert client.get(url(patient), headers={**headers, **extra}).status_code == 401


def test_out_of_scope_callers_get_404_even_when_the_calendar_is_cached(client, auth, site, nurse,
                                                                      patient_and_user):
    patient, _ = patient_and_user
    cached = client.get(url(patient), headers=auth.headers(nurse))
    other_patient = UserFactory(role="patient")
    enrol(site).user_id = other_patient.id
    db.session.commit()
    strangers = [UserFactory(role="nurse", sites=[SiteFactory()]), other_patient]
    for stranger in strangers:
        for extra in ({}, {"If-None-Match": cached.headers["ETag"]}):
            answer = client.get(url(patient), headers={**auth.headers(stranger), **extra})
            assert answer.status_code == 404 and b"events" not in answer.data


def test_patients_and_staff_never_share_a_cached_text(client, auth, nurse, patient_and_user):
    patient, user = patient_and_user
    staff = client.get(url(patient), headers=auth.headers(nurse))
    own = client.get(url(patient), headers=auth.headers(user))
    assert staff.headers["ETag"] != own.headers["ETag"]
    assert all("key" not in e for e in own.get_json()["events"])
    assert all("key" in e for e in staff.get_json()["events"])


def test_the_held_connection_is_replaced_when_the_server_drops_it(client, auth, site, nurse, owner_engine):
    from backend.held_reads import held_reads

    patient = enrol(site)
    headers = auth.headers(nurse)
    assert client.get(url(patient), headers=headers).status_code == 200
    pid = held_reads()._connection().info.backend_pid
    with owner_engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert client.get(url(patient), headers=headers).status_code == 200
    assert held_reads()._connection().info.backend_pid != pid


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(CalendarBodies, "texts", type(CalendarBodies.texts)())
    monkeypatch.setattr(CalendarBodies, "size", 0)
    monkeypatch.setattr(CalendarBodies, "LIMIT_BYTES", 10)
    for n in range(5):
        CalendarBodies.put(f"etag-{n}", b"abcd")
    assert CalendarBodies.size <= 10 and CalendarBodies.get("etag-0") is None and CalendarBodies.get("etag-4") == b"abcd"


def test_the_held_autocommit_connection_is_never_the_pools(app):
    """Held out of the pool for good: the ORM must never be handed an autocommit connection."""
    from backend.held_reads import HeldReads

    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
        held = HeldReads(db.engine)._connection()
        assert held.autocommit and pool.checkedout() == before
        pooled = db.engine.raw_connection()
        try:
            assert pooled.driver_connection is not held and not pooled.driver_connection.autocommit
        finally:
            pooled.close()
        held.close()


def test_a_calendar_not_yet_cached_signs_the_request_in_once(client, auth, site, nurse):
    """The fast path reads the sign-in, finds no text and hands the request to Flask with what it read."""
    patient = enrol(site)
    headers = auth.headers(nurse)
    CalendarBodies.clear()
    with statements() as seen:
        answer = client.get(url(patient), headers=headers)
    assert answer.status_code == 200
    assert sum("sign_ins" in statement for statement in seen) == 1
