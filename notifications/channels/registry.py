"""Build the configured channels from plain settings (environment variables or app.config).

A channel is built only when all of its required keys are set (empty counts as unset); setting some
but not all of them is a configuration mistake and raises `ConfigError` rather than silently dropping
reminders. `log` is always built. The returned dict also holds the channel named by
NOTIFY_CHANNEL_DEFAULT under the key `"default"`.

| Key                      | Default                      | Meaning                                                      |
|--------------------------|------------------------------|--------------------------------------------------------------|
| `NOTIFY_CHANNEL_DEFAULT` | `log`                        | channel returned as `"default"` (`log`, `push`, `sms`, `email`) |
| `HTTP_TIMEOUT_SECONDS`   | `10`                         | connect/read timeout for FCM, APNs and SMS requests          |
| `FCM_BASE_URL`           | `https://fcm.googleapis.com` | FCM HTTP v1 endpoint (tests point it at a local server)      |
| `FCM_PROJECT_ID`         | –                            | Firebase project id; required for Android push               |
| `FCM_ACCESS_TOKEN`       | –                            | OAuth 2.0 access token (expires in 1 h: development only; production passes a token provider) |
| `APNS_BASE_URL`          | –                            | APNs endpoint; must be HTTP/2-capable in production (see `push.py`); required for iOS push |
| `APNS_TOPIC`             | –                            | the iOS app's bundle id; required for iOS push               |
| `APNS_AUTH_TOKEN`        | –                            | APNs provider JWT (ES256); required for iOS push unless a provider is passed |
| `SMS_API_URL`            | –                            | SMS provider endpoint (POST JSON `{to, from, text}`); required for SMS |
| `SMS_API_KEY`            | –                            | SMS provider API key; required for SMS                       |
| `SMS_SENDER`             | –                            | sender id / number shown to the patient; required for SMS    |
| `SMS_API_KEY_HEADER`     | `X-Api-Key`                  | header that carries `SMS_API_KEY`                            |
| `SMTP_HOST`              | –                            | SMTP server; required for e-mail                             |
| `SMTP_SENDER`            | –                            | From address, e.g. `Cadence <noreply@example.org>`; required for e-mail |
| `SMTP_PORT`              | `587` with STARTTLS, else `25` | SMTP port                                                  |
| `SMTP_STARTTLS`          | `false`                      | upgrade the connection with STARTTLS (`true`/`false`)        |
| `SMTP_USERNAME`          | –                            | SMTP login; set together with `SMTP_PASSWORD`                |
| `SMTP_PASSWORD`          | –                            | SMTP password                                                |
| `SMTP_TIMEOUT_SECONDS`   | `10`                         | SMTP connect/command timeout                                 |
| `SMTP_LOCAL_HOSTNAME`    | the host's FQDN              | name sent in EHLO                                            |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .base import Channel
from .email import SmtpChannel
from .log import LogChannel
from .push import FCM_BASE_URL, ApnsChannel, FcmChannel, PushChannel
from .sms import HttpSmsChannel
from .transport import Transport

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """Settings that cannot work; raised at start-up, not at the first reminder."""


def build_channels(
    config: Mapping[str, object],
    *,
    transport: Transport | None = None,
    fcm_access_token: Callable[[], str] | None = None,
    apns_auth_token: Callable[[], str] | None = None,
) -> dict[str, Channel]:
    """Channels by name (`log`, and `push`/`sms`/`email` when configured) plus `"default"`.

    `transport` replaces the stdlib HTTP/1.1 transport for every HTTP channel (e.g. an HTTP/2 one);
    the token callables take precedence over FCM_ACCESS_TOKEN / APNS_AUTH_TOKEN.
    """
    settings = _Settings(config)
    http_timeout = settings.number("HTTP_TIMEOUT_SECONDS", 10.0)
    channels: dict[str, Channel] = {"log": LogChannel()}

    fcm_keys = ["FCM_PROJECT_ID"] + ([] if fcm_access_token else ["FCM_ACCESS_TOKEN"])
    android = None
    if settings.complete("Android push (FCM)", fcm_keys):
        android = FcmChannel(
            settings.get("FCM_PROJECT_ID"),
            fcm_access_token or settings.get("FCM_ACCESS_TOKEN"),
            base_url=settings.get("FCM_BASE_URL") or FCM_BASE_URL,
            timeout=http_timeout,
            transport=transport,
        )
    apns_keys = ["APNS_BASE_URL", "APNS_TOPIC"] + ([] if apns_auth_token else ["APNS_AUTH_TOKEN"])
    ios = None
    if settings.complete("iOS push (APNs)", apns_keys):
        ios = ApnsChannel(
            settings.get("APNS_BASE_URL"),
            settings.get("APNS_TOPIC"),
            apns_auth_token or settings.get("APNS_AUTH_TOKEN"),
            timeout=http_timeout,
            transport=transport,
        )
    if android or ios:
        channels["push"] = PushChannel(android=android, ios=ios)

    if settings.complete("SMS", ["SMS_API_URL", "SMS_API_KEY", "SMS_SENDER"]):
        channels["sms"] = HttpSmsChannel(
            settings.get("SMS_API_URL"),
            settings.get("SMS_API_KEY"),
            settings.get("SMS_SENDER"),
            api_key_header=settings.get("SMS_API_KEY_HEADER") or "X-Api-Key",
            timeout=http_timeout,
            transport=transport,
        )

    if settings.complete("e-mail (SMTP)", ["SMTP_HOST", "SMTP_SENDER"]):
        starttls = settings.flag("SMTP_STARTTLS")
        settings.complete("SMTP login", ["SMTP_USERNAME", "SMTP_PASSWORD"])
        channels["email"] = SmtpChannel(
            settings.get("SMTP_HOST"),
            int(settings.number("SMTP_PORT", 587 if starttls else 25)),
            settings.get("SMTP_SENDER"),
            starttls=starttls,
            username=settings.get("SMTP_USERNAME") or None,
            password=settings.get("SMTP_PASSWORD") or None,
            timeout=settings.number("SMTP_TIMEOUT_SECONDS", 10.0),
            local_hostname=settings.get("SMTP_LOCAL_HOSTNAME") or None,
        )

    default = settings.get("NOTIFY_CHANNEL_DEFAULT") or "log"
    if default not in channels:
        raise ConfigError(f"NOTIFY_CHANNEL_DEFAULT={default!r} but that channel is not configured")
    channels["default"] = channels[default]
    return channels


class _Settings:
    """String views over a config mapping; Flask config may hold ints and bools already."""

    def __init__(self, config: Mapping[str, object]) -> None:
        self._config = config

    def get(self, key: str) -> str:
        value = self._config.get(key)
        return "" if value is None else str(value).strip()

    def complete(self, what: str, keys: list[str]) -> bool:
        missing = [key for key in keys if not self.get(key)]
        if len(missing) == len(keys):
            return False
        if missing:
            raise ConfigError(f"{what} is partly configured; missing {', '.join(missing)}")
        return True

    def number(self, key: str, default: float) -> float:
        raw = self.get(key)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {raw!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self._config.get(key)
        if isinstance(value, bool):
            return value
        raw = self.get(key).lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(f"{key} must be true or false, got {raw!r}")
