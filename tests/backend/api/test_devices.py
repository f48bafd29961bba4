"""POST, GET /me/devices and DELETE /me/devices/{id} (CONTRACT.md "Devices and reminders"): 201 for a new
token, 200 when already registered; a phone shared by two patients changes hands only once the first
patient's session on it is gone (backend/services/devices.py)."""
from datetime import datetime, timedelta, timezone

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


def test_a_token_another_patient_is_still_signed_in_with_is_409_and_stays_theirs(db, client, auth):
    first, first_user = patient_with_account()
    _second, second_user = patient_with_account()
    register(client, auth, first_user)
    answer = register(client, auth, second_user)
    assert answer.status_code == 409 and answer.get_json()["reason"] == "device_in_use"
    assert register(client, auth, first_user).status_code == 200  # no flipping back and forth
    assert [d.patient_id for d in devices(db)] == [first.id]


def _removed_by_the_first_patient(client, auth, user, device):
    assert client.delete(f"/api/v1/me/devices/{device.id}", headers=auth.headers(user)).status_code == 204


def _first_patient_signed_out(client, auth, user, device):
    assert client.post("/api/v1/auth/logout", headers=auth.headers(user)).status_code == 204


def _first_patient_idle_longer_than_a_refresh_token_lives(client, auth, user, device):
    device.last_seen_at = datetime.now(timezone.utc) - timedelta(days=31)  # JWT_REFRESH_TOKEN_DAYS is 30


def _first_patients_account_deactivated(client, auth, user, device):
    user.is_active = False


@pytest.mark.parametrize("session_gone", [
    pytest.param(_removed_by_the_first_patient, id="removed in the app at sign-out"),
    pytest.param(_first_patient_signed_out, id="signed out since registering it"),
    pytest.param(_first_patient_idle_longer_than_a_refresh_token_lives, id="no session can still be alive"),
    pytest.param(_first_patients_account_deactivated, id="account deactivated"),
])
def test_a_token_moves_to_the_caller_once_the_first_patients_session_is_gone(db, client, auth, session_gone):
    _first, first_user = patient_with_account()
    second, second_user = patient_with_account()
    register(client, auth, first_user)
    session_gone(client, auth, first_user, devices(db)[0])
    db.session.commit()
    answer = register(client, auth, second_user)
    assert answer.status_code == 201
    assert [(d.patient_id, d.retired_at) for d in devices(db)] == [(second.id, None)]


def test_the_caller_lists_their_own_devices_only(db, client, auth):
    _patient, user = patient_with_account()
    _other, other_user = patient_with_account()
    register(client, auth, user, platform="ios", token="a" * 64)
    register(client, auth, user)
    register(client, auth, other_user, token="fcm-token-of-someone-else")
    answer = client.get("/api/v1/me/devices", headers=auth.headers(user))
    assert answer.status_code == 200
    assert sorted(d["platform"] for d in answer.get_json()) == ["android", "ios"]
    assert all(set(d) == {"id", "platform", "active", "registered_at", "last_seen_at"} for d in answer.get_json())


def test_a_device_retired_by_the_provider_is_listed_as_inactive(db, client, auth):
    _patient, user = patient_with_account()
    register(client, auth, user)
    devices(db)[0].retired_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    db.session.commit()
    assert [d["active"] for d in client.get("/api/v1/me/devices", headers=auth.headers(user)).get_json()] == [False]


def test_removing_a_device_is_204_and_another_patients_device_is_404(db, client, auth):
    _patient, user = patient_with_account()
    _other, other_user = patient_with_account()
    mine = register(client, auth, user).get_json()["id"]
    theirs = register(client, auth, other_user, token="fcm-token-of-someone-else").get_json()["id"]
    assert client.delete(f"/api/v1/me/devices/{theirs}", headers=auth.headers(user)).status_code == 404
    assert client.delete("/api/v1/me/devices/not-an-id", headers=auth.headers(user)).status_code == 404
    assert client.delete(f"/api/v1/me/devices/{mine}", headers=auth.headers(user)).status_code == 204
    assert client.delete(f"/api/v1/me/devices/{mine}", headers=auth.headers(user)).status_code == 404
    assert client.get("/api/v1/me/devices", headers=auth.headers(user)).get_json() == []
    assert [d.token for d in devices(db)] == ["fcm-token-of-someone-else"]


@pytest.mark.parametrize("body, field", [
    pytest.param({"platform": "windows"}, "platform", id="unknown-platform"),
    pytest.param({"token": "short"}, "token", id="token-too-short"),
    pytest.param({"token": "fcm-token\x00-with-nul"}, "token", id="nul-byte"),
    pytest.param({"token": "fcm token with spaces"}, "token", id="not-a-token"),
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
