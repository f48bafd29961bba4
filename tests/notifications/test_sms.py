import pytest

from notifications.channels import HttpSmsChannel, Message, PermanentDeliveryError, TransientDeliveryError

from .conftest import Reply

PHONE = "+8613800138000"


def sms(provider, **kwargs) -> HttpSmsChannel:
    return HttpSmsChannel(f"{provider.url}/api/sms", "key-123", "Cadence", timeout=2, **kwargs)


def message() -> Message:
    return Message(recipient=PHONE, title="明日门诊提醒", body="您明天（3月3日 周二）07:30 有门诊就诊安排。")


def test_sms_posts_json_with_api_key_and_returns_id(provider):
    provider.reply(Reply(201, {"id": "sms-789"}))

    result = sms(provider).send(message())

    assert result.provider_message_id == "sms-789"
    [request] = provider.requests
    assert request.path == "/api/sms"
    assert request.headers["x-api-key"] == "key-123"
    # SMS has no title: only the body, and the Chinese text arrives intact.
    assert request.json() == {"to": PHONE, "from": "Cadence", "text": "您明天（3月3日 周二）07:30 有门诊就诊安排。"}


def test_sms_api_key_header_is_configurable(provider):
    sms(provider, api_key_header="Authorization").send(message())
    assert provider.requests[0].headers["authorization"] == "key-123"


def test_sms_accepted_without_id(provider):
    provider.reply(Reply(202, b""))
    result = sms(provider).send(message())
    assert result.provider_message_id is None


@pytest.mark.parametrize(
    "reply, error",
    [
        pytest.param(Reply(400, {"code": "invalid_number", "to": PHONE}), PermanentDeliveryError, id="400"),
        pytest.param(Reply(401, {"error": "bad key"}), PermanentDeliveryError, id="401"),
        pytest.param(Reply(429, {}, headers={"Retry-After": "5"}), TransientDeliveryError, id="429"),
        pytest.param(Reply(500, {}), TransientDeliveryError, id="500"),
        pytest.param(Reply(502, b"Bad Gateway"), TransientDeliveryError, id="502 text body"),
    ],
)
def test_sms_status_mapping(provider, reply, error):
    provider.reply(reply)
    with pytest.raises(error) as excinfo:
        sms(provider).send(message())
    assert PHONE not in str(excinfo.value)  # error text ends up in job logs


def test_sms_error_names_the_provider_code(provider):
    provider.reply(Reply(400, {"code": "invalid_number"}))
    with pytest.raises(PermanentDeliveryError, match="400 invalid_number"):
        sms(provider).send(message())


def test_sms_timeout_is_transient(provider):
    provider.reply(Reply(200, {"id": "late"}, delay=5))
    channel = HttpSmsChannel(f"{provider.url}/api/sms", "k", "Cadence", timeout=0.2)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        channel.send(message())


def test_sms_connection_refused_is_transient(closed_port):
    channel = HttpSmsChannel(f"http://127.0.0.1:{closed_port}/api/sms", "k", "Cadence", timeout=2)
    with pytest.raises(TransientDeliveryError):
        channel.send(message())
