"""Reminder settings (backend/config.py): parsed once at start-up, refused when they cannot work."""
import pytest

from backend.config import ConfigurationError, load_config

BASE = {"CADENCE_TESTING": "1"}


def test_reminder_defaults():
    config = load_config(environ=BASE)
    assert config["REMINDER_RETRY_INTERVALS"] == [60, 300, 900]
    assert (config["REMINDER_BATCH_SIZE"], config["REMINDER_LEASE_SECONDS"], config["DISPATCH_INTERVAL_SECONDS"]) == (
        200, 300, 30)
    assert config["QUIET_HOURS"] == "21:00-08:00"


@pytest.mark.parametrize("raw, intervals", [
    pytest.param("0,0", [0, 0], id="test-speed-retries"),
    pytest.param(" 5 , 10 ", [5, 10], id="spaces-allowed"),
    pytest.param("", [], id="no-retries"),
])
def test_retry_intervals_are_whole_seconds(raw, intervals):
    assert load_config(environ={**BASE, "REMINDER_RETRY_INTERVALS": raw})["REMINDER_RETRY_INTERVALS"] == intervals


@pytest.mark.parametrize("name, value", [
    pytest.param("REMINDER_RETRY_INTERVALS", "1m,5m", id="intervals-with-units"),
    pytest.param("REMINDER_RETRY_INTERVALS", "-1", id="negative-interval"),
    pytest.param("REMINDER_BATCH_SIZE", "0", id="empty-batches"),
    pytest.param("REMINDER_LEASE_SECONDS", "soon", id="lease-not-a-number"),
])
def test_unusable_reminder_settings_stop_start_up(name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_config(environ={**BASE, name: value})
