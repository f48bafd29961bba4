"""Build the configured channels from plain settings (environment variables or app.config).

A channel is built only when all of its required keys are set (empty counts as unset); setting some
but not all of them is a configuration mistake and raises `ConfigError` rather than silently dropping
reminders. `log` is always built. The returned dict also holds the channel named by
NOTIFY_CHANNEL_DEFAULT under the key `"default"`.

| Key                      | Default                      | Meaning                                                      |
|--------------------------|------------------------------|--------------------------------------------------------------|
| `NOTIFY_CHANNEL_DEFAULT` | `log`                        | channel returned as `"default"` (`log`, `push`, `sms`, `email`) |
| `HTTP_TIMEOUT_SECONDS`   | `10`                         | connect/read timeout for FCM, APNs and SMS requests          |
| `FCM_CREDENTIALS_FILE`   | –                            | Firebase service-account key (JSON); tokens are minted from it with google-auth |
| `FCM_BASE_URL`           | `https://fcm.googleapis.com` | FCM HTTP v1 endpoint (tests point it at a local server)      |
| `FCM_PROJECT_ID`         | the key file's `project_id`  | Firebase project id                                          |
| `FCM_ACCESS_TOKEN`       | –                            | a static OAuth 2.0 access token instead of the key file (expires in 1 h: development only) |
| `APNS_KEY_FILE`          | –                            | the `.p8` token-signing key from Apple Developer             |
| `APNS_KEY_ID`            | –                            | that key's id (10 characters)                                |
| `APNS_TEAM_ID`           | –                            | the Apple Developer team id                                  |
| `APNS_TOPIC`             | –                            | the iOS app's bundle id; required for iOS push               |
| `APNS_ENVIRONMENT`       | `production`                 | `production` or `sandbox` (development builds of the app)    |
| `APNS_BASE_URL`          | by `APNS_ENVIRONMENT`        | override of the APNs host (tests point it at a local server) |
| `APNS_TOKEN_REFRESH_MINUTES` | `50`                     | provider token renewed this often; Apple wants 20–60         |
| `APNS_AUTH_TOKEN`        | –                            | a static provider JWT instead of the key (development only)  |
| `PUSH_EXPIRATION_SECONDS`| `86400`                      | APNs `apns-expiration` / FCM `ttl`: a reminder not delivered by then is dropped |
| `PUSH_CA_FILE`           | system trust store           | CA bundle for the push endpoints (a TLS-inspecting proxy; tests) |
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
from typing import Any

from .base import Channel
from .email import SmtpChannel
from .log import LogChannel
from .push import APNS_HOSTS, FCM_BASE_URL, ApnsChannel, FcmChannel, PushChannel
from .sms import HttpSmsChannel
from .tokens import CachedToken, TokenCache
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
    token_cache: TokenCache | None = None,
) -> dict[str, Channel]:
    """Channels by name (`log`, and `push`/`sms`/`email` when configured) plus `"default"`.

    `transport` replaces the default transports of every HTTP channel (HTTP/2 for push, the stdlib's
    HTTP/1.1 for SMS); the token callables take precedence over the key files and static tokens;
    `token_cache` shares minted push tokens between processes (a worker passes Redis).
    """
    settings = _Settings(config)
    http_timeout = settings.number("HTTP_TIMEOUT_SECONDS", 10.0)
    channels: dict[str, Channel] = {"log": LogChannel()}

    android = _fcm_channel(settings, http_timeout, transport, fcm_access_token, token_cache)
    ios = _apns_channel(settings, http_timeout, transport, apns_auth_token, token_cache)
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


def _fcm_channel(settings: _Settings, timeout: float, transport: Transport | None,
                 token: Callable[[], str] | None, cache: TokenCache | None) -> FcmChannel | None:
    from .credentials import FcmAccessToken, KeyFileError, read_service_account

    keys = ("FCM_CREDENTIALS_FILE", "FCM_ACCESS_TOKEN", "FCM_PROJECT_ID")
    if not any(settings.get(key) for key in keys) and token is None:
        return None
    project_id = settings.get("FCM_PROJECT_ID")
    access_token: Any = token
    if access_token is None and settings.get("FCM_CREDENTIALS_FILE"):
        try:
            info = read_service_account(settings.get("FCM_CREDENTIALS_FILE"))
            mint = FcmAccessToken(info, timeout=timeout, verify=settings.tls_verify())
        except KeyFileError as error:
            raise ConfigError(str(error)) from None
        project_id = project_id or str(info.get("project_id") or "")
        # Keyed by the service account, so two deployments sharing a Redis do not share tokens.
        access_token = CachedToken(f"fcm:{info['client_email']}", mint, cache=cache, margin=300.0)
    elif access_token is None:
        access_token = settings.get("FCM_ACCESS_TOKEN") or None
    if access_token is None:
        raise ConfigError("Android push (FCM) is partly configured; missing FCM_CREDENTIALS_FILE")
    if not project_id:
        raise ConfigError("Android push (FCM) is partly configured; missing FCM_PROJECT_ID")
    return FcmChannel(project_id, access_token, base_url=settings.get("FCM_BASE_URL") or FCM_BASE_URL,
                      timeout=timeout, transport=transport or settings.push_transport(),
                      ttl_seconds=int(settings.number("PUSH_EXPIRATION_SECONDS", 86400)))


def _apns_channel(settings: _Settings, timeout: float, transport: Transport | None,
                  token: Callable[[], str] | None, cache: TokenCache | None) -> ApnsChannel | None:
    from .credentials import ApnsProviderToken, KeyFileError

    key_settings = ["APNS_KEY_FILE", "APNS_KEY_ID", "APNS_TEAM_ID"]
    keys = ["APNS_TOPIC", "APNS_AUTH_TOKEN", "APNS_BASE_URL", *key_settings]
    if not any(settings.get(key) for key in keys) and token is None:
        return None
    environment = settings.get("APNS_ENVIRONMENT") or "production"
    if environment not in APNS_HOSTS:
        raise ConfigError(f"APNS_ENVIRONMENT must be production or sandbox, got {environment!r}")
    auth_token: Any = token
    if auth_token is None and any(settings.get(key) for key in key_settings):
        settings.complete("iOS push (APNs) token signing", key_settings)
        minutes = settings.number("APNS_TOKEN_REFRESH_MINUTES", 50)
        if not 20 <= minutes <= 60:
            raise ConfigError(f"APNS_TOKEN_REFRESH_MINUTES must be between 20 and 60 (Apple's rule), got {minutes:g}")
        try:
            mint = ApnsProviderToken.from_file(settings.get("APNS_KEY_FILE"), settings.get("APNS_KEY_ID"),
                                               settings.get("APNS_TEAM_ID"))
        except KeyFileError as error:
            raise ConfigError(str(error)) from None
        auth_token = CachedToken(f"apns:{mint.team_id}:{mint.key_id}", mint, cache=cache, margin=60.0,
                                 lifetime=minutes * 60)
    elif auth_token is None:
        auth_token = settings.get("APNS_AUTH_TOKEN") or None
    if auth_token is None:
        raise ConfigError("iOS push (APNs) is partly configured; missing APNS_KEY_FILE, APNS_KEY_ID, APNS_TEAM_ID")
    if not settings.get("APNS_TOPIC"):
        raise ConfigError("iOS push (APNs) is partly configured; missing APNS_TOPIC")
    return ApnsChannel(settings.get("APNS_BASE_URL") or APNS_HOSTS[environment], settings.get("APNS_TOPIC"),
                       auth_token, timeout=timeout, transport=transport or settings.push_transport(),
                       expiration_seconds=int(settings.number("PUSH_EXPIRATION_SECONDS", 86400)))


class _Settings:
    """String views over a config mapping; Flask config may hold ints and bools already."""

    def __init__(self, config: Mapping[str, object]) -> None:
        self._config = config
        self._push_transport: Transport | None = None

    def tls_verify(self) -> Any:
        """True (the default trust store) or an SSLContext trusting PUSH_CA_FILE."""
        if not self.get("PUSH_CA_FILE"):
            return True
        import ssl

        try:
            return ssl.create_default_context(cafile=self.get("PUSH_CA_FILE"))
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(f"PUSH_CA_FILE cannot be read: {type(error).__name__}") from None

    def push_transport(self) -> Transport:
        """One HTTP/2 client for FCM and APNs (connections are kept open and reused)."""
        if self._push_transport is None:
            from .http2 import Http2Transport

            self._push_transport = Http2Transport(verify=self.tls_verify())
        return self._push_transport

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
