"""A minimal, injectable HTTP transport and the status-code → error mapping the HTTP channels share.

The stdlib transport speaks HTTP/1.1 and opens one connection per request: simple, leak-free, and
enough for reminder volumes. Anything that needs HTTP/2 (APNs) or pooling plugs in its own
`Transport` without touching the channels.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from .base import DeliveryError, PermanentDeliveryError, TransientDeliveryError


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased

    def json(self) -> Any:
        """The decoded body, or None: error bodies from proxies are often HTML."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Transport(Protocol):
    """POST bytes, return the response; raise OSError/http.client.HTTPException on network failure."""

    def post(self, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> HttpResponse: ...


class StdlibTransport:
    """http.client, one connection per request, always closed (no ResourceWarnings, no stale sockets)."""

    def post(self, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> HttpResponse:
        parts = urlsplit(url)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
        elif parts.scheme == "http":
            conn = http.client.HTTPConnection(parts.netloc, timeout=timeout)
        else:
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        try:
            conn.request("POST", target, body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read()
            return HttpResponse(
                status=response.status,
                body=data,
                headers={name.lower(): value for name, value in response.getheaders()},
            )
        finally:
            conn.close()


def post_json(
    transport: Transport, url: str, headers: Mapping[str, str], payload: Any, timeout: float, *, provider: str
) -> HttpResponse:
    """Send JSON; network failures become TransientDeliveryError (the provider may be back soon)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    all_headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    try:
        return transport.post(url, all_headers, body, timeout)
    except TimeoutError as exc:
        raise TransientDeliveryError(f"{provider}: timed out after {timeout:g}s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TransientDeliveryError(f"{provider}: {type(exc).__name__}: {exc}") from exc


def status_error(response: HttpResponse, *, provider: str, reason: str | None = None) -> DeliveryError:
    """The error for a non-2xx reply: 408/429/5xx are worth retrying, anything else fails again."""
    status = response.status
    detail = f"{provider}: HTTP {status} {reason}" if reason else f"{provider}: HTTP {status}"
    if status in (408, 429) or status >= 500:
        return TransientDeliveryError(detail, retry_after=_retry_after(response))
    return PermanentDeliveryError(detail)


def _retry_after(response: HttpResponse) -> float | None:
    """Only the delta-seconds form; an HTTP-date would need a clock we don't want here."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
