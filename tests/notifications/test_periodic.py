"""The periodic tick (notifications/periodic.py): every task runs in order, dispatch last; a failing task
does not stop the others; hourly tasks run once an hour across workers; sign-ins nothing can use any
more are deleted."""
import uuid
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from backend.models import Device, SignIn, User
from backend.services.devices import holder_session_gone
from backend.services.reminders import sync_event_reminders
from notifications.periodic import PERIODIC_TASKS, run_periodic_tasks
from tests.factories import UserFactory
from tests.factories_reminders import EventFactory, channels, patient_with_account  # noqa: F401

PLANNED_AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
LATER = datetime(2026, 3, 20, tzinfo=timezone.utc)


def test_the_periodic_tick_escalates_alerts_scans_pfs_cleans_sign_ins_then_dispatches(app, db, channels):
    results, errors = run_periodic_tasks(LATER)
    assert errors == []
    assert list(results) == ["escalate_alerts_task", "pfs_scan_task", "reminder_horizon_task",
                             "expired_sign_ins_task", "dispatch_due_task"]
    assert results["escalate_alerts_task"] == []


def test_the_pfs_scan_and_the_sign_in_clean_up_run_at_most_hourly_across_workers(app, db, channels):
    first, _ = run_periodic_tasks(LATER)
    second, _ = run_periodic_tasks(LATER)
    assert not isinstance(first["pfs_scan_task"], str) and first["expired_sign_ins_task"] == 0
    assert second["pfs_scan_task"].startswith("skipped")
    assert second["expired_sign_ins_task"].startswith("skipped")


def test_a_failing_periodic_task_does_not_stop_dispatch(app, db, channels, monkeypatch):
    def broken(now):
        raise RuntimeError("boom")

    monkeypatch.setattr("notifications.periodic.PERIODIC_TASKS", [broken, PERIODIC_TASKS[-1]])
    patient, _ = patient_with_account()
    event = EventFactory(patient=patient, kind="dose", target_date=date(2026, 3, 10))
    sync_event_reminders(patient, [event], PLANNED_AT)
    db.session.commit()
    results, errors = run_periodic_tasks(LATER)
    assert errors == ["broken: RuntimeError('boom')"]
    assert results["dispatch_due_task"].reminders_claimed == 2


# --- sign-ins nothing can use any more ---------------------------------------------------------------------
def sign_in(db, user: User, *, expired_days_ago: float, revoked: bool = False) -> uuid.UUID:
    expires_at = LATER - timedelta(days=expired_days_ago)
    row = SignIn(id=uuid.uuid4(), user_id=user.id, refresh_jti="x", created_at=expires_at - timedelta(days=30),
                 expires_at=expires_at, revoked_at=expires_at - timedelta(days=1) if revoked else None)
    db.session.add(row)
    db.session.commit()
    return row.id


def remaining(db) -> set[uuid.UUID]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(SignIn.id)))


def test_sign_ins_go_a_refresh_lifetime_and_a_day_after_their_last_token_expired(app, db, channels):
    user = UserFactory(role="nurse")
    lifetime = app.config["JWT_REFRESH_TOKEN_EXPIRES"].days
    live = sign_in(db, user, expired_days_ago=-10)
    just_expired = sign_in(db, user, expired_days_ago=1)
    at_the_boundary = sign_in(db, user, expired_days_ago=lifetime + 1)
    long_gone = sign_in(db, user, expired_days_ago=lifetime + 2)
    long_gone_revoked = sign_in(db, user, expired_days_ago=lifetime + 40, revoked=True)

    results, errors = run_periodic_tasks(LATER)

    assert errors == [] and results["expired_sign_ins_task"] == 2
    assert remaining(db) == {live, just_expired, at_the_boundary}
    assert {long_gone, long_gone_revoked}.isdisjoint(remaining(db))


def test_the_clean_up_keeps_every_sign_out_that_frees_a_phone(app, db, channels):
    """A phone passes to another patient once its holder signed out after it was last seen
    (services/devices.py). A phone last seen longer ago than a refresh-token lifetime is free anyway, so
    the oldest sign-out that still counts ended within that lifetime, and the clean-up keeps it."""
    patient, user = patient_with_account()
    last_seen = LATER - app.config["JWT_REFRESH_TOKEN_EXPIRES"] + timedelta(hours=1)
    device = Device(patient_id=patient.id, platform="android", token="t" * 40, last_seen_at=last_seen)
    db.session.add(device)
    signed_out_on_it = SignIn(id=uuid.uuid4(), user_id=user.id, refresh_jti="x", created_at=last_seen,
                              expires_at=last_seen + timedelta(hours=2), revoked_at=last_seen + timedelta(hours=1))
    db.session.add(signed_out_on_it)
    db.session.commit()
    sign_in(db, user, expired_days_ago=-5)  # still signed in on another phone
    assert holder_session_gone(device, LATER)

    run_periodic_tasks(LATER)

    assert signed_out_on_it.id in remaining(db)
    assert holder_session_gone(device, LATER)
