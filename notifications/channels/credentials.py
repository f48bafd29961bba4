"""Minting the push providers' credentials from their key files.

- FCM: a Google service-account key (the JSON file from the Firebase console). google-auth signs
  an RS256 assertion with its private key and exchanges it at the key file's `token_uri` for an
  OAuth 2.0 access token with the `firebase.messaging` scope (about an hour).
- APNs: an ES256 provider token (JWT) signed with the `.p8` key from Apple Developer, `kid` = the
  key id, `iss` = the team id, `iat` = now. Apple accepts one for an hour and wants it renewed
  no more often than every 20 minutes.

Both are wrapped in `CachedToken` by the registry, so one token is shared by a worker's jobs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import timezone
from pathlib import Path
from typing import Any

import httpx
import jwt
from google.auth import exceptions as google_exceptions
from google.auth import transport as google_transport
from google.oauth2 import service_account

from .base import PermanentDeliveryError, TransientDeliveryError
from .tokens import Minted

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
APNS_TOKEN_LIFETIME = 3600.0  # Apple refuses provider tokens older than an hour


class KeyFileError(ValueError):
    """A key file that cannot be read or is not the expected kind (a configuration mistake)."""


# --- FCM --------------------------------------------------------------------------------------------
class _GoogleResponse(google_transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxGoogleRequest(google_transport.Request):
    """google-auth's transport interface over an httpx client (no `requests` dependency)."""

    def __init__(self, timeout: float = 10.0, verify: Any = True) -> None:
        self._timeout = timeout
        self._verify = verify

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            with httpx.Client(timeout=timeout or self._timeout, verify=self._verify) as client:
                response = client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise google_exceptions.TransportError(f"{type(error).__name__}: {error}") from error
        return _GoogleResponse(response)


def read_service_account(path: str) -> dict[str, Any]:
    """The service-account key file's fields (type, project_id, client_email, private_key, token_uri)."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise KeyFileError(f"FCM_CREDENTIALS_FILE cannot be read as JSON: {type(error).__name__}") from None
    missing = [key for key in ("client_email", "private_key", "token_uri") if not info.get(key)]
    if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
        raise KeyFileError("FCM_CREDENTIALS_FILE is not a Google service-account key file"
                           + (f" (missing {', '.join(missing)})" if missing else ""))
    return info


class FcmAccessToken:
    """Mints FCM access tokens with google-auth from a service-account key (a `CachedToken` mint)."""

    def __init__(self, info: Mapping[str, Any], *, timeout: float = 10.0, verify: Any = True) -> None:
        try:
            self._credentials = service_account.Credentials.from_service_account_info(dict(info), scopes=[FCM_SCOPE])
        except (ValueError, google_exceptions.GoogleAuthError) as error:
            raise KeyFileError(f"FCM_CREDENTIALS_FILE: {type(error).__name__}") from None
        self._request = HttpxGoogleRequest(timeout, verify)

    def __call__(self) -> Minted:
        try:
            self._credentials.refresh(self._request)
        except google_exceptions.RefreshError as error:
            retryable = getattr(error, "retryable", False)
            kind = TransientDeliveryError if retryable else PermanentDeliveryError
            raise kind(f"FCM: the token endpoint refused the service account ({_first_line(error)})") from None
        except google_exceptions.TransportError as error:
            raise TransientDeliveryError(f"FCM: token endpoint unreachable ({_first_line(error)})") from None
        expiry = self._credentials.expiry  # naive UTC in google-auth
        expires_at = expiry.replace(tzinfo=timezone.utc).timestamp() if expiry else time.time() + 3600
        return self._credentials.token, expires_at


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


# --- APNs -------------------------------------------------------------------------------------------
class ApnsProviderToken:
    """Signs APNs provider tokens (a `CachedToken` mint): ES256, header `kid`, claims `iss` and `iat`."""

    def __init__(self, key_pem: str, key_id: str, team_id: str, *, clock=time.time) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            key = load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError) as error:
            raise KeyFileError(f"APNS_KEY_FILE is not a PEM private key: {type(error).__name__}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise KeyFileError("APNS_KEY_FILE must be the .p8 (P-256) key from Apple Developer")
        self._key = key
        self.key_id = key_id
        self.team_id = team_id
        self._clock = clock

    @classmethod
    def from_file(cls, path: str, key_id: str, team_id: str) -> ApnsProviderToken:
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, ValueError) as error:
            raise KeyFileError(f"APNS_KEY_FILE cannot be read: {type(error).__name__}") from None
        return cls(text, key_id, team_id)

    def __call__(self) -> Minted:
        issued_at = int(self._clock())
        token = jwt.encode({"iss": self.team_id, "iat": issued_at}, self._key, algorithm="ES256",
                           headers={"kid": self.key_id})
        return token, issued_at + APNS_TOKEN_LIFETIME
