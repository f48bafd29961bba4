"""Push tokens the patient's app registers, lists and removes, and retiring the ones a provider says
are gone.

One phone, two patients (a family sharing a phone): a push token identifies an app installation, not a
person, so the patient signed in on it last should get its reminders. But while the first patient may
still be using the app there, the token must not flip between them at every sign-in. The rule:

    A token another patient holds moves to the caller only once that patient's session on it is gone:
    they removed it (`DELETE /me/devices/{id}`, which the app does at sign-out), signed out since they
    last registered it, their account is inactive, or they last registered it longer ago than a refresh
    token lives (`JWT_REFRESH_TOKEN_DAYS`: no session of theirs can still be alive). Otherwise the
    answer is 409 `device_in_use`.

The app registers its token at every start, so `last_seen_at` is the holder's recent activity.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from backend.auth import Principal, parse_id
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import Device, Patient, SignIn, User
from backend.models.base import utcnow
from backend.services.security_log import log_security_event


def _patient_id(principal: Principal) -> uuid.UUID:
    if principal.patient_id is None:
        raise NotFound("No patient record for this account.")
    return principal.patient_id


def holder_session_gone(device: Device, now: datetime) -> bool:
    """Whether the patient holding `device` can no longer be signed in on it (module docstring)."""
    if device.retired_at is not None:
        return True
    if device.last_seen_at + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"] < now:
        return True
    user_id, active = db.session.execute(
        sa.select(User.id, User.is_active).join(Patient, Patient.user_id == User.id)
        .where(Patient.id == device.patient_id)).one_or_none() or (None, False)
    if user_id is None or not active:
        return True
    # Signed out (a sign-in ended) since last seen with this phone, or no sign-in alive at all.
    signed_out = sa.select(sa.exists().where(SignIn.user_id == user_id, SignIn.revoked_at >= device.last_seen_at))
    signed_in = sa.select(sa.exists().where(SignIn.user_id == user_id, SignIn.revoked_at.is_(None),
                                            SignIn.expires_at > now))
    return bool(db.session.scalar(signed_out)) or not db.session.scalar(signed_in)


def register_device(principal: Principal, data: dict[str, Any]) -> tuple[Device, bool]:
    """Register the caller's device; answers (device, created).

    The same token again from the same patient is "already registered" (its last-seen time is
    refreshed). A retired token is registered afresh for the caller; one that another patient holds
    moves only when that patient's session on it is gone (module docstring), else 409 `device_in_use`.
    """
    patient_id = _patient_id(principal)
    now = utcnow()
    device = db.session.scalar(sa.select(Device).where(Device.token == data["token"]).with_for_update())
    if device is not None and device.patient_id == patient_id and device.retired_at is None \
            and device.platform == data["platform"]:
        device.last_seen_at = now
        db.session.commit()
        return device, False
    if device is not None and device.patient_id != patient_id and not holder_session_gone(device, now):
        db.session.rollback()
        raise Conflict("This phone is registered to another patient who is still signed in on it; "
                       "they must sign out in the app first.", reason="device_in_use")
    if device is None:
        device = Device(patient_id=patient_id, platform=data["platform"], token=data["token"])
        db.session.add(device)
    device.patient_id = patient_id
    device.platform = data["platform"]
    device.registered_at = device.last_seen_at = now
    device.retired_at = None
    device.retired_reason = None
    db.session.flush()
    log_security_event("device_registered", user_id=principal.user_id, detail=f"{device.platform} {device.id}")
    db.session.commit()
    return device, True


def my_devices(principal: Principal) -> list[Device]:
    """The caller's devices, most recently seen first (retired ones too, `active: false`, so the app
    can tell that its token needs registering again)."""
    patient_id = _patient_id(principal)
    return list(db.session.scalars(sa.select(Device).where(Device.patient_id == patient_id)
                                   .order_by(Device.last_seen_at.desc(), Device.id)))


def remove_device(principal: Principal, raw_id: str) -> None:
    """Forget one of the caller's devices (sign-out, or "stop reminders on this phone"); another
    patient's device is 404 like a missing one."""
    patient_id = _patient_id(principal)
    device_id = parse_id(raw_id, "device")
    removed = db.session.execute(sa.delete(Device).where(Device.id == device_id, Device.patient_id == patient_id))
    if not removed.rowcount:
        db.session.rollback()
        raise NotFound("No such device.")
    db.session.commit()


def retire_device(device_id: uuid.UUID, reason: str, now: datetime) -> None:
    """The provider reported the token unregistered: never use it again (caller commits)."""
    db.session.execute(sa.update(Device).where(Device.id == device_id, Device.retired_at.is_(None))
                       .values(retired_at=now, retired_reason=reason[:200]),
                       execution_options={"synchronize_session": False})
