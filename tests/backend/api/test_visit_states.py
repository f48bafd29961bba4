"""One truth about every visit (issue 9): recorded late, a day 1 moves every unrecorded visit after it;
every event carries its derived `state` (and `days_overdue`) in the calendar and the `.ics`."""
from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
import sqlalchemy as sa

from backend.models import Reminder, User
from backend.models.base import utcnow
from tests.factories import SiteFactory, staff_for
from tests.factories_patients import enrol, events_by_key, site_today

D = timedelta


@pytest.fixture()
def site(db):
    return SiteFactory(code="SV01")


@pytest.fixture()
def nurse(site):
    return staff_for(site)["nurse"]


def record(client, auth, user, patient, event, **body):
    body = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}
    return client.patch(f"/api/v1/patients/{patient.id}/events/{event.id}", json=body, headers=auth.headers(user))


def calendar_of(client, auth, user, patient):
    return {e["key"]: e for e in client.get(f"/api/v1/patients/{patient.id}/calendar",
                                            headers=auth.headers(user)).get_json()["events"]}


# -- item 1: data-entry lag -----------------------------------------------------------------------

def test_a_day_1_recorded_late_moves_the_unrecorded_visits_after_it_even_those_whose_old_date_passed(
        client, auth, site, nurse):
    """INET-PAC-PER, first dose 30 days ago; C1D1 done on the first dose date; C2D1 done 7 days late
    and recorded afterwards. C2D8 (old date already passed, never recorded) follows its day 1; so does
    C3D1. No reminder is made for a time already past."""
    today = site_today(site)
    first_dose = today - D(30)
    patient = enrol(site, "INET-PAC-PER", first_dose)
    events = events_by_key(patient.id)
    assert record(client, auth, nurse, patient, events["dose:C1D1"], status="completed",
                  actual_date=first_dose).status_code == 200
    old_c2d8 = events_by_key(patient.id)["dose:C2D8"]
    assert old_c2d8.protocol_date == first_dose + D(28) < today   # its old date has passed
    c2d1_done = first_dose + D(21 + 7)
    assert record(client, auth, nurse, patient, events["dose:C2D1"], status="completed",
                  actual_date=c2d1_done).status_code == 200

    after = events_by_key(patient.id)
    assert after["dose:C2D8"].id == old_c2d8.id and after["dose:C2D8"].status == "planned"
    assert after["dose:C2D8"].protocol_date == c2d1_done + D(7)
    assert after["dose:C2D15"].protocol_date == c2d1_done + D(14)
    assert after["dose:C3D1"].protocol_date == c2d1_done + D(21)
    shown = calendar_of(client, auth, nurse, patient)
    assert shown["dose:C2D8"]["state"] == "upcoming" and shown["dose:C2D8"]["days_overdue"] is None
    assert shown["dose:C2D1"]["state"] == "completed"
    # Recorded history is untouched; nothing left behind reads as overdue on the dosing clock.
    assert after["dose:C1D8"].protocol_date == first_dose + D(7)
    scheduled = [r for r in db_reminders(patient.id) if r.status == "scheduled"]
    assert scheduled and all(r.send_at >= utcnow() - D(minutes=5) for r in scheduled)
    assert any(r.event_id == old_c2d8.id for r in scheduled)   # C2D8's reminders follow it


def db_reminders(patient_id):
    from backend.extensions import db

    return list(db.session.scalars(sa.select(Reminder).where(Reminder.patient_id == patient_id)))


# -- item 2: a derived state on every event -------------------------------------------------------

def test_a_visit_whose_window_closed_unrecorded_reads_overdue_in_the_calendar_and_the_ics(client, auth, site, nurse):
    today = site_today(site)
    patient = enrol(site, "INET-PAC", today - D(30))
    shown = calendar_of(client, auth, nurse, patient)
    c1d1 = shown["dose:C1D1"]
    assert c1d1["status"] == "planned"                     # stored: what was recorded (nothing)
    assert c1d1["state"] == "overdue"
    assert c1d1["days_overdue"] == (today - _date(c1d1["window_end"])).days
    for event in shown.values():
        start, end = _date(event["window_start"]), _date(event["window_end"])
        expected = "upcoming" if today < start else "due" if today <= end else "overdue"
        assert event["state"] == expected, event["key"]
    ics = icalendar.Calendar.from_ical(client.get(f"/api/v1/patients/{patient.id}/calendar.ics",
                                                  headers=auth.headers(nurse)).data)
    by_uid = {str(item["uid"]).removesuffix("@cadence"): item for item in ics.walk("VEVENT")}
    for event in shown.values():
        if event["id"] in by_uid:
            item = by_uid[event["id"]]
            assert str(item["x-cadence-state"]) == event["state"]
            assert (str(item["x-cadence-days-overdue"]) if "x-cadence-days-overdue" in item else None) == (
                None if event["days_overdue"] is None else str(event["days_overdue"]))


