"""Provider credentials that expire: minted once, cached until shortly before expiry, shared.

FCM wants a Google OAuth 2.0 access token (about an hour); APNs wants a provider JWT that Apple
accepts for an hour but refuses to see *renewed* more than once every 20 minutes
(`TooManyProviderTokenUpdates`). RQ's default worker forks a work horse per job, so a token kept in
process memory alone would be minted again by every job. `CachedToken` therefore keeps the token in
a shared `TokenCache` (Redis in the worker, see `RedisTokenCache`) with a process-local copy in
front of it: every process of a deployment uses the same token until it is due for renewal.

`CachedToken.get()` answers the current token; `CachedToken.renew(stale)` is called by a channel
when the provider said the token it used has expired: the shared copy is dropped (only if it is
still that stale token: another process may have renewed it already) and a fresh one is answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .base import DeliveryError, TransientDeliveryError

log = logging.getLogger(__name__)

Minted = tuple[str, float]  # (token, expiry as a Unix time)


class TokenCache(Protocol):
    """Where tokens are shared; values are short strings, `ttl` whole seconds."""

    def get(self, key: str) -> str | None: ...

    def add(self, key: str, value: str, ttl: int) -> bool:
        """Store only when absent (answers whether it was stored)."""
        ...

    def discard(self, key: str, value: str) -> None:
        """Drop the entry if it still holds `value`."""
        ...


class MemoryTokenCache:
    """Process-local cache: for tests, scripts and a single process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._items: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[1] <= self._clock():
                return None
            return item[0]

    def add(self, key: str, value: str, ttl: int) -> bool:
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[1] > self._clock():
                return False
            self._items[key] = (value, self._clock() + ttl)
            return True

    def discard(self, key: str, value: str) -> None:
        with self._lock:
            if self._items.get(key, ("",))[0] == value:
                del self._items[key]


class RedisTokenCache:
    """A redis-py client (passed in: this package imports no Redis) as the shared cache.

    A Redis outage must not stop reminders: failures are logged and the token is used unshared."""

    def __init__(self, client: Any, prefix: str = "cadence:push-token:") -> None:
        self._client = client
        self._prefix = prefix

    def get(self, key: str) -> str | None:
        try:
            value = self._client.get(self._prefix + key)
        except Exception as error:  # redis.RedisError, without importing redis
            log.warning("token cache unavailable (%s); minting without sharing", type(error).__name__)
            return None
        return value.decode() if isinstance(value, bytes) else value

    def add(self, key: str, value: str, ttl: int) -> bool:
        try:
            return bool(self._client.set(self._prefix + key, value, nx=True, ex=max(1, ttl)))
        except Exception as error:
            log.warning("token cache unavailable (%s); token not shared", type(error).__name__)
            return True

    def discard(self, key: str, value: str) -> None:
        try:
            if self.get(key) == value:
                self._client.delete(self._prefix + key)
        except Exception as error:
            log.warning("token cache unavailable (%s)", type(error).__name__)


class CachedToken:
    """A token source for a channel: `mint()` makes a new token and says when it expires; it is used
    until `margin` seconds before then (`lifetime`, if given, caps how long one token is used)."""

    def __init__(self, key: str, mint: Callable[[], Minted], *, cache: TokenCache | None = None,
                 margin: float = 300.0, lifetime: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self._mint = mint
        self._cache = cache if cache is not None else MemoryTokenCache(clock)
        self._margin = margin
        self._lifetime = lifetime
        self._clock = clock
        self._local: tuple[str, float] | None = None  # (token, use until)
        self._lock = threading.Lock()

    def __call__(self) -> str:
        return self.get()

    def get(self) -> str:
        with self._lock:
            now = self._clock()
            if self._local is not None and self._local[1] > now:
                return self._local[0]
            shared = self._shared(now)
            if shared is not None:
                self._local = shared
                return shared[0]
            return self._mint_and_share(now)

    def renew(self, stale: str) -> str:
        """The provider refused `stale` as expired: answer another token (minting one if needed)."""
        with self._lock:
            self._local = None
            now = self._clock()
            shared = self._shared(now)
            if shared is not None and shared[0] != stale:
                self._local = shared  # another process renewed it already
                return shared[0]
            if shared is not None:
                self._cache.discard(self.key, self._entry(*shared))
            return self._mint_and_share(now)

    @staticmethod
    def _entry(token: str, use_until: float) -> str:
        return f"{int(use_until)} {token}"  # tokens never contain a space

    def _shared(self, now: float) -> tuple[str, float] | None:
        entry = self._cache.get(self.key)
        if not entry or " " not in entry:
            return None
        until, token = entry.split(" ", 1)
        try:
            use_until = float(until)
        except ValueError:
            return None
        return (token, use_until) if use_until > now else None

    def _mint_and_share(self, now: float) -> str:
        try:
            token, expires_at = self._mint()
        except DeliveryError:
            raise
        except Exception as error:
            # A token endpoint that is down or slow: retry later (never the key material in the text).
            raise TransientDeliveryError(f"{self.key}: could not obtain a token: {type(error).__name__}") from error
        use_until = expires_at - self._margin
        if self._lifetime is not None:
            use_until = min(use_until, now + self._lifetime)
        ttl = int(use_until - now)
        if ttl < 1:
            raise TransientDeliveryError(f"{self.key}: the token minted expires too soon to be used")
        if not self._cache.add(self.key, self._entry(token, use_until), ttl):
            # Another process minted first: use theirs, so every process shares one token.
            shared = self._shared(now)
            if shared is not None:
                self._local = shared
                return shared[0]
        self._local = (token, use_until)
        return token
