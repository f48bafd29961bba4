"""Push notifications: FCM HTTP v1 for Android, APNs for iOS, and `PushChannel` choosing between them.

Credentials are bearer tokens handed in, either as a string or as a zero-argument callable called
once per send (so a caller can refresh them):

- FCM wants a Google OAuth 2.0 access token. Minting one means signing a service-account JWT with
  RS256 and exchanging it at Google's token endpoint; the stdlib has no RSA signing, so that lives
  outside this package (e.g. google-auth's `Credentials.token` behind the callable). A static
  `FCM_ACCESS_TOKEN` expires after an hour and is for development only.
- APNs wants a provider JWT signed with ES256 (again no stdlib support); pass it, or a callable that
  re-signs it before the one-hour expiry. If the callable cannot get a token it should raise
  `TransientDeliveryError`.

Real APNs only speaks HTTP/2, and `StdlibTransport` is HTTP/1.1. `ApnsChannel` implements the APNs
request/response contract (path, apns-* headers, JSON payload, status + `reason` mapping); production
must inject an HTTP/2-capable `Transport` (or point `base_url` at an HTTP/2 gateway).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from .base import Channel, DeliveryResult, Message, PermanentDeliveryError, RecipientGone
from .transport import HttpResponse, StdlibTransport, Transport, post_json, status_error

Token = str | Callable[[], str]

FCM_BASE_URL = "https://fcm.googleapis.com"


def _resolve(token: Token) -> str:
    return token() if callable(token) else token


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
    ) -> None:
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
        response = post_json(
            self.transport,
            self.url,
            {"Authorization": f"Bearer {_resolve(self._access_token)}"},
            {"message": fcm_message},
            self.timeout,
            provider="FCM",
        )
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
    ) -> None:
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
            "Authorization": f"bearer {_resolve(self._auth_token)}",
            "apns-topic": self.topic,
            "apns-push-type": self.push_type,
            "apns-priority": str(self.priority),
        }
        url = f"{self.base_url}/3/device/{quote(message.recipient, safe='')}"
        response = post_json(self.transport, url, headers, payload, self.timeout, provider="APNs")
        if 200 <= response.status < 300:
            return DeliveryResult(provider_message_id=response.headers.get("apns-id"))
        body = response.json()
        reason = str(body["reason"]) if isinstance(body, dict) and body.get("reason") else None
        if response.status == 410 or reason in ("Unregistered", "BadDeviceToken"):
            raise RecipientGone(f"APNs: HTTP {response.status} {reason or ''}".rstrip())
        raise status_error(response, provider="APNs", reason=reason)


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
