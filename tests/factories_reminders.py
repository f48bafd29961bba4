"""Factories for the reminders work: calendar events (bare rows, no planning) and devices."""
from __future__ import annotations

from datetime import date, timedelta

import factory
import pytest

from backend.models import Device, Event
from tests.factories import PatientFactory, _Base


class EventFactory(_Base):
    class Meta:
        model = Event

    class Params:
        patient = factory.SubFactory(PatientFactory)  # only its id is stored

    patient_id = factory.LazyAttribute(lambda o: o.patient.id)
    key = factory.Sequence(lambda n: f"E{n:05d}")
    kind = "dose"
    cycle = 1
    day = 1
    label = factory.LazyAttribute(lambda o: f"{o.kind} {o.key}")
    protocol_date = date(2026, 3, 10)
    target_date = factory.LazyAttribute(lambda o: o.protocol_date)
    window_start = factory.LazyAttribute(lambda o: o.target_date - timedelta(days=1))
    window_end = factory.LazyAttribute(lambda o: o.target_date + timedelta(days=1))
    status = "planned"


class DeviceFactory(_Base):
    class Meta:
        model = Device

    patient_id = None
    platform = "android"
    token = factory.Sequence(lambda n: f"device-token-{n:06d}")


# --- channels: stand-ins for the providers (the database and Redis are always real) ----------------------
class ScriptedChannel:
    """Answers each send with the next scripted outcome (an exception to raise, or None for success)."""

    def __init__(self, name: str, *outcomes: Exception | None) -> None:
        self.name = name
        self.outcomes = list(outcomes)
        self.sent: list = []
        self.tried = 0

    def send(self, message):
        from notifications.channels import DeliveryResult

        self.tried += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(message)
        return DeliveryResult(provider_message_id=f"{self.name}-{len(self.sent)}")


@pytest.fixture()
def channels(app):
    """Every channel configured, each a ScriptedChannel; restored to the app's own afterwards."""
    fakes = {name: ScriptedChannel(name) for name in ("log", "push", "sms", "email")}
    fakes["default"] = fakes["log"]
    previous = app.extensions.get("cadence.channels")
    app.extensions["cadence.channels"] = fakes
    yield fakes
    if previous is None:
        app.extensions.pop("cadence.channels", None)
    else:
        app.extensions["cadence.channels"] = previous


@pytest.fixture()
def log_only(app):
    """Only the log channel, as on a laptop (recording what it sends)."""
    fakes = {"log": ScriptedChannel("log")}
    fakes["default"] = fakes["log"]
    previous = app.extensions.get("cadence.channels")
    app.extensions["cadence.channels"] = fakes
    yield fakes
    if previous is None:
        app.extensions.pop("cadence.channels", None)
    else:
        app.extensions["cadence.channels"] = previous


def patient_with_account(site=None, **fields):
    """A patient with a sign-in account (role patient), at `site` or a new Shanghai site."""
    from tests.factories import SiteFactory, UserFactory

    user = UserFactory(role="patient")
    return PatientFactory(site=site or SiteFactory(), user_id=user.id, **fields), user
