"""Push that reaches phones: the real channels, built from key files the way a deployment builds them,
against local HTTP/2 + TLS servers that check credentials as Apple and Google do (tests/notifications/
fake_push.py). What is checked: the OAuth exchange and the provider JWT (claims and signature), the
APNs headers, the payloads, token caching and renewal, and what each provider answer means."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timezone

import jwt
import pytest
import redis
import sqlalchemy as sa

from backend.models import Device, Reminder
from notifications.channels import (
    CachedToken,
    MemoryTokenCache,
    Message,
    PermanentDeliveryError,
    RecipientGone,
    RedisTokenCache,
    TransientDeliveryError,
    build_channels,
)
from notifications.dispatch import dispatch_due_in_process
from tests.factories_reminders import EventFactory, patient_with_account

from .fake_push import KEY_ID, PROJECT, TEAM_ID, TOPIC, Answer, PushProviders
from .test_messages import DENY_LIST

ANDROID = "fcm-registration-token-0001"
IOS = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture()
def providers(tmp_path):
    servers = PushProviders(tmp_path)
    yield servers
    for push in servers.channels:
        push.close()
    servers.close()


def channel(providers, cache=None, **overrides):
    push = build_channels(providers.config(**overrides), token_cache=cache)["push"]
    providers.channels.append(push)
    return push


def android(**fields) -> Message:
    return Message(**{"recipient": ANDROID, "title": "Clinic visit tomorrow", "body": "Open Cadence for details.",
                      "platform": "android", "data": {"reminder_id": "r1"}, **fields})


def ios(**fields) -> Message:
    return Message(**{"recipient": IOS, "title": "Clinic visit tomorrow", "body": "Open Cadence for details.",
                      "platform": "ios", **fields})


def sent_to(providers, prefix):
    return [seen for seen in providers.requests if seen.path.startswith(prefix)]


# --- FCM HTTP v1 --------------------------------------------------------------------------------------
def test_fcm_mints_an_access_token_from_the_service_account_and_sends_over_http2(providers):
    result = channel(providers).send(android())

    token_request, send = providers.requests
    assert token_request.path == "/token"  # the key file's token_uri; the server checked the RS256 assertion
    assert send.path == f"/v1/projects/{PROJECT}/messages:send"  # project id from the key file
    assert send.http_version == "2"
    assert send.headers["authorization"] == f"Bearer {providers.issued_access_tokens[0]}"
    assert send.json() == {"message": {
        "token": ANDROID, "notification": {"title": "Clinic visit tomorrow", "body": "Open Cadence for details."},
        "data": {"reminder_id": "r1"}, "android": {"priority": "high", "ttl": "86400s"}}}
    assert result.provider_message_id.startswith(f"projects/{PROJECT}/messages/")


def test_fcm_access_token_is_cached_until_shortly_before_it_expires(providers):
    push = channel(providers)
    for _ in range(3):
        push.send(android())
    assert len(sent_to(providers, "/token")) == 1


def test_fcm_access_token_is_shared_by_every_process_through_redis(app, providers):
    """RQ forks a work horse per job: each builds its channels, all use the one token in Redis."""
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    client.flushdb()
    for _ in range(3):  # three "processes", each with its own channels
        channel(providers, RedisTokenCache(client)).send(android())
    assert len(sent_to(providers, "/token")) == 1
    assert len({seen.headers["authorization"] for seen in sent_to(providers, "/v1/")}) == 1
    client.flushdb()


def test_an_expired_access_token_is_renewed_once_and_the_message_sent(providers):
    push = channel(providers)
    push.send(android())
    providers.expire_access_tokens()  # Google revoked it early, or the clock was off

    assert push.send(android()).provider_message_id
    first, second = providers.issued_access_tokens
    assert [seen.headers["authorization"] for seen in sent_to(providers, "/v1/")] == [
        f"Bearer {first}", f"Bearer {first}", f"Bearer {second}"]


def test_an_access_token_refused_again_after_renewal_is_not_retried_forever(providers):
    push = channel(providers)
    providers.fcm_replies.extend([Answer(401, {"error": {"status": "UNAUTHENTICATED"}})] * 2)
    with pytest.raises(PermanentDeliveryError, match="401"):
        push.send(android())
    assert len(sent_to(providers, "/v1/")) == 2


def test_a_token_endpoint_that_refuses_the_key_is_a_permanent_error(providers):
    providers.token_replies.append(Answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT"}))
    with pytest.raises(PermanentDeliveryError, match="token endpoint refused"):
        channel(providers).send(android())


def test_a_token_endpoint_that_is_down_is_transient(providers):
    providers.token_replies.extend([Answer(503, {"error": "internal_failure"})] * 5)  # google-auth retries too
    with pytest.raises(TransientDeliveryError):
        channel(providers).send(android())


@pytest.mark.parametrize("answer, error", [
    pytest.param(Answer(404, {"error": {"code": 404, "status": "NOT_FOUND", "details": [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}),
        RecipientGone, id="UNREGISTERED (404): the app was uninstalled, retire the device"),
    pytest.param(Answer(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}, {"retry-after": "30"}),
                 TransientDeliveryError, id="429: retry after what FCM says"),
    pytest.param(Answer(503, {"error": {"status": "UNAVAILABLE"}}, {"retry-after": "30"}),
                 TransientDeliveryError, id="503: retry after what FCM says"),
    pytest.param(Answer(400, {"error": {"status": "INVALID_ARGUMENT"}}), PermanentDeliveryError,
                 id="400: the same request fails again"),
])
def test_fcm_answers(providers, answer, error):
    providers.fcm_replies.append(answer)
    with pytest.raises(error) as raised:
        channel(providers).send(android())
    if answer.status in (429, 503):
        assert raised.value.retry_after == 30


# --- APNs ---------------------------------------------------------------------------------------------
def test_apns_sends_a_signed_provider_token_and_the_apns_headers_over_http2(providers):
    before = int(time.time())
    result = channel(providers).send(ios(data={"reminder_id": "r1"}))

    (request,) = providers.requests
    assert request.http_version == "2"
    assert request.path == f"/3/device/{IOS}"
    token = request.headers["authorization"].removeprefix("bearer ")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, providers.apns_key.public_key(), algorithms=["ES256"])  # the signature holds
    assert (header["alg"], header["kid"]) == ("ES256", KEY_ID)
    assert claims["iss"] == TEAM_ID and before <= claims["iat"] <= int(time.time())
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-priority"] == "10"
    assert before + 86400 <= int(request.headers["apns-expiration"]) <= int(time.time()) + 86400
    assert request.json() == {"reminder_id": "r1", "aps": {
        "alert": {"title": "Clinic visit tomorrow", "body": "Open Cadence for details."}, "sound": "default"}}
    assert len(result.provider_message_id) == 36  # the apns-id header


def test_apns_provider_token_is_reused_between_sends(providers):
    push = channel(providers)
    for _ in range(3):
        push.send(ios())
    assert len(set(providers.provider_tokens_seen)) == 1


def test_an_expired_provider_token_is_renewed_once_and_the_message_sent(providers):
    providers.apns_replies.append(Answer(403, {"reason": "ExpiredProviderToken"}))
    assert channel(providers).send(ios()).provider_message_id
    assert len(providers.provider_tokens_seen) == 2


def test_a_provider_token_refused_twice_is_not_retried_forever(providers):
    providers.apns_replies.extend([Answer(403, {"reason": "ExpiredProviderToken"})] * 2)
    with pytest.raises(PermanentDeliveryError, match="ExpiredProviderToken"):
        channel(providers).send(ios())
    assert len(providers.provider_tokens_seen) == 2


@pytest.mark.parametrize("answer, error", [
    pytest.param(Answer(410, {"reason": "Unregistered", "timestamp": 1700000000000}), RecipientGone,
                 id="410 Unregistered: retire the device"),
    pytest.param(Answer(400, {"reason": "BadDeviceToken"}), RecipientGone, id="400 BadDeviceToken: retire the device"),
    pytest.param(Answer(429, {"reason": "TooManyRequests"}, {"retry-after": "120"}), TransientDeliveryError,
                 id="429: retry after what Apple says"),
    pytest.param(Answer(503, {"reason": "ServiceUnavailable"}, {"retry-after": "120"}), TransientDeliveryError,
                 id="503: retry after what Apple says"),
    pytest.param(Answer(400, {"reason": "PayloadTooLarge"}), PermanentDeliveryError, id="400: fails again"),
])
def test_apns_answers(providers, answer, error):
    providers.apns_replies.append(answer)
    with pytest.raises(error) as raised:
        channel(providers).send(ios())
    if answer.status in (429, 503):
        assert raised.value.retry_after == 120


def test_sandbox_and_production_hosts_by_setting(providers):
    config = providers.config()
    del config["APNS_BASE_URL"]
    production = build_channels(config)["push"]
    sandbox = build_channels({**config, "APNS_ENVIRONMENT": "sandbox"})["push"]
    providers.channels += [production, sandbox]
    assert production._by_platform["ios"].base_url == "https://api.push.apple.com"
    sandbox = sandbox._by_platform["ios"]
    assert sandbox.base_url == "https://api.sandbox.push.apple.com"


# --- token renewal rules, on a clock the test moves -----------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_apns_provider_tokens_are_renewed_within_apples_20_to_60_minutes():
    clock, minted = Clock(), []

    def mint():
        minted.append(clock.now)
        return f"jwt-{len(minted)}", clock.now + 3600

    token = CachedToken("apns:test", mint, cache=MemoryTokenCache(clock), margin=60, lifetime=50 * 60, clock=clock)
    assert token() == "jwt-1"
    clock.now += 49 * 60
    assert token() == "jwt-1"  # never renewed sooner than Apple allows (20 min)
    clock.now += 2 * 60
    assert token() == "jwt-2"  # and renewed before Apple's hour is up


def test_oauth_tokens_are_used_until_shortly_before_expiry():
    clock, minted = Clock(), []

    def mint():
        minted.append(clock.now)
        return f"ya29.{len(minted)}", clock.now + 3599

    token = CachedToken("fcm:test", mint, cache=MemoryTokenCache(clock), margin=300, clock=clock)
    token()
    clock.now += 3599 - 301
    assert token() == "ya29.1"
    clock.now += 2
    assert token() == "ya29.2"


def test_renewal_uses_a_token_another_process_already_renewed():
    clock, cache = Clock(), None
    cache = MemoryTokenCache(clock)
    counter = iter(range(1, 10))
    mint = lambda: (f"t{next(counter)}", clock.now + 3600)  # noqa: E731
    one = CachedToken("k", mint, cache=cache, clock=clock)
    two = CachedToken("k", mint, cache=cache, clock=clock)
    stale = one()
    assert two() == stale
    renewed = one.renew(stale)
    assert renewed != stale
    assert two.renew(stale) == renewed  # not a third token


# --- end to end: a reminder through the real channels -----------------------------------------------------
@pytest.fixture()
def real_push(app, providers):
    """The app's channels built from settings pointing at the fake providers (Redis shares the tokens)."""
    config = providers.config(NOTIFY_CHANNEL_DEFAULT="log")
    saved = {key: app.config.get(key) for key in config}
    app.config.update(config)
    previous = app.extensions.pop("cadence.channels", None)
    yield providers
    built = app.extensions.pop("cadence.channels", None)
    if built and "push" in built:
        built["push"].close()
    if previous is not None:
        app.extensions["cadence.channels"] = previous
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value


