import pytest

from notifications.channels import (
    ConfigError,
    HttpResponse,
    HttpSmsChannel,
    LogChannel,
    Message,
    PushChannel,
    SmtpChannel,
    build_channels,
)

from .conftest import Reply


def test_nothing_configured_gives_log_as_default():
    channels = build_channels({})
    assert set(channels) == {"log", "default"}
    assert isinstance(channels["log"], LogChannel)
    assert channels["default"] is channels["log"]


def test_empty_values_count_as_unset():
    assert set(build_channels({"SMS_API_URL": "", "SMTP_HOST": " ", "FCM_PROJECT_ID": None})) == {"log", "default"}


def test_everything_configured(provider):
    channels = build_channels(
        {
            "NOTIFY_CHANNEL_DEFAULT": "push",
            "FCM_BASE_URL": provider.url,
            "FCM_PROJECT_ID": "demo",
            "FCM_ACCESS_TOKEN": "tok",
            "APNS_BASE_URL": provider.url,
            "APNS_TOPIC": "org.example.cadence",
            "APNS_AUTH_TOKEN": "jwt",
            "SMS_API_URL": f"{provider.url}/sms",
            "SMS_API_KEY": "k",
            "SMS_SENDER": "Cadence",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_SENDER": "noreply@example.org",
        }
    )
    assert set(channels) == {"log", "push", "sms", "email", "default"}
    assert isinstance(channels["push"], PushChannel)
    assert isinstance(channels["sms"], HttpSmsChannel)
    assert isinstance(channels["email"], SmtpChannel)
    assert channels["default"] is channels["push"]


def test_built_channels_use_the_configured_endpoints_and_timeout(provider):
    channels = build_channels(
        {
            "FCM_BASE_URL": provider.url,
            "FCM_PROJECT_ID": "demo",
            "FCM_ACCESS_TOKEN": "tok",
            "APNS_BASE_URL": provider.url,
            "APNS_TOPIC": "org.example.cadence",
            "APNS_AUTH_TOKEN": "jwt",
            "SMS_API_URL": f"{provider.url}/sms",
            "SMS_API_KEY": "k",
            "SMS_SENDER": "Cadence",
            "SMS_API_KEY_HEADER": "X-Key",
            "HTTP_TIMEOUT_SECONDS": "3",
        }
    )
    channels["push"].send(Message(recipient="a", title="t", body="b", platform="android"))
    channels["push"].send(Message(recipient="i", title="t", body="b", platform="ios"))
    channels["sms"].send(Message(recipient="+1", title="t", body="b"))

    fcm, apns, sms = provider.requests
    assert fcm.path == "/v1/projects/demo/messages:send"
    assert fcm.headers["authorization"] == "Bearer tok"
    assert apns.path == "/3/device/i"
    assert apns.headers["apns-topic"] == "org.example.cadence"
    assert sms.path == "/sms"
    assert sms.headers["x-key"] == "k"
    assert channels["sms"].timeout == 3


def test_token_provider_replaces_the_static_token(provider):
    channels = build_channels(
        {"FCM_BASE_URL": provider.url, "FCM_PROJECT_ID": "demo"}, fcm_access_token=lambda: "fresh"
    )
    channels["push"].send(Message(recipient="a", title="t", body="b", platform="android"))
    assert provider.requests[0].headers["authorization"] == "Bearer fresh"


def test_injected_transport_is_used():
    class RecordingTransport:
        def __init__(self):
            self.urls = []

        def post(self, url, headers, body, timeout):
            self.urls.append(url)
            return HttpResponse(200, b"", {"apns-id": "from-h2"})

    transport = RecordingTransport()
    channels = build_channels(
        {"APNS_BASE_URL": "https://api.push.apple.com", "APNS_TOPIC": "t", "APNS_AUTH_TOKEN": "j"},
        transport=transport,
    )
    result = channels["push"].send(Message(recipient="abc", title="t", body="b", platform="ios"))
    assert result.provider_message_id == "from-h2"
    assert transport.urls == ["https://api.push.apple.com/3/device/abc"]


def test_only_one_push_platform_configured(provider):
    channels = build_channels({"FCM_BASE_URL": provider.url, "FCM_PROJECT_ID": "demo", "FCM_ACCESS_TOKEN": "t"})
    assert "push" in channels
    provider.reply(Reply(200, {"name": "n"}))
    assert channels["push"].send(Message(recipient="a", title="t", body="b", platform="android"))


@pytest.mark.parametrize(
    "config, starttls, port, username",
    [
        pytest.param({}, False, 25, None, id="plain relay on 25"),
        pytest.param({"SMTP_STARTTLS": "true"}, True, 587, None, id="starttls defaults to 587"),
        pytest.param({"SMTP_STARTTLS": True, "SMTP_PORT": 2525}, True, 2525, None, id="flask config types"),
        pytest.param({"SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"}, False, 25, "u", id="login"),
    ],
)
def test_smtp_settings(config, starttls, port, username):
    email = build_channels({"SMTP_HOST": "mail.example.org", "SMTP_SENDER": "noreply@example.org", **config})["email"]
    assert (email.starttls, email.port, email.username) == (starttls, port, username)


@pytest.mark.parametrize(
    "config, complaint",
    [
        pytest.param({"FCM_PROJECT_ID": "demo"}, "FCM_CREDENTIALS_FILE", id="fcm without key"),
        pytest.param({"APNS_TOPIC": "t", "APNS_KEY_ID": "K"}, "APNS_KEY_FILE", id="apns key without file"),
        pytest.param({"APNS_AUTH_TOKEN": "j"}, "APNS_TOPIC", id="apns without topic"),
        pytest.param({"FCM_CREDENTIALS_FILE": "/nonexistent.json"}, "FCM_CREDENTIALS_FILE", id="fcm key unreadable"),
        pytest.param({"SMS_API_URL": "http://x", "SMS_SENDER": "C"}, "SMS_API_KEY", id="sms without key"),
        pytest.param({"SMTP_HOST": "mail"}, "SMTP_SENDER", id="smtp without sender"),
        pytest.param(
            {"SMTP_HOST": "mail", "SMTP_SENDER": "a@b", "SMTP_USERNAME": "u"}, "SMTP_PASSWORD", id="login half set"
        ),
        pytest.param({"SMTP_HOST": "m", "SMTP_SENDER": "a@b", "SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS", id="bad bool"),
        pytest.param({"HTTP_TIMEOUT_SECONDS": "soon"}, "HTTP_TIMEOUT_SECONDS", id="bad number"),
        pytest.param({"HTTP_TIMEOUT_SECONDS": "0"}, "HTTP_TIMEOUT_SECONDS", id="zero timeout"),
        pytest.param({"NOTIFY_CHANNEL_DEFAULT": "sms"}, "NOTIFY_CHANNEL_DEFAULT", id="default not configured"),
    ],
)
def test_half_configured_or_invalid_settings_fail_at_startup(config, complaint):
    with pytest.raises(ConfigError, match=complaint):
        build_channels(config)
