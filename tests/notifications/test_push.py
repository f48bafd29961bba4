import pytest

from notifications.channels import (
    ApnsChannel,
    FcmChannel,
    Message,
    PermanentDeliveryError,
    PushChannel,
    RecipientGone,
    TransientDeliveryError,
)

from .conftest import Reply

ANDROID_TOKEN = "fcm-token-abc:123"
IOS_TOKEN = "a1b2c3d4e5f6"


def android(**overrides) -> Message:
    fields = {"recipient": ANDROID_TOKEN, "title": "明日门诊提醒", "body": "Open Cadence", "platform": "android"}
    return Message(**{**fields, **overrides})


def ios(**overrides) -> Message:
    fields = {"recipient": IOS_TOKEN, "title": "Clinic visit tomorrow", "body": "Open Cadence", "platform": "ios"}
    return Message(**{**fields, **overrides})


def fcm(provider, **kwargs) -> FcmChannel:
    return FcmChannel("demo-project", kwargs.pop("token", "ya29.test"), base_url=provider.url, timeout=2, **kwargs)


def apns(provider, **kwargs) -> ApnsChannel:
    return ApnsChannel(provider.url, "org.example.cadence", "apns-jwt", timeout=2, **kwargs)


def unregistered() -> Reply:
    return Reply(
        404,
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
                ],
            }
        },
    )


# ------------------------------------------------------------------------------------------ FCM


def test_fcm_sends_v1_request_and_returns_message_name(provider):
    provider.reply(Reply(200, {"name": "projects/demo-project/messages/0:42"}))

    result = fcm(provider).send(android(data={"visit_id": "17"}))

    assert result.provider_message_id == "projects/demo-project/messages/0:42"
    [request] = provider.requests
    assert request.path == "/v1/projects/demo-project/messages:send"
    assert request.headers["authorization"] == "Bearer ya29.test"
    assert request.headers["content-type"].startswith("application/json")
    assert request.json() == {
        "message": {
            "token": ANDROID_TOKEN,
            "notification": {"title": "明日门诊提醒", "body": "Open Cadence"},
            "data": {"visit_id": "17"},
            "android": {"priority": "high", "ttl": "86400s"},
        }
    }


def test_fcm_asks_the_token_provider_on_every_send(provider):
    tokens = iter(["first", "second"])
    channel = fcm(provider, token=lambda: next(tokens))

    channel.send(android())
    channel.send(android())

    assert [r.headers["authorization"] for r in provider.requests] == ["Bearer first", "Bearer second"]


def test_fcm_unregistered_token_is_gone(provider):
    provider.reply(unregistered())
    with pytest.raises(RecipientGone):
        fcm(provider).send(android())


def test_fcm_bare_404_does_not_retire_the_token(provider):
    # A wrong project id also gives 404; retiring tokens on it would wipe every device.
    provider.reply(Reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}}))
    with pytest.raises(PermanentDeliveryError) as excinfo:
        fcm(provider).send(android())
    assert not isinstance(excinfo.value, RecipientGone)


@pytest.mark.parametrize(
    "reply, error",
    [
        pytest.param(Reply(400, {"error": {"status": "INVALID_ARGUMENT"}}), PermanentDeliveryError, id="400 bad request"),
        pytest.param(Reply(401, {"error": {"status": "UNAUTHENTICATED"}}), PermanentDeliveryError, id="401 bad token"),
        pytest.param(Reply(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}), TransientDeliveryError, id="429 quota"),
        pytest.param(Reply(500, {"error": {"status": "INTERNAL"}}), TransientDeliveryError, id="500"),
        pytest.param(Reply(503, b"<html>busy</html>"), TransientDeliveryError, id="503 html body"),
    ],
)
def test_fcm_status_mapping(provider, reply, error):
    provider.reply(reply)
    with pytest.raises(error) as excinfo:
        fcm(provider).send(android())
    assert not isinstance(excinfo.value, RecipientGone)
    assert ANDROID_TOKEN not in str(excinfo.value)


def test_fcm_429_passes_retry_after_on(provider):
    provider.reply(Reply(429, {}, headers={"Retry-After": "30"}))
    with pytest.raises(TransientDeliveryError) as excinfo:
        fcm(provider).send(android())
    assert excinfo.value.retry_after == 30