def _visit(db, patient, kind, day):
    from backend.services.reminders import sync_event_reminders

    event = EventFactory(patient=patient, kind=kind, target_date=day, label=f"{kind} inetetamab cycle 1")
    sync_event_reminders(patient, [event], datetime(2026, 3, 1, tzinfo=timezone.utc))
    db.session.commit()
    return event


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_reminders_reach_both_platforms_and_name_no_drug_diagnosis_or_study(db, real_push, locale):
    first, _ = patient_with_account(locale=locale)
    second, _ = patient_with_account(locale=locale)
    db.session.add_all([Device(patient_id=first.id, platform="android", token=ANDROID),
                        Device(patient_id=second.id, platform="ios", token=IOS)])
    db.session.commit()
    for patient in (first, second):
        _visit(db, patient, "dose", date(2026, 3, 10))
        _visit(db, patient, "tumor_assessment", date(2026, 3, 12))
        _visit(db, patient, "symptom_survey", date(2026, 3, 11))

    report = dispatch_due_in_process(datetime(2026, 3, 20, tzinfo=timezone.utc))

    fcm, apns = sent_to(real_push, "/v1/"), sent_to(real_push, "/3/device/")
    assert fcm and apns and report.delivered.sent == len(fcm) + len(apns)
    for seen in fcm + apns:
        text = json.dumps(seen.json(), ensure_ascii=False).lower()
        for word in DENY_LIST:
            assert word.lower() not in text, f"{word!r} on a lock screen: {text}"
    patients = sa.select(Reminder).where(Reminder.audience == "patient")
    assert {(r.status, r.channel) for r in db.session.scalars(patients)} == {("sent", "push")}


def test_an_uninstalled_app_retires_the_device_and_the_reminder_goes_by_sms(db, real_push, make_provider):
    sms = make_provider()
    real_push_config = {"SMS_API_URL": f"{sms.url}/sms", "SMS_API_KEY": "k", "SMS_SENDER": "Cadence"}
    from flask import current_app

    current_app.config.update(real_push_config)
    try:
        patient, _ = patient_with_account(phone="+447700900123")
        db.session.add(Device(patient_id=patient.id, platform="ios", token=IOS))
        db.session.commit()
        _visit(db, patient, "dose", date(2026, 3, 10))
        real_push.apns_replies.append(Answer(410, {"reason": "Unregistered"}))

        dispatch_due_in_process(datetime(2026, 3, 20, tzinfo=timezone.utc))

        device = db.session.scalars(sa.select(Device)).one()
        assert device.retired_at is not None and "Unregistered" in device.retired_reason
        assert len(sent_to(real_push, "/3/device/")) == 1  # the second reminder does not try the gone token
        assert len(sms.requests) == 2
        assert {(r.status, r.channel) for r in db.session.scalars(sa.select(Reminder))} == {("sent", "sms")}
    finally:
        for key in real_push_config:
            current_app.config.pop(key, None)
