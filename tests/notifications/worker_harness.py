"""`python -m tests.notifications.worker_harness`: a real `notifications.worker` process for the
reliability tests, against the test database and Redis, whose log channel appends one line per message
to a file (so sends are counted even when the process is killed) after a simulated provider delay.

Environment: HARNESS_CONFIG (JSON app-config overrides), HARNESS_RECORD (the file), HARNESS_DELAY
(seconds per send), HARNESS_MODE (`ok`, or `transient`: every send fails transiently).
"""
from __future__ import annotations

import json
import os
import sys
import time

from notifications.channels import DeliveryResult, Message, TransientDeliveryError


class FileRecordingChannel:
    """Appends `{"reminder_id", "recipient", "title"}` per message with one write on an O_APPEND fd,
    so lines from several processes never interleave."""

    name = "log"

    def __init__(self, path: str, delay: float, mode: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.delay = delay
        self.mode = mode
        self.count = 0

    def send(self, message: Message) -> DeliveryResult:
        if self.delay:
            time.sleep(self.delay)  # the provider's round trip, before it accepts the message
        if self.mode == "transient":
            raise TransientDeliveryError("harness: provider unavailable")
        line = {"reminder_id": message.data.get("reminder_id"), "recipient": message.recipient, "title": message.title}
        os.write(self.fd, (json.dumps(line) + "\n").encode())
        self.count += 1
        return DeliveryResult(provider_message_id=f"harness-{os.getpid()}-{self.count}")


def main() -> int:
    from backend import create_app
    from notifications import worker

    app = create_app(json.loads(os.environ["HARNESS_CONFIG"]))
    channel = FileRecordingChannel(os.environ["HARNESS_RECORD"], float(os.environ.get("HARNESS_DELAY", "0")),
                                   os.environ.get("HARNESS_MODE", "ok"))
    app.extensions["cadence.channels"] = {"log": channel, "default": channel}
    worker.run(app, burst=True, with_cron=False, simple="--simple" in sys.argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
