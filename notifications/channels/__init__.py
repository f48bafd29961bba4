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
from .transport import HttpResponse, StdlibTransport, Transport

__all__ = [
    "ApnsChannel",
    "Channel",
    "ConfigError",
    "DeliveryError",
    "DeliveryResult",
    "FcmChannel",
    "HttpResponse",
    "HttpSmsChannel",
    "LogChannel",
    "Message",
    "PermanentDeliveryError",
    "PushChannel",
    "RecipientGone",
    "SmtpChannel",
    "StdlibTransport",
    "TransientDeliveryError",
    "Transport",
    "build_channels",
]
