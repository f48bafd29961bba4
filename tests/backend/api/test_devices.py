"""POST /me/devices (CONTRACT.md "Devices and reminders"): 201 for a new token, 200 when already registered."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from backend.models import Device
from tests.factories import UserFactory
from tests.factories_reminders import patient_with_account

TOKEN = "fcm-token-" + "x" * 140


def register(client, auth, user, **body):
    return client.post("/api/v1/me/devices", json={"platform": "android", "token": TOKEN, **body},
                       headers=auth.headers(user))


def devices(db):
    return list(db.session.scalars(sa.select(Device).order_by(Device.registered_at)))


def test_a_new_token_is_201_and_the_same_again_is_200(db, client, auth):
    patient, user = patient_with_account()
    first = register(client, auth, user)
    assert first.status_code == 201
    assert set(first.get_json()) == {"id", "platform", "active", "registered_at", "last_seen_at"}
    again = register(client, auth, user)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert [(d.patient_id, d.platform, d.retired_at) for d in devices(db)] == [(patient.id, "android", None)]


def test_a_retired_token_registered_again_is_active_again(db, client, auth):
    patient, user = patient_with_account()
    register(client, auth, user)
    device = devices(db)[0]
    device.retired_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    device.retired_reason = "provider: FCM: HTTP 404 UNREGISTERED"
    db.session.commit()
    answer = register(client, auth, user)
    assert answer.status_code == 201 and answer.get_json()["active"] is True
    db.session.refresh(device)
    assert device.retired_at is None and device.retired_reason is None


def test_a_token_registered_by_another_patient_on_the_same_phone_moves_to_the_caller(db, client, auth):
    first, first_user = patient_with_account()
    second, second_user = patient_with_account()
    register(client, auth, first_user)
    assert register(client, auth, second_user, platform="android").status_code == 201
    assert [d.patient_id for d in devices(db)] == [second.id]


@pytest.mark.parametrize("body, field", [
    pytest.param({"platform": "windows"}, "platform", id="unknown-platform"),
    pytest.param({"token": "short"}, "token", id="token-too-short"),
    pytest.param({"name": "my phone"}, "name", id="unknown-field"),
])
def test_bad_registrations_are_422_naming_the_field(db, client, auth, body, field):
    _patient, user = patient_with_account()
    answer = register(client, auth, user, **body)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]


def test_a_patient_account_without_a_patient_record_is_404(db, client, auth):
    assert register(client, auth, UserFactory(role="patient")).status_code == 404


def test_a_device_registration_is_in_the_security_log_without_the_token(db, client, auth):
    from backend.models import SecurityEvent

    patient, user = patient_with_account()
    register(client, auth, user)
    event = db.session.scalars(sa.select(SecurityEvent).where(SecurityEvent.kind == "device_registered")).one()
    assert event.user_id == user.id
    assert TOKEN not in (event.detail or "") and "fcm-token" not in (event.detail or "")
