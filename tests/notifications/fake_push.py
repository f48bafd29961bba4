"""Local stand-ins for Apple's and Google's push services, on 127.0.0.1 over TLS and HTTP/2.

`PushProviders` runs one hypercorn server (a self-signed certificate made here with cryptography,
ALPN h2) that answers like the real services:

- `POST /token`: Google's OAuth 2.0 token endpoint. It checks the service account's RS256 assertion
  (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`) against the account's public key and
  issues `ya29.fake-<n>` access tokens.
- `POST /v1/projects/{project}/messages:send`: FCM HTTP v1, which wants a current access token.
- `POST /3/device/{token}`: APNs, which wants an ES256 provider token signed by the team's key.

Tests script the answers (`fcm_replies`, `apns_replies`) and read what arrived (`requests`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config

TEAM_ID = "TEAM123456"
KEY_ID = "KEYID12345"
TOPIC = "org.example.cadence"
PROJECT = "cadence-test"
CLIENT_EMAIL = "push@cadence-test.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    http_version: str

    def json(self) -> Any:
        return json.loads(self.body)


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost), valid for a day; answers (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_text(_pem(key))
    return cert_path, key_path


class PushProviders:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert_path, key_path = self_signed_certificate(directory)
        # The team's APNs key (.p8) and the Firebase service account's key.
        self.apns_key = ec.generate_private_key(ec.SECP256R1())
        self.google_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.requests: list[Seen] = []
        self.channels: list = []  # push channels the test built, closed at teardown
        self.fcm_replies: deque[Answer] = deque()
        self.apns_replies: deque[Answer] = deque()
        self.token_replies: deque[Answer] = deque()
        self.issued_access_tokens: list[str] = []
        self.valid_access_tokens: set[str] = set()
        self.provider_tokens_seen: list[str] = []
        self.access_token_lifetime = 3600

        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.certfile, config.keyfile = str(self.cert_path), str(key_path)
        config.alpn_protocols = ["h2", "http/1.1"]
        config.graceful_timeout = 0.5
        config.accesslog = None
        config.errorlog = "-"
        sockets = config.create_sockets()
        for sock in sockets.secure_sockets:
            sock.listen(64)  # connections queue until the loop below accepts them: no start-up race
        self.port = sockets.secure_sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._stop = asyncio.Event()
            ready.set()
            self._loop.run_until_complete(worker_serve(ASGIWrapper(self._app), config, sockets=sockets,
                                                       shutdown_trigger=self._stop.wait))
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-push", daemon=True)
        self._thread.start()
        ready.wait(5)

    # --- files the deployment would be given -----------------------------------------------------
    def apns_key_file(self) -> Path:
        path = self.directory / f"AuthKey_{KEY_ID}.p8"
        path.write_text(_pem(self.apns_key))
        return path

    def service_account_file(self) -> Path:
        path = self.directory / "service-account.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
            "private_key": _pem(self.google_key), "client_email": CLIENT_EMAIL, "client_id": "1",
            "token_uri": f"{self.url}/token",
        }))
        return path

    def config(self, **overrides: str) -> dict[str, str]:
        """The settings a deployment would have, pointed at this server."""
        return {"FCM_CREDENTIALS_FILE": str(self.service_account_file()), "FCM_BASE_URL": self.url,
                "APNS_KEY_FILE": str(self.apns_key_file()), "APNS_KEY_ID": KEY_ID, "APNS_TEAM_ID": TEAM_ID,
                "APNS_TOPIC": TOPIC, "APNS_BASE_URL": self.url, "PUSH_CA_FILE": str(self.cert_path),
                "HTTP_TIMEOUT_SECONDS": "5", **overrides}

    def expire_access_tokens(self) -> None:
        self.valid_access_tokens.clear()

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    # --- the ASGI app ------------------------------------------------------------------------------
    async def _app(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        seen = Seen(scope["path"], headers, body, scope["http_version"])
        self.requests.append(seen)
        if scope["path"] == "/token":
            answer = self._token(seen)
        elif scope["path"].startswith("/v1/projects/"):
            answer = self._fcm(seen)
        elif scope["path"].startswith("/3/device/"):
            answer = self._apns(seen)
        else:
            answer = Answer(404, {})
        payload = json.dumps(answer.body).encode() if answer.body is not None else b""
        out = [(b"content-type", b"application/json")] + [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": out})
        await send({"type": "http.response.body", "body": payload})

    def _token(self, seen: Seen) -> Answer:
        if self.token_replies:
            return self.token_replies.popleft()
        form = {key: values[0] for key, values in parse_qs(seen.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Answer(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(form["assertion"], self.google_key.public_key(), algorithms=["RS256"],
                                audience="https://oauth2.googleapis.com/token")  # what Google expects
        except (KeyError, jwt.InvalidTokenError) as error:
            return Answer(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {error!r}"})
        if claims.get("iss") != CLIENT_EMAIL or claims.get("scope") != "https://www.googleapis.com/auth/firebase.messaging":
            return Answer(400, {"error": "invalid_scope"})
        token = f"ya29.fake-{len(self.issued_access_tokens) + 1}"
        self.issued_access_tokens.append(token)
        self.valid_access_tokens.add(token)
        return Answer(200, {"access_token": token, "expires_in": self.access_token_lifetime, "token_type": "Bearer"})

    def _fcm(self, seen: Seen) -> Answer:
        bearer = seen.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.valid_access_tokens:
            return Answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                          "message": "Request had invalid authentication credentials."}})
        if self.fcm_replies:
            return self.fcm_replies.popleft()
        return Answer(200, {"name": f"projects/{PROJECT}/messages/{uuid.uuid4().hex[:12]}"})

    def _apns(self, seen: Seen) -> Answer:
        token = seen.headers.get("authorization", "").removeprefix("bearer ")
        self.provider_tokens_seen.append(token)
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.apns_key.public_key(), algorithms=["ES256"],
                                options={"require": ["iss", "iat"], "verify_iat": False})
        except jwt.InvalidTokenError:
            return Answer(403, {"reason": "InvalidProviderToken"})
        if header.get("kid") != KEY_ID or claims.get("iss") != TEAM_ID:
            return Answer(403, {"reason": "InvalidProviderToken"})
        if seen.headers.get("apns-topic") != TOPIC:
            return Answer(400, {"reason": "TopicDisallowed"})
        if self.apns_replies:
            return self.apns_replies.popleft()
        return Answer(200, None, {"apns-id": str(uuid.uuid4()).upper()})
