"""A patient's calendar over HTTP (CONTRACT.md "Patients"): reading, offline sync, recording visits,
rescheduling, re-planning the future, and the iCalendar feeds."""
from __future__ import annotations

import threading
from datetime import timedelta

import icalendar
import pytest
import sqlalchemy as sa

from backend.models import AuditRecord
from tests.factories import PASSWORD
from tests.factories_patients import enrol, events_by_key, monday_after, site_today

D = timedelta
DRUG_NAMES = ("inetetamab", "paclitaxel", "pertuzumab", "docetaxel", "pyrotinib", "vinorelbine", "INET")


def url(patient, event=None):
    base = f"/api/v1/patients/{patient.id}"
    return f"{base}/events/{event.id}" if event is not None else f"{base}/calendar"


def record(client, auth, user, patient, event, headers=None, **body):
    body = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}
    return client.patch(url(patient, event), json=body, headers={**auth.headers(user), **(headers or {})})


def snapshot(patient_id, kinds=None):
    return {key: (str(e.id), e.status, e.version, e.protocol_date, e.target_date, tuple(map(str, e.agents)))
            for key, e in events_by_key(patient_id).items() if kinds is None or e.kind in kinds}


# -- reading --------------------------------------------------------------------------------------

def test_the_calendar_is_sorted_by_target_date_and_filtered_by_it(client, auth, site, nurse):
    patient = enrol(site, "INET-PAC")
    answer = client.get(url(patient), headers=auth.headers(nurse))
    assert answer.status_code == 200
    calendar = answer.get_json()
    assert calendar["patient_id"] == str(patient.id)
    dates = [e["target_date"] for e in calendar["events"]]
    assert dates == sorted(dates) and len(dates) > 100
    first = calendar["events"][0]
    assert set(first) >= {"id", "kind", "cycle", "day", "label", "agents", "protocol_date", "target_date", "window_start",
                          "window_end", "status", "actual_date", "version", "flags", "reason", "updated_at"}
    start, end = patient.first_dose_date + D(20), patient.first_dose_date + D(30)
    window = client.get(f"{url(patient)}?from={start}&to={end}", headers=auth.headers(nurse)).get_json()["events"]
    assert window and all(start.isoformat() <= e["target_date"] <= end.isoformat() for e in window)
    assert client.get(f"{url(patient)}?from={end}&to={start}", headers=auth.headers(nurse)).status_code == 422


