"""Delivery channels behind one protocol; depends on nothing else in Cadence."""

from .base import (
    Channel,
    DeliveryError,
    DeliveryResult,
    Message,
    PermanentDeliveryError,
    RecipientGone,
    TransientDeliveryError,
)
from .email import SmtpChannel
from .log import LogChannel
from .push import ApnsChannel, FcmChannel, PushChannel
from .registry import ConfigError, build_channels
from .sms import HttpSmsChannel
from .tokens import CachedToken, MemoryTokenCache, RedisTokenCache, TokenCache
from .transport import HttpResponse, StdlibTransport, Transport

__all__ = [
    "ApnsChannel",
    "CachedToken",
    "Channel",
    "ConfigError",
    "DeliveryError",
    "DeliveryResult",
    "FcmChannel",
    "HttpResponse",
    "HttpSmsChannel",
    "LogChannel",
    "MemoryTokenCache",
    "Message",
    "PermanentDeliveryError",
    "PushChannel",
    "RecipientGone",
    "RedisTokenCache",
    "SmtpChannel",
    "StdlibTransport",
    "TokenCache",
    "TransientDeliveryError",
    "Transport",
    "build_channels",
]
