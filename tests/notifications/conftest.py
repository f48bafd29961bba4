"""Real local servers standing in for FCM, APNs, the SMS gateway and an SMTP relay.

The channels talk to them over real sockets, so these tests exercise our HTTP/SMTP code, status
mapping and timeouts exactly as production would; only the far end is fake.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# --------------------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Reply:
    """What the fake provider answers; `body` dicts are sent as JSON, bytes as they are."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (cut short at teardown)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class FakeProvider:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> that records requests and replays `Reply`s."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._replies: deque[Reply] = deque()
        self.default_reply = Reply(200, {})
        self.release = threading.Event()  # set at teardown so stalled handlers finish at once
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.provider = self  # type: ignore[attr-defined]
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-provider", daemon=True
        )
        self._thread.start()

    def reply(self, *replies: Reply) -> None:
        """Queue replies for the next requests; after they run out, `default_reply` is used."""
        self._replies.extend(replies)

    def next_reply(self) -> Reply:
        return self._replies.popleft() if self._replies else self.default_reply

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        provider: FakeProvider = self.server.provider  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        provider.requests.append(
            ReceivedRequest(
                method="POST",
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
        )
        reply = provider.next_reply()
        if reply.delay and provider.release.wait(reply.delay):
            return  # torn down while stalling: the client gave up long ago
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body or {}).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client timed out and hung up; nothing to report

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture
def make_provider():
    """Factory for several fake providers in one test (e.g. FCM and APNs side by side)."""
    providers: list[FakeProvider] = []

    def make() -> FakeProvider:
        provider = FakeProvider()
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


@pytest.fixture
def provider(make_provider) -> FakeProvider:
    return make_provider()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------- SMTP


class RecordingHandler:
    """aiosmtpd handler: records accepted envelopes, or answers RCPT/DATA with a canned reply."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.data_delay: float = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller probes `self.port` after binding; with port 0 learn the real one first."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


SMTP_USER = "cadence"
SMTP_PASSWORD = "s3cret"


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535 itself


@dataclass
class SmtpServer:
    handler: RecordingHandler
    host: str
    port: int


@pytest.fixture
def make_smtp_server():
    controllers: list[Controller] = []

    def make(*, with_auth: bool = False) -> SmtpServer:
        handler = RecordingHandler()
        kwargs: dict[str, Any] = {}
        if with_auth:
            kwargs = {"authenticator": _authenticator, "auth_require_tls": False}
        controller = _EphemeralPortController(handler, hostname="127.0.0.1", port=0, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(handler=handler, host="127.0.0.1", port=controller.port)

    yield make
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server(make_smtp_server) -> SmtpServer:
    return make_smtp_server()
