"""PATCH /patients/{id}: a patient who moves keeps their 07:30 reminders at 07:30 where they are now."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.models import PatientTimezoneChange, Reminder
from tests.factories import SiteFactory, UserFactory
from tests.factories_patients import enrol, monday_after, site_today


def pending_local_times(db, patient, zone):
    rows = db.session.scalars(sa.select(Reminder).where(Reminder.patient_id == patient.id,
                                                        Reminder.status == "scheduled"))
    return {r.send_at.astimezone(ZoneInfo(zone)).strftime("%H:%M") for r in rows}


def test_enrolment_plans_reminders_in_the_same_transaction(client, auth, db):
    site = SiteFactory(code="SH01")
    patient = enrol(site, first_dose=monday_after(site_today(site), 1))
    answer = client.get(f"/api/v1/patients/{patient.id}/reminders",
                        headers=auth.headers(UserFactory(role="nurse", sites=[site])))
    assert answer.status_code == 200
    reminders = answer.get_json()
    assert reminders and {r["status"] for r in reminders} == {"scheduled"}
    assert {"id", "event_id", "channel", "send_at", "status"} <= set(reminders[0])


def test_a_new_time_zone_moves_pending_reminders_to_the_same_local_times_and_is_remembered(client, auth, db):
    site = SiteFactory(code="SH01", timezone="Asia/Shanghai")
    patient = enrol(site, first_dose=monday_after(site_today(site), 1))
    before = pending_local_times(db, patient, "Asia/Shanghai")
    nurse = UserFactory(role="nurse", sites=[site])
    answer = client.patch(f"/api/v1/patients/{patient.id}", json={"timezone": "Europe/London", "reason": "moved"},
                          headers=auth.headers(nurse))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["effective_timezone"] == "Europe/London"
    db.session.expire_all()
    assert pending_local_times(db, patient, "Europe/London") == before
    change = db.session.scalars(sa.select(PatientTimezoneChange)).one()
    assert (change.old_timezone, change.new_timezone, change.reason) == (None, "Europe/London", "moved")


def test_a_patient_sets_their_own_language_but_not_another_patients(client, auth, db):
    site = SiteFactory(code="SH01")
    me_user, other_user = UserFactory(role="patient"), UserFactory(role="patient")
    me = enrol(site, first_dose=site_today(site) + timedelta(days=7))
    other = enrol(site, first_dose=site_today(site) + timedelta(days=7))
    me.user_id, other.user_id = me_user.id, other_user.id
    db.session.commit()
    headers = auth.headers(me_user)
    assert client.patch(f"/api/v1/patients/{me.id}", json={"locale": "zh-CN"}, headers=headers).get_json()["locale"] == "zh-CN"
    assert client.patch(f"/api/v1/patients/{other.id}", json={"locale": "zh-CN"}, headers=headers).status_code == 404


def test_a_bad_zone_or_an_empty_change_is_422(client, auth, db):
    site = SiteFactory(code="SH01")
    patient = enrol(site, first_dose=site_today(site) + timedelta(days=7))
    headers = auth.headers(UserFactory(role="admin"))
    bad = client.patch(f"/api/v1/patients/{patient.id}", json={"timezone": "Moon/Base"}, headers=headers)
    assert bad.status_code == 422 and "timezone" in bad.get_json()["errors"]["json"]
    assert client.patch(f"/api/v1/patients/{patient.id}", json={"reason": "nothing"}, headers=headers).status_code == 422


def test_reminders_are_written_for_the_horizon_and_topped_up_as_time_passes(db, app):
    """The events table is the truth; reminders are materialised REMINDER_HORIZON_DAYS ahead."""
    from datetime import datetime, timezone

    from backend.services.reminders import horizon_end, plan_reminders_entering_horizon

    site = SiteFactory(code="SH01")
    patient = enrol(site, first_dose=monday_after(site_today(site), 1))
    now = datetime.now(timezone.utc)

    def reminded_until():
        return db.session.scalar(sa.select(sa.func.max(Reminder.target_date)).where(Reminder.patient_id == patient.id))

    assert reminded_until() <= horizon_end(now)
    later = now + timedelta(days=21)
    planned = plan_reminders_entering_horizon(later)
    assert planned > 0
    assert horizon_end(now) < reminded_until() <= horizon_end(later)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Reminder))
    plan_reminders_entering_horizon(later)  # idempotent: nothing new the second time
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reminder)) == count
