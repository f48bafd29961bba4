"""An HTTP/2 `Transport` over httpx + h2, for APNs (which speaks nothing else) and FCM.

One client per process, kept open: Apple asks providers to reuse connections rather than open one
per notification. A forked RQ work horse must not share its parent's sockets, so the client is
made again when the process id changes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from .transport import HttpResponse


class Http2Transport:
    """`Transport` over an httpx client with HTTP/2 (falls back to HTTP/1.1 where the server lacks it).

    `verify` is httpx's: True (system trust store via certifi), a CA bundle path, or an
    `ssl.SSLContext` (tests trust their self-signed server this way)."""

    def __init__(self, *, verify: Any = True, http2: bool = True) -> None:
        self._verify = verify
        self._http2 = http2
        self._client: httpx.Client | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _get_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                # After a fork the inherited client is abandoned, not closed: closing would speak on the
                # parent's connection.
                self._client = httpx.Client(http2=self._http2, verify=self._verify)
                self._pid = os.getpid()
            return self._client

    def post(self, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> HttpResponse:
        try:
            response = self._get_client().post(url, headers=dict(headers), content=body, timeout=timeout)
        except httpx.TimeoutException as error:
            raise TimeoutError(str(error) or "timed out") from error
        except httpx.TransportError as error:
            raise ConnectionError(f"{type(error).__name__}: {error}") from error
        return HttpResponse(status=response.status_code, body=response.content,
                            headers={name.lower(): value for name, value in response.headers.items()})

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None
