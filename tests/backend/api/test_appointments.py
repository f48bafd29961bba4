"""Booking a clinic visit's time (CONTRACT.md "Patients": `{"appointment": {"time", "location"} | null}`):
who may book what, the calendar, the `.ics` feed, reminders that say the time, reschedules, audit."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import icalendar
import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.models import AuditRecord
from backend.services.reminders import sync_event_reminders
from notifications.dispatch import dispatch_due_in_process
from tests.factories import SiteFactory, staff_for
from tests.factories_patients import enrol, events_by_key, site_today
from tests.factories_reminders import EventFactory, channels, patient_with_account  # noqa: F401

BOOKING = {"time": "09:30", "location": "Imaging, 2nd floor"}


@pytest.fixture()
def site(db):
    return SiteFactory(code="SH01", timezone="Asia/Shanghai")


@pytest.fixture()
def nurse(site):
    return staff_for(site)["nurse"]


def first(patient, kind):
    today = site_today(patient.site)
    return min((e for e in events_by_key(patient.id).values()
                if e.kind == kind and e.status == "planned" and e.target_date > today), key=lambda e: e.target_date)


def patch(client, auth, user, patient, event, body, **params):
    query = "".join(f"?{k}={v}" for k, v in params.items())
    return client.patch(f"/api/v1/patients/{patient.id}/events/{event.id}{query}", json=body,
                        headers=auth.headers(user))


def calendar_event(client, auth, user, patient, event):
    events = client.get(f"/api/v1/patients/{patient.id}/calendar", headers=auth.headers(user)).get_json()["events"]
    return next(e for e in events if e["id"] == str(event.id))


def test_a_nurse_books_a_scan_and_the_calendar_shows_it_in_the_sites_zone(client, auth, site, nurse):
    patient = enrol(site)
    scan = first(patient, "tumor_assessment")
    version = scan.version
    answer = patch(client, auth, nurse, patient, scan, {"appointment": BOOKING, "reason": "booked by phone"})
    assert answer.status_code == 200
    shown = next(e for e in answer.get_json()["events"] if e["id"] == str(scan.id))
    assert shown["appointment"] == BOOKING and shown["version"] == version + 1
    assert shown["target_date"] == scan.target_date.isoformat()  # a booking moves no date
    others = [e for e in answer.get_json()["events"] if e["id"] != str(scan.id)]
    assert all(e["appointment"] is None for e in others)
    audit = list(db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.entity == "events", AuditRecord.entity_id == str(scan.id))))
    assert audit[-1].reason == "booked by phone"
    assert audit[-1].changes["appointment_time"]["after"].startswith("09:30")


def test_null_clears_a_booking(client, auth, site, nurse):
    patient = enrol(site)
    visit = first(patient, "dose")
    patch(client, auth, nurse, patient, visit, {"appointment": BOOKING})
    cleared = patch(client, auth, nurse, patient, visit, {"appointment": None})
    assert cleared.status_code == 200
    assert calendar_event(client, auth, nurse, patient, visit)["appointment"] is None


@pytest.mark.parametrize("kind", ["symptom_survey"])
def test_only_clinic_visits_are_booked(client, auth, site, nurse, kind):
    patient = enrol(site)
    survey = first(patient, kind)
    answer = patch(client, auth, nurse, patient, survey, {"appointment": BOOKING})
    assert (answer.status_code, answer.get_json()["reason"]) == (422, "not_a_visit")


def test_a_patient_cannot_book_and_a_recorded_visit_cannot_be_booked(client, auth, site, nurse):
    from tests.factories import UserFactory

    user = UserFactory(role="patient")
    patient = enrol(site)
    patient.user_id = user.id
    db.session.commit()
    visit = first(patient, "dose")
    assert patch(client, auth, user, patient, visit, {"appointment": BOOKING}).status_code == 403
    scan = first(patient, "tumor_assessment")
    patch(client, auth, nurse, patient, scan, {"status": "missed", "reason": "did not come"})
    answer = patch(client, auth, nurse, patient, scan, {"appointment": BOOKING})
    assert (answer.status_code, answer.get_json()["reason"]) == (409, "event_not_planned")


@pytest.mark.parametrize("body, field", [
    ({"appointment": {"time": "9:30"}}, "time"),
    ({"appointment": {"time": "24:00"}}, "time"),
    ({"appointment": {"time": "09:30", "location": "x" * 201}}, "location"),
    ({"appointment": {"time": "09:30", "room": "3"}}, "room"),
])
def test_a_booking_is_validated(client, auth, site, nurse, body, field):
    patient = enrol(site)
    answer = patch(client, auth, nurse, patient, first(patient, "dose"), body)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]["appointment"]


def test_a_booking_is_not_mixed_with_another_change(client, auth, site, nurse):
    patient = enrol(site)
    answer = patch(client, auth, nurse, patient, first(patient, "dose"),
                   {"appointment": BOOKING, "status": "missed"})
    assert answer.status_code == 422


def test_a_booked_visit_is_timed_in_the_ics_with_the_sites_zone_and_others_stay_all_day(client, auth, site, nurse):
    patient = enrol(site)
    scan = first(patient, "tumor_assessment")
    patch(client, auth, nurse, patient, scan, {"appointment": BOOKING})
    answer = client.get(f"/api/v1/patients/{patient.id}/calendar.ics", headers=auth.headers(nurse))
    feed = icalendar.Calendar.from_ical(answer.data)
    items = {str(item["uid"]): item for item in feed.walk("VEVENT")}
    booked = items[f"{scan.id}@cadence"]
    start = booked.decoded("dtstart")
    assert start.replace(tzinfo=None) == datetime.combine(scan.target_date, time(9, 30))
    assert str(start.tzinfo) == "Asia/Shanghai" and booked["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert str(booked["location"]) == "Imaging, 2nd floor"
    assert any(tz["tzid"] == "Asia/Shanghai" for tz in feed.walk("VTIMEZONE"))
    others = [item for uid, item in items.items() if uid != f"{scan.id}@cadence"]
    assert others and all(type(item.decoded("dtstart")) is date for item in others)


def test_a_reschedule_keeps_the_booking_unless_the_nurse_clears_it(client, auth, site, nurse):
    patient = enrol(site)
    scan = first(patient, "tumor_assessment")
    patch(client, auth, nurse, patient, scan, {"appointment": BOOKING})
    scan = events_by_key(patient.id)[scan.key]
    day = max(scan.window_start, site_today(site))
    kept = patch(client, auth, nurse, patient, scan, {"target_date": day.isoformat(), "reason": "scanner free"})
    assert kept.status_code == 200
    assert calendar_event(client, auth, nurse, patient, scan)["appointment"] == BOOKING
    scan = events_by_key(patient.id)[scan.key]
    cleared = patch(client, auth, nurse, patient, scan, {"target_date": scan.window_end.isoformat(),
                                                         "reason": "moved again", "keep_appointment": False})
    assert cleared.status_code == 200
    assert calendar_event(client, auth, nurse, patient, scan)["appointment"] is None


def test_keep_appointment_belongs_to_a_reschedule(client, auth, site, nurse):
    patient = enrol(site)
    answer = patch(client, auth, nurse, patient, first(patient, "dose"),
                   {"status": "missed", "keep_appointment": False})
    assert answer.status_code == 422


PLANNED_AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
LATER = datetime(2026, 3, 20, tzinfo=timezone.utc)


@pytest.mark.parametrize("locale, kind, booked, says", [
    ("en", "tumor_assessment", time(14, 15), "tomorrow (Tue 10 Mar) at 14:15"),
    ("zh-CN", "tumor_assessment", time(14, 15), "您明天（3月10日 周二）14:15 有一次复查预约"),
    ("en", "dose", time(7, 45), "tomorrow (Tue 10 Mar) at 07:45"),
    ("en", "tumor_assessment", None, "tomorrow (Tue 10 Mar). Open"),
])
def test_reminders_say_the_booked_time(db, channels, locale, kind, booked, says):
    patient, _ = patient_with_account(locale=locale, phone="+8613800000000")
    event = EventFactory(patient=patient, kind=kind, target_date=date(2026, 3, 10), appointment_time=booked,
                         appointment_location="Imaging" if booked else None)
    sync_event_reminders(patient, [event], PLANNED_AT)
    db.session.commit()
    dispatch_due_in_process(LATER)
    bodies = [message.body for message in channels["sms"].sent]
    assert any(says in body for body in bodies), bodies
    assert not any("Imaging" in body for body in bodies)  # lock screens show no place
