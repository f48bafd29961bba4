"""Push notifications: FCM HTTP v1 for Android, APNs for iOS, and `PushChannel` choosing between them.

Credentials are bearer tokens handed in as a string, a zero-argument callable called once per send,
or a `CachedToken` (notifications/channels/tokens.py), which the registry builds from the key files:
an OAuth 2.0 access token minted by google-auth from a service-account key for FCM, an ES256 provider
JWT signed from the `.p8` key for APNs (notifications/channels/credentials.py). When the provider
answers that the token has expired (FCM 401 `UNAUTHENTICATED`, APNs 403 `ExpiredProviderToken`), a
`CachedToken` is renewed once and the message sent again.

Provider answers: FCM `UNREGISTERED` (HTTP 404) and APNs 410 `Unregistered` / 400 `BadDeviceToken`
raise `RecipientGone` (the caller retires the device and falls back to the next channel); 408, 429
and 5xx raise `TransientDeliveryError` carrying `Retry-After`; anything else is permanent.

Real APNs only speaks HTTP/2: the registry gives APNs an `Http2Transport` (httpx + h2).
Payloads carry only what the caller rendered plus opaque ids: never a drug, diagnosis or study.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from .base import Channel, DeliveryResult, Message, PermanentDeliveryError, RecipientGone
from .tokens import CachedToken
from .transport import HttpResponse, StdlibTransport, Transport, post_json, status_error

Token = str | Callable[[], str] | CachedToken

FCM_BASE_URL = "https://fcm.googleapis.com"
APNS_HOSTS = {"production": "https://api.push.apple.com", "sandbox": "https://api.sandbox.push.apple.com"}


def _resolve(token: Token) -> str:
    return token() if callable(token) else token


def _renew(token: Token, stale: str) -> str | None:
    """A fresh token after the provider refused `stale` as expired; None when the source cannot renew."""
    if isinstance(token, CachedToken):
        return token.renew(stale)
    return None


class FcmChannel:
    """Firebase Cloud Messaging HTTP v1 (`projects.messages.send`)."""

    name = "fcm"

    def __init__(
        self,
        project_id: str,
        access_token: Token,
        *,
        base_url: str = FCM_BASE_URL,
        timeout: float = 10.0,
        transport: Transport | None = None,
        ttl_seconds: int | None = 86400,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.url = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/messages:send"
        self._access_token = access_token
        self.timeout = timeout
        self.transport = transport or StdlibTransport()

    def send(self, message: Message) -> DeliveryResult:
        fcm_message: dict[str, object] = {
            "token": message.recipient,
            "notification": {"title": message.title, "body": message.body},
        }
        if message.data:
            fcm_message["data"] = dict(message.data)
        if self.ttl_seconds is not None:
            # A reminder is stale after a day: FCM drops it rather than deliver it late.
            fcm_message["android"] = {"priority": "high", "ttl": f"{self.ttl_seconds}s"}
        token = _resolve(self._access_token)
        response = self._post(token, fcm_message)
        if response.status == 401 and (fresh := _renew(self._access_token, token)) is not None:
            response = self._post(fresh, fcm_message)  # the access token expired: renewed once
        if 200 <= response.status < 300:
            body = response.json()
            name = body.get("name") if isinstance(body, dict) else None
            return DeliveryResult(provider_message_id=name)
        error_code = _fcm_error_code(response)
        # Only UNREGISTERED retires a token: a bare 404 can also mean a wrong project id, and
        # treating that as "token gone" would wipe every device we know.
        if error_code == "UNREGISTERED":
            raise RecipientGone(f"FCM: HTTP {response.status} UNREGISTERED")
        raise status_error(response, provider="FCM", reason=error_code)

    def _post(self, token: str, fcm_message: dict[str, object]) -> HttpResponse:
        return post_json(self.transport, self.url, {"Authorization": f"Bearer {token}"}, {"message": fcm_message},
                         self.timeout, provider="FCM")


def _fcm_error_code(response: HttpResponse) -> str | None:
    """FcmError.errorCode from the details, else the google.rpc status (e.g. INVALID_ARGUMENT)."""
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    status = error.get("status")
    return str(status) if status else None


class ApnsChannel:
    """Apple Push Notification service, token-based auth (see module docstring on HTTP/2)."""

    name = "apns"

    def __init__(
        self,
        base_url: str,
        topic: str,
        auth_token: Token,
        *,
        push_type: str = "alert",
        priority: int = 10,
        timeout: float = 10.0,
        transport: Transport | None = None,
        expiration_seconds: int | None = 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.expiration_seconds = expiration_seconds  # APNs stores and retries for this long, then drops it
        self._clock = clock
        self.base_url = base_url.rstrip("/")
        self.topic = topic  # the app's bundle id
        self._auth_token = auth_token
        self.push_type = push_type
        self.priority = priority
        self.timeout = timeout
        self.transport = transport or StdlibTransport()

    def send(self, message: Message) -> DeliveryResult:
        # Custom keys sit beside "aps" (Apple's convention); "aps" itself is ours.
        payload = {
            **message.data,
            "aps": {"alert": {"title": message.title, "body": message.body}, "sound": "default"},
        }
        headers = {
            "apns-topic": self.topic,
            "apns-push-type": self.push_type,
            "apns-priority": str(self.priority),
            "apns-expiration": str(int(self._clock()) + self.expiration_seconds) if self.expiration_seconds else "0",
        }
        url = f"{self.base_url}/3/device/{quote(message.recipient, safe='')}"
        token = _resolve(self._auth_token)
        response = post_json(self.transport, url, {"Authorization": f"bearer {token}", **headers}, payload,
                             self.timeout, provider="APNs")
        reason = _apns_reason(response)
        if response.status == 403 and reason == "ExpiredProviderToken" \
                and (fresh := _renew(self._auth_token, token)) is not None:
            response = post_json(self.transport, url, {"Authorization": f"bearer {fresh}", **headers}, payload,
                                 self.timeout, provider="APNs")  # renewed once
            reason = _apns_reason(response)
        if 200 <= response.status < 300:
            return DeliveryResult(provider_message_id=response.headers.get("apns-id"))
        if response.status == 410 or reason in ("Unregistered", "BadDeviceToken"):
            raise RecipientGone(f"APNs: HTTP {response.status} {reason or ''}".rstrip())
        raise status_error(response, provider="APNs", reason=reason)


def _apns_reason(response: HttpResponse) -> str | None:
    if 200 <= response.status < 300:
        return None
    body = response.json()
    return str(body["reason"]) if isinstance(body, dict) and body.get("reason") else None


class PushChannel:
    """One "push" channel for callers; the device's platform picks the provider."""

    name = "push"

    def __init__(self, *, android: Channel | None = None, ios: Channel | None = None) -> None:
        self._by_platform = {"android": android, "ios": ios}

    def send(self, message: Message) -> DeliveryResult:
        if message.platform is None:
            raise PermanentDeliveryError("push: message has no platform (ios/android)")
        channel = self._by_platform.get(message.platform)
        if channel is None:
            raise PermanentDeliveryError(f"push: no provider configured for platform {message.platform}")
        return channel.send(message)

    def close(self) -> None:
        """Close the providers' kept-open connections (a worker at exit; tests)."""
        for channel in self._by_platform.values():
            transport = getattr(channel, "transport", None)
            if hasattr(transport, "close"):
                transport.close()