def test_the_patient_app_sees_the_same_state(client, auth, site):
    today = site_today(site)
    patient = enrol(site, "INET-PAC", today - D(30), account={"username": "pat-sv", "password": "correct horse 9"})
    staff = calendar_of(client, auth, staff_for(site)["nurse"], patient)
    from backend.extensions import db

    user = db.session.scalar(sa.select(User).where(User.username == "pat-sv"))
    answer = client.get(f"/api/v1/patients/{patient.id}/calendar", headers=auth.headers(user))
    mine = {e["id"]: e for e in answer.get_json()["events"]}
    assert all(mine[e["id"]]["state"] == e["state"] and mine[e["id"]]["days_overdue"] == e["days_overdue"]
               for e in staff.values())


def test_the_calendar_keeps_the_kinds_asked_for(client, auth, site, nurse):
    patient = enrol(site, "INET-PAC")
    answer = client.get(f"/api/v1/patients/{patient.id}/calendar?kind=tumor_assessment&kind=dose",
                        headers=auth.headers(nurse))
    assert answer.status_code == 200
    assert {e["kind"] for e in answer.get_json()["events"]} == {"dose", "tumor_assessment"}
    assert client.get(f"/api/v1/patients/{patient.id}/calendar?kind=lunch",
                      headers=auth.headers(nurse)).status_code == 422


def _date(text):
    from datetime import date

    return date.fromisoformat(text)


# -- item 9: a closed first-dose day, a forced reschedule -----------------------------------------

def enrolment(site, first_dose, subject, **extra):
    return {"study": site.study.code, "site": site.code, "subject_id": subject, "regimen": "INET-PAC",
            "first_dose_date": first_dose.isoformat(), **extra}


def test_a_future_first_dose_on_a_closed_day_is_refused_unless_forced(client, auth, db):
    from tests.factories_patients import monday_after

    closed = monday_after(site_today(SiteFactory.build()), 3)
    site = SiteFactory(code="SV02", closures=[closed.isoformat()])
    admin = staff_for(site)["admin"]
    answer = client.post("/api/v1/patients", json=enrolment(site, closed, "CLOSED-1"), headers=auth.headers(admin))
    assert answer.status_code == 422 and answer.get_json()["reason"] == "closed_day"
    forced = client.post("/api/v1/patients", json=enrolment(site, closed, "CLOSED-1", force=True),
                         headers=auth.headers(admin))
    assert forced.status_code == 201 and forced.get_json()["first_dose_date"] == closed.isoformat()
    # A first dose that already happened on a closed day is history: recorded as it was.
    past = site_today(site) - D(7)
    site.closures = [past.isoformat()]
    from backend.extensions import db as _db

    _db.session.commit()
    assert client.post("/api/v1/patients", json=enrolment(site, past, "CLOSED-2"),
                       headers=auth.headers(admin)).status_code == 201


def test_a_forced_out_of_window_reschedule_is_flagged_and_reconciled_at_once(client, auth, site, nurse):
    patient = enrol(site, "INET-PAC")
    scan = events_by_key(patient.id)["assessment:1"]
    target = scan.window_end + D(3)
    answer = record(client, auth, nurse, patient, scan, target_date=target, reason="Scanner down for a week")
    assert answer.status_code == 422 and answer.get_json()["reason"] == "outside_window"
    answer = record(client, auth, nurse, patient, scan, target_date=target, reason="Scanner down for a week",
                    force=True)
    assert answer.status_code == 200
    shown = {e["key"]: e for e in answer.get_json()["events"]}["assessment:1"]
    assert {"rescheduled", "outside_window"} <= set(shown["flags"])
    assert shown["target_date"] == target.isoformat() and shown["state"] == "upcoming"
    # A later re-plan (another visit recorded) keeps the flag.
    c1d1 = events_by_key(patient.id)["dose:C1D1"]
    assert record(client, auth, nurse, patient, c1d1, status="held", reason="ANC low").status_code == 200
    assert "outside_window" in calendar_of(client, auth, nurse, patient)["assessment:1"]["flags"]

    coordinator = staff_for(site)["coordinator"]
    report = client.get(f"/api/v1/studies/{site.study.code}/reconciliation", headers=auth.headers(coordinator))
    assert report.status_code == 200
    found = [f for f in report.get_json()["findings"] if f["kind"] == "rescheduled_outside_window"]
    assert [(f["event_id"], f["date"], f["state"]) for f in found] == [(str(scan.id), target.isoformat(), "upcoming")]
    assert "Scanner down for a week" in found[0]["detail"]
