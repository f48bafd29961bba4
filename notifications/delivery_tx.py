"""The delivery jobs' transactions: core statements on the session's connection, delivery attempts
buffered until the next commit, and the per-reminder hot path pipelined on PostgreSQL (the
"Batching" section of notifications/delivery.py explains the commits)."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.models import DeliveryAttempt, Event, Reminder


class DeliveryTx:
    """Core statements on the session's connection (no unit-of-work work per row: batches are hot),
    with delivery attempts buffered and written just before the next commit.

    On PostgreSQL the per-row hot path (`start_sending`, and the `sent` marks `defer`red to it) goes
    to the driver connection the session holds in one pipeline: the previous row's `sent` and its
    attempts, this row's `queued → sending`, and an asynchronous COMMIT cost one round trip."""

    def __init__(self, session) -> None:
        self.session = session
        self.attempts: list[dict[str, Any]] = []
        self.deferred: list[tuple[str, dict[str, Any]]] = []

    def run(self, statement, params: dict[str, Any] | None = None):
        return self.session.connection().execute(statement, params)

    def record(self, *, reminder_id=None, staff_notification_id=None, channel: str, outcome: str, at: datetime,
               provider_message_id: str | None = None, error: str | None = None) -> None:
        self.attempts.append({"reminder_id": reminder_id, "staff_notification_id": staff_notification_id, "at": at,
                              "channel": channel, "outcome": outcome, "provider_message_id": provider_message_id,
                              "error": (error or None) and error[:2000]})

    def _driver(self):
        connection = self.session.connection()
        return connection.connection.driver_connection if connection.dialect.name == "postgresql" else None

    def defer(self, sql: str, params: dict[str, Any], fallback, fallback_params: dict[str, Any]) -> None:
        """Run `sql` with the next commit (PostgreSQL), or `fallback` now elsewhere."""
        if self._driver() is None:
            self.run(fallback, fallback_params)
        else:
            self.deferred.append((sql, params))

    def _pipeline_pending(self, driver) -> None:
        for sql, params in self.deferred:
            driver.execute(sql, params)
        if self.attempts:
            driver.cursor().executemany(_INSERT_ATTEMPT_SQL, self.attempts)
        self.deferred, self.attempts = [], []

    def start_sending(self, params: dict[str, Any]) -> bool:
        """`queued → sending` for one row of this claim while its event is still due, committed
        (with everything pending) before the provider sees the message; True when this job won it."""
        driver = self._driver()
        if driver is None:
            result = self.run(_start_sending(), params)
            self.commit()
            return bool(result.rowcount)
        self.session.flush()
        with driver.pipeline():
            self._pipeline_pending(driver)
            cursor = driver.execute(_START_SENDING_SQL, params)
            # Asynchronous: see "Batching" in notifications/delivery.py; the batch ends with a durable commit.
            driver.execute("SET LOCAL synchronous_commit TO off")
            driver.commit()
        return cursor.rowcount == 1

    def commit(self) -> None:
        """A durable commit of everything pending."""
        driver = self._driver()
        if driver is not None and (self.deferred or self.attempts):
            self.session.flush()
            with driver.pipeline():
                self._pipeline_pending(driver)
        elif self.attempts:
            self.session.connection().execute(sa.insert(DeliveryAttempt.__table__), self.attempts)
            self.attempts = []
        self.session.commit()


_INSERT_ATTEMPT_SQL = """
INSERT INTO delivery_attempts (reminder_id, staff_notification_id, at, channel, outcome, provider_message_id, error)
VALUES (%(reminder_id)s, %(staff_notification_id)s, %(at)s, %(channel)s, %(outcome)s, %(provider_message_id)s,
        %(error)s)"""
_START_SENDING_SQL = """
UPDATE reminders SET status = 'sending', lease_until = %(p_lease)s, attempts = reminders.attempts + 1,
       channel = %(p_channel)s, updated_at = %(p_now)s
WHERE reminders.id = %(p_id)s AND reminders.status = 'queued' AND reminders.claim_id = %(p_claim)s
  AND EXISTS (SELECT 1 FROM events WHERE events.id = reminders.event_id AND events.status = ANY(%(p_active)s)
              AND events.target_date = reminders.target_date)"""
MARK_SENT_SQL = """
UPDATE reminders SET status = CASE WHEN reminders.status = 'sending' THEN 'sent' ELSE reminders.status END,
       channel = %(p_channel)s, sent_at = %(p_now)s, provider_message_id = %(p_provider_id)s, last_error = NULL,
       lease_until = NULL, updated_at = %(p_now)s
WHERE reminders.id = %(p_id)s"""


@functools.cache
def _start_sending():
    """queued → sending, only under this claim and while the event is still due (built once: hot path)."""
    r, e = Reminder.__table__, Event.__table__
    return sa.update(r).where(
        r.c.id == sa.bindparam("p_id"), r.c.status == "queued", r.c.claim_id == sa.bindparam("p_claim"),
        sa.exists().where(e.c.id == r.c.event_id, e.c.status.in_(sa.bindparam("p_active", expanding=True)),
                          e.c.target_date == r.c.target_date),
    ).values(status="sending", lease_until=sa.bindparam("p_lease"), attempts=r.c.attempts + 1,
             channel=sa.bindparam("p_channel"), updated_at=sa.bindparam("p_now"))


@functools.cache
def mark_sent_statement():
    """sending → sent; a device receipt that got there first (`delivered`) is kept."""
    r = Reminder.__table__
    return sa.update(r).where(r.c.id == sa.bindparam("p_id")).values(
        status=sa.case((r.c.status == "sending", "sent"), else_=r.c.status), channel=sa.bindparam("p_channel"),
        sent_at=sa.bindparam("p_now"), provider_message_id=sa.bindparam("p_provider_id"), last_error=None,
        lease_until=None, updated_at=sa.bindparam("p_now"))