def test_a_patient_sees_their_calendar_with_the_dosing_diary_but_without_staff_notes(client, auth, site):
    patient = enrol(site, "INET-PYR-VNR", account={"username": "pat-1", "password": PASSWORD})
    login = client.post("/api/v1/auth/login", json={"username": "pat-1", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    events = client.get(url(patient), headers=headers).get_json()["events"]
    assert any(e["kind"] == "dosing_diary" for e in events)
    assert all("reason" not in e and "key" not in e for e in events)
    other = enrol(site)
    assert client.get(url(other), headers=headers).status_code == 404


# -- the two clocks ---------------------------------------------------------------------------------

def test_a_late_cycle_1_day_1_delays_later_dosing_but_no_assessment(client, auth, site, nurse):
    """schedules.calendar_planning: the dosing clock runs from each day 1's actual date; imaging never moves."""
    today = site_today(site)
    patient = enrol(site, "INET-PAC", first_dose=today - D(10))
    first_dose = patient.first_dose_date
    imaging_and_surveys = snapshot(patient.id, {"tumor_assessment", "symptom_survey"})
    before = snapshot(patient.id, {"dose"})
    c1d1 = events_by_key(patient.id)["dose:C1D1"]
    answer = record(client, auth, nurse, patient, c1d1, status="completed",
                    actual_date=first_dose + D(2), reason="Neutropenia recovered")
    assert answer.status_code == 200, answer.get_json()
    after = {e["key"]: e for e in answer.get_json()["events"]}
    assert after["dose:C1D1"]["status"] == "completed"
    assert after["dose:C1D1"]["actual_date"] == (first_dose + D(2)).isoformat()
    assert after["dose:C2D1"]["protocol_date"] == (first_dose + D(23)).isoformat()
    assert after["dose:C2D8"]["protocol_date"] == (first_dose + D(30)).isoformat()
    c2d1_id, _, c2d1_version, *_ = before["dose:C2D1"]
    assert after["dose:C2D1"]["id"] == c2d1_id  # ids survive re-planning
    assert after["dose:C2D1"]["version"] == c2d1_version + 1
    assert snapshot(patient.id, {"tumor_assessment", "symptom_survey"}) == imaging_and_surveys
    # Past but never recorded: not history, so it follows its day 1 (issue 9, item 1).
    assert after["dose:C1D8"]["protocol_date"] == (first_dose + D(9)).isoformat()
    assert after["dose:C1D8"]["id"] == before["dose:C1D8"][0]


def test_a_held_day_8_moves_nothing(client, auth, site, nurse):
    today = site_today(site)
    patient = enrol(site, "INET-PAC", first_dose=today - D(10))
    before = snapshot(patient.id)
    c1d8 = events_by_key(patient.id)["dose:C1D8"]
    answer = record(client, auth, nurse, patient, c1d8, status="held", reason="ANC 0.9")
    assert answer.status_code == 200, answer.get_json()
    after = snapshot(patient.id)
    assert after.pop("dose:C1D8")[1] == "held"
    before.pop("dose:C1D8")
    assert after == before


def test_rescheduling_day_1_moves_the_rest_of_its_cycle(client, auth, site, nurse):
    patient = enrol(site, "INET-PAC", first_dose=monday_after(site_today(site), 1))
    events = events_by_key(patient.id)
    c2d1 = events["dose:C2D1"]
    new_target = c2d1.protocol_date + D(2)
    answer = record(client, auth, nurse, patient, c2d1, target_date=new_target, reason="Patient travelling")
    assert answer.status_code == 200, answer.get_json()
    after = {e["key"]: e for e in answer.get_json()["events"]}
    assert after["dose:C2D1"]["target_date"] == new_target.isoformat()
    assert "rescheduled" in after["dose:C2D1"]["flags"]
    assert after["dose:C2D1"]["protocol_date"] == c2d1.protocol_date.isoformat()  # the window stays put
    assert after["dose:C2D8"]["protocol_date"] == (new_target + D(7)).isoformat()


# -- optimistic concurrency -----------------------------------------------------------------------------

def _movable(event):
    return event.window_end if event.target_date != event.window_end else event.window_start


@pytest.mark.parametrize("if_match", ['"{v}"', "{v}", 'W/"{v}"'], ids=["quoted", "bare", "weak"])
def test_if_match_takes_the_event_version_in_any_spelling(client, auth, site, nurse, if_match):
    patient = enrol(site, "INET-PAC", first_dose=monday_after(site_today(site), 1))
    c1d8 = events_by_key(patient.id)["dose:C1D8"]
    answer = record(client, auth, nurse, patient, c1d8, headers={"If-Match": if_match.format(v=c1d8.version)},
                    target_date=_movable(c1d8), reason="Clinic full")
    assert answer.status_code == 200, answer.get_json()


def test_a_stale_if_match_is_a_conflict(client, auth, site, nurse):
    patient = enrol(site, "INET-PAC", first_dose=monday_after(site_today(site), 1))
    c1d8 = events_by_key(patient.id)["dose:C1D8"]
    stale = f'"{c1d8.version}"'
    assert record(client, auth, nurse, patient, c1d8, headers={"If-Match": stale}, target_date=_movable(c1d8),
                  reason="Clinic full").status_code == 200
    again = record(client, auth, nurse, patient, c1d8, headers={"If-Match": stale}, target_date=c1d8.protocol_date,
                   reason="Back again")
    assert again.status_code == 409 and again.get_json()["reason"] == "stale_version"
    bad = record(client, auth, nurse, patient, c1d8, headers={"If-Match": "yesterday"}, target_date=c1d8.protocol_date,
                 reason="x")
    assert bad.status_code == 422


def test_two_concurrent_saves_of_one_version_let_exactly_one_through(app, client, auth, site, nurse):
    patient = enrol(site, "INET-PAC", first_dose=monday_after(site_today(site), 1))
    c1d8 = events_by_key(patient.id)["dose:C1D8"]
    headers = {**auth.headers(nurse), "If-Match": str(c1d8.version)}
    targets = [c1d8.window_start, c1d8.window_end]
    path = url(patient, c1d8)
    statuses = []

    def save(target):  # a thread of its own: its own app context, session and connection
        with app.test_client() as own:
            answer = own.patch(path, json={"target_date": target.isoformat(), "reason": "race"}, headers=headers)
            statuses.append((answer.status_code, (answer.get_json() or {}).get("reason")))

    threads = [threading.Thread(target=save, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses, key=lambda s: s[0]) == [(200, None), (409, "stale_version")]


# -- recording rules ------------------------------------------------------------------------------------

def _past_patient(site):
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - D(20))
    return patient, events_by_key(patient.id)


@pytest.mark.parametrize(("rule", "key", "body", "field"), [
    pytest.param("actual date in the future", "dose:C1D8", lambda today, fd: {
        "status": "completed", "actual_date": today + D(1)}, "actual_date", id="actual-date-in-future"),
    pytest.param("completed needs the actual date", "dose:C1D8", lambda today, fd: {"status": "completed"},
                 "actual_date", id="completed-without-date"),
    pytest.param("missed has no actual date", "dose:C1D8", lambda today, fd: {
        "status": "missed", "actual_date": fd}, "actual_date", id="missed-with-date"),
    pytest.param("either a status or a target date", "dose:C1D8", lambda today, fd: {
        "status": "held", "target_date": today}, "target_date", id="status-and-target"),
    pytest.param("a reschedule needs a reason", "dose:C2D1", lambda today, fd: {"target_date": fd + D(22)},
                 "reason", id="reschedule-without-reason"),
    pytest.param("only clinic visits are rescheduled", "survey:5", lambda today, fd: {
        "target_date": fd + D(29), "reason": "x"}, "target_date", id="reschedule-a-survey"),
    pytest.param("a reschedule is not in the past", "dose:C1D15", lambda today, fd: {
        "target_date": today - D(1), "reason": "x"}, "target_date", id="reschedule-into-the-past"),
    pytest.param("unknown status", "dose:C1D8", lambda today, fd: {"status": "done", "actual_date": fd},
                 "status", id="unknown-status"),
])
def test_recording_refuses_invalid_input_naming_the_field(client, auth, site, nurse, rule, key, body, field):
    patient, events = _past_patient(site)
    unchanged = snapshot(patient.id)
    answer = record(client, auth, nurse, patient, events[key], **body(site_today(site), patient.first_dose_date))
    assert answer.status_code == 422, rule
    assert field in answer.get_json()["errors"]["json"], answer.get_json()
    assert snapshot(patient.id) == unchanged


def test_an_actual_date_before_the_previous_visit_is_refused(client, auth, site, nurse):
    patient, events = _past_patient(site)
    fd = patient.first_dose_date
    assert record(client, auth, nurse, patient, events["dose:C1D8"], status="completed",
                  actual_date=fd + D(8)).status_code == 200
    answer = record(client, auth, nurse, patient, events["dose:C1D15"], status="completed", actual_date=fd + D(7))
    assert answer.status_code == 422 and answer.get_json()["reason"] == "actual_date_out_of_order"
    answer = record(client, auth, nurse, patient, events["dose:C1D1"], status="completed", actual_date=fd + D(9))
    assert answer.status_code == 422 and answer.get_json()["reason"] == "actual_date_out_of_order"


def test_rescheduling_outside_the_window_needs_force(client, auth, site, nurse):
    patient = enrol(site, "INET-PAC", first_dose=monday_after(site_today(site), 1))
    c1d8 = events_by_key(patient.id)["dose:C1D8"]
    outside = c1d8.window_end + D(2)
    answer = record(client, auth, nurse, patient, c1d8, target_date=outside, reason="Public holiday week")
    assert answer.status_code == 422 and answer.get_json()["reason"] == "outside_window"
    forced = record(client, auth, nurse, patient, c1d8, target_date=outside, reason="PI approved", force=True)
    assert forced.status_code == 200
    assert {e["key"]: e for e in forced.get_json()["events"]}["dose:C1D8"]["target_date"] == outside.isoformat()


def test_only_planned_visits_are_rescheduled_and_corrections_need_a_reason(client, auth, site, nurse):
    patient, events = _past_patient(site)
    fd = patient.first_dose_date
    assert record(client, auth, nurse, patient, events["dose:C1D1"], status="completed", actual_date=fd).status_code == 200
    answer = record(client, auth, nurse, patient, events["dose:C1D1"], target_date=site_today(site), reason="x")
    assert answer.status_code == 409 and answer.get_json()["reason"] == "event_not_planned"
    answer = record(client, auth, nurse, patient, events["dose:C1D1"], status="completed", actual_date=fd + D(1))
    assert answer.status_code == 422 and "reason" in answer.get_json()["errors"]["json"]
    answer = record(client, auth, nurse, patient, events["dose:C1D1"], status="completed", actual_date=fd + D(1),
                    reason="Transcription error")
    assert answer.status_code == 200


def test_an_event_of_another_patient_is_not_found(client, auth, site, nurse):
    patient, _ = _past_patient(site)
    _, others = _past_patient(site)
    answer = record(client, auth, nurse, patient, others["dose:C1D1"], status="held")
    assert answer.status_code == 404
    assert client.patch(f"{url(patient)[:-9]}/events/nope", json={"status": "held"},
                        headers=auth.headers(nurse)).status_code == 404


def test_a_cancelled_event_cannot_be_recorded(client, auth, site, nurse):
    patient, events = _past_patient(site)
    today = site_today(site)
    client.post(f"/api/v1/patients/{patient.id}/discontinue", json={"date": today.isoformat(), "reason": "PD"},
                headers=auth.headers(nurse))
    cancelled = [e for e in events_by_key(patient.id).values() if e.status == "cancelled"][0]
    answer = record(client, auth, nurse, patient, cancelled, status="held")
    assert answer.status_code == 409 and answer.get_json()["reason"] == "event_cancelled"


def test_recording_is_audited_with_its_reason(client, auth, site, nurse):
    from backend.extensions import db

    patient, events = _past_patient(site)
    c1d1 = events["dose:C1D1"]
    record(client, auth, nurse, patient, c1d1, status="completed", actual_date=patient.first_dose_date + D(2),
           reason="Delayed: neutropenia")
    entry = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "events",
                                                            AuditRecord.entity_id == str(c1d1.id),
                                                            AuditRecord.action == "update")).one()
    assert entry.reason == "Delayed: neutropenia" and entry.user_id == str(nurse.id)
    assert entry.changes["status"] == {"before": "planned", "after": "completed"}
    c2d1 = str(events["dose:C2D1"].id)
    [moved] = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "events",
                                                              AuditRecord.entity_id == c2d1,
                                                              AuditRecord.action == "update")).all()
    assert moved.reason == "Delayed: neutropenia" and moved.user_id == str(nurse.id)
    assert moved.changes["protocol_date"]["after"] == (patient.first_dose_date + D(23)).isoformat()


