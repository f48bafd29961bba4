"""Push tokens the patient's app registers, and retiring the ones a provider says are gone."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal
from backend.errors import NotFound
from backend.extensions import db
from backend.models import Device
from backend.models.base import utcnow
from backend.services.security_log import log_security_event


def register_device(principal: Principal, data: dict[str, Any]) -> tuple[Device, bool]:
    """Register the caller's device; answers (device, created).

    The same token again from the same patient is "already registered" (its last-seen time is
    refreshed). A token that was retired, or that another patient registered on this phone before, is
    registered afresh for the caller: a token identifies one app installation, whoever is signed in.
    """
    if principal.patient_id is None:
        raise NotFound("No patient record for this account.")
    now = utcnow()
    device = db.session.scalar(sa.select(Device).where(Device.token == data["token"]).with_for_update())
    if device is not None and device.patient_id == principal.patient_id and device.retired_at is None \
            and device.platform == data["platform"]:
        device.last_seen_at = now
        db.session.commit()
        return device, False
    if device is None:
        device = Device(patient_id=principal.patient_id, platform=data["platform"], token=data["token"])
        db.session.add(device)
    device.patient_id = principal.patient_id
    device.platform = data["platform"]
    device.registered_at = device.last_seen_at = now
    device.retired_at = None
    device.retired_reason = None
    db.session.flush()
    log_security_event("device_registered", user_id=principal.user_id, detail=f"{device.platform} {device.id}")
    db.session.commit()
    return device, True


def retire_device(device_id: uuid.UUID, reason: str, now: datetime) -> None:
    """The provider reported the token unregistered: never use it again (caller commits)."""
    db.session.execute(sa.update(Device).where(Device.id == device_id, Device.retired_at.is_(None))
                       .values(retired_at=now, retired_reason=reason[:200]),
                       execution_options={"synchronize_session": False})
