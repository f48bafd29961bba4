"""SMS through a generic JSON-over-HTTP provider.

Contract: POST `{"to": ..., "from": ..., "text": ...}` to the configured URL with the API key in a
header; a 2xx reply carries `{"id": "..."}`. Most SMS gateways (or a thin adapter in front of one)
fit this shape, so swapping vendors is configuration, not code.

SMS has no title: only `Message.body` is sent, so catalog bodies must stand on their own.
"""

from __future__ import annotations

from .base import DeliveryResult, Message
from .transport import StdlibTransport, Transport, post_json, status_error


class HttpSmsChannel:
    name = "sms"

    def __init__(
        self,
        url: str,
        api_key: str,
        sender: str,
        *,
        api_key_header: str = "X-Api-Key",
        timeout: float = 10.0,
        transport: Transport | None = None,
    ) -> None:
        self.url = url
        self._api_key = api_key
        self.sender = sender
        self.api_key_header = api_key_header
        self.timeout = timeout
        self.transport = transport or StdlibTransport()

    def send(self, message: Message) -> DeliveryResult:
        response = post_json(
            self.transport,
            self.url,
            {self.api_key_header: self._api_key},
            {"to": message.recipient, "from": self.sender, "text": message.body},
            self.timeout,
            provider="SMS",
        )
        if not 200 <= response.status < 300:
            body = response.json()
            # Report only a provider error code, not the body: gateways like to echo the number back.
            code = (body.get("code") or body.get("error")) if isinstance(body, dict) else None
            raise status_error(response, provider="SMS", reason=str(code) if isinstance(code, (str, int)) else None)
        body = response.json()
        message_id = body.get("id") if isinstance(body, dict) else None
        if message_id is None:
            return DeliveryResult(provider_message_id=None, detail="accepted without an id")
        return DeliveryResult(provider_message_id=str(message_id))