# -- who may record --------------------------------------------------------------------------------------

@pytest.fixture()
def diary_patient(client, site):
    patient = enrol(site, "INET-PYR-VNR", first_dose=site_today(site) - D(5),
                    account={"username": "diary-1", "password": PASSWORD})
    login = client.post("/api/v1/auth/login", json={"username": "diary-1", "password": PASSWORD}).get_json()
    return patient, {"Authorization": f"Bearer {login['access_token']}"}


def test_a_patient_records_their_dosing_diary(client, site, diary_patient):
    patient, headers = diary_patient
    today = site_today(site)
    diary = events_by_key(patient.id)[f"diary:{(today - D(1)).isoformat()}"]
    answer = client.patch(url(patient, diary), json={"status": "completed", "actual_date": (today - D(1)).isoformat()},
                          headers=headers)
    assert answer.status_code == 200, answer.get_json()
    entry = {e["id"]: e for e in answer.get_json()["events"]}[str(diary.id)]
    assert entry["status"] == "completed" and "reason" not in entry


@pytest.mark.parametrize(("what", "key", "body"), [
    pytest.param("a clinic visit", "dose:C1D1", {"status": "completed", "actual_date": "{fd}"}, id="dose"),
    pytest.param("a held diary day", "diary:{fd}", {"status": "held"}, id="diary-held"),
    pytest.param("a reschedule", "dose:C2D1", {"target_date": "{c2}", "reason": "x"}, id="reschedule"),
])
def test_a_patient_cannot_record_clinic_visits(client, site, diary_patient, what, key, body):
    patient, headers = diary_patient
    fd = patient.first_dose_date
    event = events_by_key(patient.id)[key.format(fd=fd.isoformat())]
    body = {k: v.format(fd=fd.isoformat(), c2=(fd + D(22)).isoformat()) for k, v in body.items()}
    answer = client.patch(url(patient, event), json=body, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["reason"] == "patient_cannot_record", what


# -- offline sync ----------------------------------------------------------------------------------------

def test_the_calendar_answers_304_while_the_etag_is_current(client, auth, site, nurse):
    patient, events = _past_patient(site)
    first = client.get(url(patient), headers=auth.headers(nurse))
    etag = first.headers["ETag"]
    again = client.get(url(patient), headers={**auth.headers(nurse), "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    record(client, auth, nurse, patient, events["dose:C1D8"], status="held")
    changed = client.get(url(patient), headers={**auth.headers(nurse), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_updated_since_returns_only_what_changed_cancelled_events_included(client, auth, site, nurse):
    patient, events = _past_patient(site)
    as_of = client.get(url(patient), headers=auth.headers(nurse)).get_json()["as_of"]
    record(client, auth, nurse, patient, events["dose:C1D8"], status="held")
    changed = client.get(url(patient), query_string={"updated_since": as_of}, headers=auth.headers(nurse)).get_json()
    assert [e["key"] for e in changed["events"]] == ["dose:C1D8"]
    client.post(f"/api/v1/patients/{patient.id}/discontinue",
                json={"date": site_today(site).isoformat(), "reason": "PD"}, headers=auth.headers(nurse))
    later = client.get(url(patient), query_string={"updated_since": changed["as_of"]},
                       headers=auth.headers(nurse)).get_json()["events"]
    assert later and all(e["status"] == "cancelled" and e["kind"] == "dose" for e in later)


# -- iCalendar ---------------------------------------------------------------------------------------------

def _parse(data: bytes):
    return [c for c in icalendar.Calendar.from_ical(data).walk("VEVENT")]


def test_the_ics_calendar_names_no_drug_or_diagnosis_and_keeps_event_ids(client, auth, site, nurse):
    patient = enrol(site, "INET-PYR-VNR", first_dose=site_today(site) - D(20))
    client.post(f"/api/v1/patients/{patient.id}/discontinue",
                json={"date": site_today(site).isoformat(), "reason": "PD"}, headers=auth.headers(nurse))
    answer = client.get(f"/api/v1/patients/{patient.id}/calendar.ics", headers=auth.headers(nurse))
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    text = answer.get_data(as_text=True)
    for word in DRUG_NAMES + ("tumour", "tumor", "cancer", "HER2", site.study.code):
        assert word.lower() not in text.lower(), word
    stored = {str(e.id): e for e in events_by_key(patient.id).values() if e.kind != "dosing_diary"}
    vevents = _parse(answer.data)
    assert {str(v["UID"]).removesuffix("@cadence") for v in vevents} == set(stored)
    for vevent in vevents:
        event = stored[str(vevent["UID"]).removesuffix("@cadence")]
        assert vevent.decoded("DTSTART") == event.target_date
        assert str(vevent["STATUS"]) == ("CANCELLED" if event.status == "cancelled" else "CONFIRMED")
        assert str(vevent["SUMMARY"]) in {"Clinic visit", "Scan appointment", "Symptom survey"}
    assert any(str(v["STATUS"]) == "CANCELLED" for v in vevents)


def test_a_phone_subscribes_with_a_secret_url_that_can_be_reissued_and_revoked(client, auth, site, diary_patient):
    patient, headers = diary_patient
    issued = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=headers)
    assert issued.status_code == 201
    feed = issued.get_json()["url"]
    assert feed.endswith(".ics") and issued.get_json()["token"] in feed
    answer = client.get(feed)  # no Authorization header
    assert answer.status_code == 200 and answer.mimetype == "text/calendar" and _parse(answer.data)
    reissued = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=headers).get_json()["url"]
    assert client.get(feed).status_code == 401
    assert client.get(feed).get_json()["reason"] == "invalid_feed_token"
    assert client.get(reissued).status_code == 200
    assert client.delete(f"/api/v1/patients/{patient.id}/calendar-feed", headers=headers).status_code == 204
    assert client.get(reissued).status_code == 401
    assert client.get("/api/v1/calendar-feeds/guess.ics").status_code == 401


def test_issuing_and_revoking_a_feed_is_audited_with_a_reason(client, auth, db, site, diary_patient):
    from backend.models import AuditRecord

    patient, headers = diary_patient
    token = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=headers).get_json()["token"]
    client.delete(f"/api/v1/patients/{patient.id}/calendar-feed", headers=headers)
    records = db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.entity == "patients", AuditRecord.entity_id == str(patient.id), AuditRecord.action == "update")
        .order_by(AuditRecord.id)).all()
    assert [r.reason for r in records][-2:] == ["calendar feed issued (any earlier feed URL revoked)",
                                                "calendar feed revoked"]
    assert token not in repr([r.changes for r in records])  # only its SHA-256 is kept
