"""A channel that only logs: the development default, so `make run` never contacts a real provider.

It writes recipient and text to the log, so it is not for production, where logs are not meant to
hold patient contact details. With `record=True` it also keeps every message in `sent` for tests and
benchmarks (unbounded: don't enable it in a long-running process).
"""

from __future__ import annotations

import itertools
import logging
import threading

from .base import DeliveryResult, Message

LOGGER_NAME = "cadence.notifications"


class LogChannel:
    name = "log"

    def __init__(self, logger: logging.Logger | None = None, *, record: bool = False) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.record = record
        self.sent: list[Message] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # workers may share one channel across threads

    def send(self, message: Message) -> DeliveryResult:
        with self._lock:
            message_id = f"log-{next(self._ids)}"
            if self.record:
                self.sent.append(message)
        self.logger.info(
            "notification %s to=%s platform=%s title=%r body=%r data=%r",
            message_id,
            message.recipient,
            message.platform or "-",
            message.title,
            message.body,
            dict(message.data),
        )
        return DeliveryResult(provider_message_id=message_id)