def test_fcm_slow_response_times_out_as_transient(provider):
    provider.reply(Reply(200, {}, delay=5))
    channel = FcmChannel("demo-project", "t", base_url=provider.url, timeout=0.2)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        channel.send(android())


def test_fcm_connection_refused_is_transient(closed_port):
    channel = FcmChannel("demo-project", "t", base_url=f"http://127.0.0.1:{closed_port}", timeout=2)
    with pytest.raises(TransientDeliveryError, match="ConnectionRefused"):
        channel.send(android())


# ----------------------------------------------------------------------------------------- APNs


def test_apns_sends_headers_and_payload_and_returns_apns_id(provider):
    provider.reply(Reply(200, b"", headers={"apns-id": "EC1BF194-B3B2-424A-89A2-6F8ED3F0F1D1"}))

    result = apns(provider).send(ios(data={"visit_id": "17"}))

    assert result.provider_message_id == "EC1BF194-B3B2-424A-89A2-6F8ED3F0F1D1"
    [request] = provider.requests
    assert request.path == f"/3/device/{IOS_TOKEN}"
    assert request.headers["authorization"] == "bearer apns-jwt"
    assert request.headers["apns-topic"] == "org.example.cadence"
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-priority"] == "10"
    assert request.json() == {
        "aps": {"alert": {"title": "Clinic visit tomorrow", "body": "Open Cadence"}, "sound": "default"},
        "visit_id": "17",
    }


def test_apns_custom_data_cannot_override_aps(provider):
    apns(provider).send(ios(data={"aps": "hijack"}))
    assert provider.requests[0].json()["aps"]["alert"]["title"] == "Clinic visit tomorrow"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(410, {"reason": "Unregistered", "timestamp": 1700000000000}), id="410 Unregistered"),
        pytest.param(Reply(400, {"reason": "BadDeviceToken"}), id="400 BadDeviceToken"),
    ],
)
def test_apns_gone_tokens(provider, reply):
    provider.reply(reply)
    with pytest.raises(RecipientGone):
        apns(provider).send(ios())


@pytest.mark.parametrize(
    "reply, error",
    [
        pytest.param(Reply(400, {"reason": "BadTopic"}), PermanentDeliveryError, id="400 BadTopic"),
        pytest.param(Reply(403, {"reason": "ExpiredProviderToken"}), PermanentDeliveryError, id="403 expired jwt"),
        pytest.param(Reply(429, {"reason": "TooManyRequests"}), TransientDeliveryError, id="429"),
        pytest.param(Reply(500, {"reason": "InternalServerError"}), TransientDeliveryError, id="500"),
        pytest.param(Reply(503, {"reason": "ServiceUnavailable"}), TransientDeliveryError, id="503"),
    ],
)
def test_apns_status_mapping(provider, reply, error):
    provider.reply(reply)
    with pytest.raises(error) as excinfo:
        apns(provider).send(ios())
    assert not isinstance(excinfo.value, RecipientGone)
    assert reply.body["reason"] in str(excinfo.value)


def test_apns_slow_response_times_out_as_transient(provider):
    provider.reply(Reply(200, {}, delay=5))
    channel = ApnsChannel(provider.url, "org.example.cadence", "jwt", timeout=0.2)
    with pytest.raises(TransientDeliveryError):
        channel.send(ios())


def test_apns_connection_refused_is_transient(closed_port):
    channel = ApnsChannel(f"http://127.0.0.1:{closed_port}", "org.example.cadence", "jwt", timeout=2)
    with pytest.raises(TransientDeliveryError):
        channel.send(ios())


# ----------------------------------------------------------------------------------------- Push


def test_push_dispatches_by_platform(make_provider):
    fcm_server, apns_server = make_provider(), make_provider()
    push = PushChannel(android=fcm(fcm_server), ios=apns(apns_server))

    push.send(android())
    push.send(ios())
    push.send(android())

    assert len(fcm_server.requests) == 2
    assert len(apns_server.requests) == 1


def test_push_without_a_provider_for_the_platform_is_permanent(provider):
    push = PushChannel(android=fcm(provider))
    with pytest.raises(PermanentDeliveryError, match="ios"):
        push.send(ios())
    assert provider.requests == []


def test_push_needs_a_platform(provider):
    with pytest.raises(PermanentDeliveryError, match="platform"):
        PushChannel(android=fcm(provider)).send(android(platform=None))
