"""The one protocol every delivery channel speaks.

Jobs only ever see `Message`, `DeliveryResult` and the three errors below, so the retry policy
(transient → retry, permanent → give up, recipient gone → retire the token) is decided once, in the
caller, whatever the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

PLATFORMS = frozenset({"ios", "android"})


@dataclass(frozen=True)
class Message:
    """What to send and to whom; already rendered text, never a template."""

    recipient: str  # device token, E.164 phone number or e-mail address
    title: str
    body: str
    data: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None  # "ios" | "android", for push only

    def __post_init__(self) -> None:
        # FCM rejects non-string data values; failing here names the caller, not the provider.
        for key, value in self.data.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"Message.data must map str to str, got {key!r}: {type(value).__name__}")
        if self.platform is not None and self.platform not in PLATFORMS:
            raise ValueError(f"Message.platform must be one of {sorted(PLATFORMS)} or None, got {self.platform!r}")


@dataclass(frozen=True)
class DeliveryResult:
    """The provider accepted the message; its id lets support trace a delivery."""

    provider_message_id: str | None
    detail: str = ""


class DeliveryError(Exception):
    """Base for delivery failures; messages never contain the recipient (logs are not PHI stores)."""


class TransientDeliveryError(DeliveryError):
    """Retry later: timeouts, refused connections, 5xx, 429, SMTP 4xx."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after  # seconds, when the provider said so (Retry-After)


class PermanentDeliveryError(DeliveryError):
    """Do not retry: the same request would fail the same way (bad request, bad credentials)."""


class RecipientGone(PermanentDeliveryError):
    """The device token is no longer registered; the caller should retire it."""


@runtime_checkable
class Channel(Protocol):
    """Anything that can deliver a `Message` or raise one of the errors above."""

    name: str

    def send(self, message: Message) -> DeliveryResult: ...
