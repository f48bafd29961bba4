"""The protocol types, the log channel, and the rule that channels import nothing of ours."""

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from notifications.channels import (
    Channel,
    HttpSmsChannel,
    LogChannel,
    Message,
    PermanentDeliveryError,
    PushChannel,
    RecipientGone,
    SmtpChannel,
)
from notifications.channels.push import ApnsChannel, FcmChannel

ROOT = Path(__file__).resolve().parents[2]


def test_message_data_must_be_strings():
    # FCM rejects non-string data values; catch it where the message is built.
    with pytest.raises(TypeError):
        Message(recipient="t", title="x", body="y", data={"visit_id": 17})


def test_message_platform_is_ios_or_android():
    with pytest.raises(ValueError):
        Message(recipient="t", title="x", body="y", platform="windows")


def test_recipient_gone_is_permanent():
    # Callers that only know "permanent" still stop retrying a gone token.
    assert issubclass(RecipientGone, PermanentDeliveryError)


@pytest.mark.parametrize(
    "channel",
    [
        LogChannel(),
        PushChannel(),
        FcmChannel("p", "t"),
        ApnsChannel("http://127.0.0.1:1", "topic", "t"),
        HttpSmsChannel("http://127.0.0.1:1", "k", "s"),
        SmtpChannel("127.0.0.1", 25, "a@example.org"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_every_channel_satisfies_the_protocol(channel):
    assert isinstance(channel, Channel)
    assert channel.name


def test_log_channel_logs_and_returns_an_id(caplog):
    caplog.set_level(logging.INFO, logger="cadence.notifications")
    result = LogChannel().send(Message(recipient="+8613800138000", title="今日门诊提醒", body="Open Cadence"))
    assert result.provider_message_id == "log-1"
    assert "今日门诊提醒" in caplog.text
    assert "+8613800138000" in caplog.text


def test_log_channel_records_only_when_asked():
    message = Message(recipient="r", title="t", body="b")
    quiet, recording = LogChannel(), LogChannel(record=True)
    quiet.send(message)
    recording.send(message)
    assert quiet.sent == []
    assert recording.sent == [message]


def test_log_channel_ids_are_unique_across_threads():
    channel = LogChannel(logging.getLogger("test.quiet"), record=True)
    ids: list[str] = []

    def send_many():
        for _ in range(200):
            ids.append(channel.send(Message(recipient="r", title="t", body="b")).provider_message_id)

    threads = [threading.Thread(target=send_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == len(channel.sent) == 800


def test_channels_import_nothing_of_ours():
    # notifications.channels must stay reusable without the Flask app (STYLE.md dependency rule).
    code = (
        "import sys, notifications.channels\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'backend', 'schedules', 'rq', 'redis'} "
        "or m in {'notifications.messages', 'notifications.jobs', 'notifications.worker'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
