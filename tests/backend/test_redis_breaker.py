"""A Redis that accepts connections but never answers must not slow every request down (issue 10
item 7): after one failure Redis is skipped for REDIS_BREAKER_SECONDS and the database answers
(sign-in revocation, the rate limiter's in-memory fallback); then Redis is probed again."""
import selectors
import socket
import threading

import pytest

from tests.conftest import test_config
from tests.factories import PASSWORD, UserFactory


class SilentServer:
    """A real TCP server on 127.0.0.1 that accepts every connection, reads what is sent and never
    answers. `attempts` counts the Redis commands that reached it (each RESP command starts with `*`)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.connections = []
        self.attempts = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            for key, _ in self.selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    connection, _ = self.listener.accept()
                    connection.setblocking(False)
                    self.connections.append(connection)
                    self.selector.register(connection, selectors.EVENT_READ)
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(key.fileobj)
                    continue
                self.attempts += data.count(b"*") if data.startswith(b"*") else 0

    def close(self):
        self.stopped = True
        self.thread.join()
        self.selector.close()
        self.listener.close()
        for connection in self.connections:
            connection.close()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def silent_redis():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture()
def hung_app(app, db, silent_redis):
    """An app whose Redis (revocation cache and rate limiter) is the silent server."""
    from backend import create_app
    from backend.auth import RedisBreaker
    from backend.extensions import limiter

    url = f"redis://127.0.0.1:{silent_redis.port}/0"
    hung = create_app({**test_config(), "REDIS_URL": url, "RATELIMIT_STORAGE_URI": url,
                       "REDIS_SOCKET_TIMEOUT_SECONDS": 0.2, "REDIS_BREAKER_SECONDS": 30})
    hung.clock = Clock()
    hung.extensions["cadence.redis_breaker"] = RedisBreaker(30, clock=hung.clock)
    yield hung
    # The limiter is one object shared by every app: close what it opened towards the silent server
    # and put it back on the suite's Redis.
    hung_storage = limiter.storage
    limiter.init_app(app)
    for client in (getattr(hung_storage, "storage", None), hung.extensions.get("cadence.redis")):
        if client is not None:
            client.connection_pool.disconnect()


def test_requests_skip_a_hung_redis_after_the_first_failure_and_probe_again_later(hung_app, silent_redis, db):
    user = UserFactory()
    client = hung_app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 200
    # The sign-in asked Redis at most twice (the limiter's first count, its health probe), never
    # retrying: then the limiter counts in memory.
    assert silent_redis.attempts <= 2, silent_redis.attempts
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    before = silent_redis.attempts
    for _ in range(20):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    # At most one attempt at Redis for the twenty requests (on PostgreSQL a request is signed in from
    # one database read and needs no Redis): the first failure opened the breaker, the rest skipped it.
    assert silent_redis.attempts - before <= 1
    # Sign-out still works: the database holds the revocation while Redis is skipped.
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401

    # After the cool-down the breaker lets one call probe Redis again (the next test, on the breaker itself).
    hung_app.clock.now += 31
    assert client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}).status_code == 200


def test_the_breaker_opens_on_failure_and_closes_after_the_cool_down():
    import redis

    from backend.auth import RedisBreaker

    clock = Clock()
    breaker = RedisBreaker(5, clock=clock)
    calls = []

    def failing():
        calls.append(1)
        raise redis.TimeoutError("no answer")

    assert breaker.call(failing, "fallback") == "fallback" and len(calls) == 1
    assert breaker.call(failing, "fallback") == "fallback" and len(calls) == 1  # skipped while open
    clock.now += 5
    assert breaker.call(lambda: "answer", "fallback") == "answer"  # probed again, and it answered
