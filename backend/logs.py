"""What the logs may say: access-log lines never carry a calendar-feed secret.

A calendar-feed URL (`/calendar-feeds/<token>.ics`) is a bearer secret: anyone who reads it can
subscribe to the patient's appointments. The servers' access loggers (werkzeug's in `make run`,
gunicorn's in production) log the request line, so a filter on them replaces the token before the
record reaches any handler.
"""
from __future__ import annotations

import logging
import re

FEED_TOKEN = re.compile(r"(/calendar-feeds/)[^/\s?\"]+?(\.ics|(?=[\s?\"]|$))")
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(text: str) -> str:
    """`text` with every calendar-feed token replaced by `[redacted]`."""
    return FEED_TOKEN.sub(r"\1[redacted]\2", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filters() -> None:
    """Idempotent: one filter per access logger, however many apps the process creates."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
