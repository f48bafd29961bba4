"""Calendar feeds: the patient's calendar as iCalendar (RFC 5545), by a secret subscription URL."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.errors import Unauthorized
from backend.extensions import db
from backend.models import Event, Patient
from backend.models.audit import REASON_KEY
from backend.services.calendar_events import event_sort_key, state_of, stored_events
from backend.services.calendar_inputs import site_today

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
    db.session.info[REASON_KEY] = "calendar feed issued (any earlier feed URL revoked)"
    db.session.commit()
    return token


def revoke_calendar_feed(patient: Patient) -> None:
    patient.calendar_feed_hash = None
    db.session.info[REASON_KEY] = "calendar feed revoked"
    db.session.commit()


def patient_for_feed(token: str) -> Patient:
    """The patient whose feed secret this is; unknown or revoked secrets answer 401."""
    patient = db.session.scalar(sa.select(Patient).where(Patient.calendar_feed_hash == _feed_hash(token)))
    if patient is None:
        raise Unauthorized("Unknown or revoked calendar feed.", reason="invalid_feed_token")
    return patient


def render_ics(patient: Patient) -> bytes:
    """The patient's clinic visits, scans and surveys as an iCalendar (RFC 5545) feed.

    All-day events, or timed in the site's zone (TZID, with its VTIMEZONE) when the visit is booked
    (an hour long, at the booked location); on the target date; UID = event id (stable across re-plans); SEQUENCE = the
    event's version; cancelled events stay in the feed as STATUS:CANCELLED so subscribed phones
    remove them. Dosing-diary days are left out (one a day would flood a phone calendar; the app
    keeps the diary). Summaries are neutral (`ICS_SUMMARIES`). `X-CADENCE-STATE` is the event's
    derived state on the site's today (`state_of`, as in the JSON calendar) and
    `X-CADENCE-DAYS-OVERDUE` its days overdue.
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
    today = site_today(patient)
    booked = {event_id: (at, location) for event_id, at, location in db.session.execute(
        sa.select(Event.id, Event.appointment_time, Event.appointment_location)
        .where(Event.patient_id == patient.id, Event.appointment_time.is_not(None)))}
    site_zone = ZoneInfo(patient.site.timezone)
    for row in sorted(stored_events(patient.id), key=event_sort_key):
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
        state = state_of(row, today)
        item.add("x-cadence-state", state.state)
        if state.days_overdue is not None:
            item.add("x-cadence-days-overdue", str(state.days_overdue))
        feed.add_component(item)
    if booked:
        feed.add_missing_timezones()
    return feed.to_ical()
