"""The delivery jobs' transactions: a batch's `queued → sending` in one guarded UPDATE … RETURNING, and
every outcome and delivery attempt buffered and written before the commit with one statement each: on
PostgreSQL one set-based statement over arrays of the buffered values (`unnest`), elsewhere (SQLite) an
executemany of the same per-row statement. The guards are the same either way: a row is written only
while it is still this claim's (the module docstring of notifications/delivery.py says why)."""
from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backend.models import DeliveryAttempt, Event, Reminder


class DeliveryTx:
    """Core statements on the session's connection (no unit-of-work work per row: batches are hot),
    with reminder outcomes and delivery attempts buffered until the next commit."""

    def __init__(self, session, claim_id: uuid.UUID | None = None) -> None:
        self.session = session
        self.claim_id = claim_id
        self.attempts: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []

    def run(self, statement, params: dict[str, Any] | None = None):
        return self.session.connection().execute(statement, params)

    def record(self, *, reminder_id=None, staff_notification_id=None, channel: str, outcome: str, at: datetime,
               provider_message_id: str | None = None, error: str | None = None) -> None:
        _aware(at)
        self.attempts.append({"reminder_id": reminder_id, "staff_notification_id": staff_notification_id, "at": at,
                              "channel": channel, "outcome": outcome, "provider_message_id": provider_message_id,
                              "error": (error or None) and error[:2000], "claim": self.claim_id})

    def start_sending(self, rows: Iterable[tuple[uuid.UUID, frozenset[str]]], lease_until: datetime,
                      now: datetime) -> dict[uuid.UUID, int]:
        """`queued → sending` for the rows still queued under this claim whose event is still due (one
        UPDATE … RETURNING per set of active event statuses, usually one), committed before any
        provider sees a message. Returns the rows won, with their attempt number."""
        by_statuses: dict[frozenset[str], list[uuid.UUID]] = {}
        for reminder_id, statuses in rows:
            by_statuses.setdefault(statuses, []).append(reminder_id)
        won: dict[uuid.UUID, int] = {}
        for statuses, ids in by_statuses.items():
            result = self.run(_start_sending(self.session.get_bind().dialect.name == "postgresql"), {"p_ids": ids, "p_claim": self.claim_id, "p_active": sorted(statuses),
                                                 "p_lease": lease_until, "p_now": now})
            won.update({row.id: row.attempts for row in result})
        self.commit()
        return won

    def outcome(self, reminder_id: uuid.UUID, status: str, *, now: datetime, channel: str | None = None,
                provider_message_id: str | None = None, error: str | None = None,
                lease_until: datetime | None = None, attempts: int = 0, was: str = "sending") -> None:
        """Buffer what became of one row of this claim: written at the next commit, only if the row is
        still `was` (a `delivered` receipt that arrived first is kept) under this claim."""
        _aware(now)
        if lease_until is not None:
            _aware(lease_until)
        self.outcomes.append({
            "p_id": reminder_id, "p_claim": self.claim_id, "p_was": was, "p_status": status, "p_channel": channel,
            "p_sent_at": now if status == "sent" else None, "p_provider_id": provider_message_id,
            "p_error": (error or None) and error[:2000], "p_lease": lease_until, "p_now": now, "p_attempts": attempts})

    def commit(self) -> None:
        """Everything buffered (one statement each), then a commit."""
        connection = self.session.connection()
        set_based = connection.dialect.name == "postgresql"
        if self.outcomes:
            # A row with two outcomes in one buffer must have them applied in order: row by row then.
            if set_based and len({o["p_id"] for o in self.outcomes}) == len(self.outcomes):
                connection.execute(_record_outcomes(), _columns(self.outcomes, _OUTCOME_COLUMNS,
                                                                claim=self.claim_id))
            else:
                connection.execute(_record_outcome(), self.outcomes)
            self.outcomes = []
        for_reminders = [a for a in self.attempts if a["reminder_id"] is not None and a["claim"] is not None]
        others = [a for a in self.attempts if a["reminder_id"] is None or a["claim"] is None]
        if for_reminders and set_based:
            connection.execute(_insert_reminder_attempts(), _columns(for_reminders, _ATTEMPT_COLUMNS,
                                                                     claim=self.claim_id))
        elif for_reminders:
            connection.execute(_insert_reminder_attempt(), [{k: v for k, v in a.items() if k != "staff_notification_id"}
                                                            for a in for_reminders])
        if others:
            connection.execute(sa.insert(DeliveryAttempt.__table__),
                               [{k: v for k, v in a.items() if k != "claim"} for a in others])
        self.attempts = []
        self.session.commit()


def _aware(instant: datetime) -> None:
    """Instants are aware UTC: the set-based statements bind them as plain arrays, which would read a
    naive one in the server's zone where the model's column type refuses it."""
    if instant.tzinfo is None:
        raise ValueError("a delivery instant must be timezone-aware")


@functools.cache
def _start_sending(array_parameter: bool):
    """queued → sending for a set of rows, only under this claim and while the event is still due. On
    PostgreSQL the ids are one array parameter: the same statement text for every batch, prepared once."""
    r, e = Reminder.__table__, Event.__table__
    ids = (r.c.id == sa.any_(sa.bindparam("p_ids", type_=postgresql.ARRAY(sa.Uuid()))) if array_parameter
           else r.c.id.in_(sa.bindparam("p_ids", expanding=True)))
    return sa.update(r).where(
        ids, r.c.status == "queued",
        r.c.claim_id == sa.bindparam("p_claim"),
        sa.exists().where(e.c.id == r.c.event_id, e.c.status.in_(sa.bindparam("p_active", expanding=True)),
                          e.c.target_date == r.c.target_date),
    ).values(status="sending", lease_until=sa.bindparam("p_lease"), attempts=r.c.attempts + 1,
             updated_at=sa.bindparam("p_now")).returning(r.c.id, r.c.attempts)


@functools.cache
def _record_outcome():
    """One row's outcome (executemany: one statement for the batch). The dispatcher clears `claim_id`
    of rows it settled after a lease ran out, so a late job writes nothing over them."""
    r = Reminder.__table__
    was = sa.bindparam("p_was", type_=sa.String)
    return sa.update(r).where(
        r.c.id == sa.bindparam("p_id"), r.c.claim_id == sa.bindparam("p_claim"),
        sa.or_(r.c.status == was, sa.and_(was == "sending", r.c.status == "delivered")),
    ).values(
        status=sa.case((r.c.status == "delivered", r.c.status), else_=sa.bindparam("p_status", type_=sa.String)),
        channel=sa.func.coalesce(sa.bindparam("p_channel", type_=sa.String), r.c.channel),
        sent_at=sa.func.coalesce(sa.bindparam("p_sent_at", type_=r.c.sent_at.type), r.c.sent_at),
        provider_message_id=sa.func.coalesce(sa.bindparam("p_provider_id", type_=sa.String), r.c.provider_message_id),
        last_error=sa.bindparam("p_error", type_=sa.Text), lease_until=sa.bindparam("p_lease", type_=r.c.lease_until.type),
        attempts=r.c.attempts + sa.bindparam("p_attempts", type_=sa.Integer), updated_at=sa.bindparam("p_now"))


@functools.cache
def _insert_reminder_attempt():
    """A reminder's delivery attempt, written only while the row is still this claim's (see above)."""
    a, r = DeliveryAttempt.__table__, Reminder.__table__
    columns = ("reminder_id", "at", "channel", "outcome", "provider_message_id", "error")
    params = {name: sa.bindparam(name, type_=a.c[name].type) for name in columns}
    values = sa.select(*params.values()).where(
        sa.exists().where(r.c.id == params["reminder_id"], r.c.claim_id == sa.bindparam("claim", type_=r.c.claim_id.type)))
    return sa.insert(a).from_select(list(columns), values)


# --- PostgreSQL: one statement per buffer, over arrays ------------------------------------------------------------
_OUTCOME_COLUMNS = (("p_id", "uuid"), ("p_was", "text"), ("p_status", "text"), ("p_channel", "text"),
                    ("p_sent_at", "timestamptz"), ("p_provider_id", "text"), ("p_error", "text"),
                    ("p_lease", "timestamptz"), ("p_now", "timestamptz"), ("p_attempts", "integer"))
_ATTEMPT_COLUMNS = (("reminder_id", "uuid"), ("at", "timestamptz"), ("channel", "text"), ("outcome", "text"),
                    ("provider_message_id", "text"), ("error", "text"))


def _columns(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...], *, claim) -> dict[str, Any]:
    """The buffered rows as one array per column (the statements below unnest them), plus the claim."""
    return {"claim": claim, **{name: [row[name] for row in rows] for name, _ in columns}}


def _unnest(columns: tuple[tuple[str, str], ...]) -> str:
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)
    return f"unnest({arrays}) WITH ORDINALITY AS v({', '.join(name for name, _ in columns)}, n)"


@functools.cache
def _record_outcomes():
    """`_record_outcome` for a whole buffer in one UPDATE … FROM unnest(…): the same guards, row by row."""
    return sa.text(f"""
        UPDATE reminders AS r SET
            status = CASE WHEN r.status = 'delivered' THEN r.status ELSE v.p_status END,
            channel = COALESCE(v.p_channel, r.channel),
            sent_at = COALESCE(v.p_sent_at, r.sent_at),
            provider_message_id = COALESCE(v.p_provider_id, r.provider_message_id),
            last_error = v.p_error, lease_until = v.p_lease, attempts = r.attempts + v.p_attempts,
            updated_at = v.p_now
        FROM {_unnest(_OUTCOME_COLUMNS)}
        WHERE r.id = v.p_id AND r.claim_id = :claim
          AND (r.status = v.p_was OR (v.p_was = 'sending' AND r.status = 'delivered'))""")


@functools.cache
def _insert_reminder_attempts():
    """`_insert_reminder_attempt` for a whole buffer, in the order the attempts were made."""
    return sa.text(f"""
        INSERT INTO delivery_attempts (reminder_id, at, channel, outcome, provider_message_id, error)
        SELECT v.reminder_id, v.at, v.channel, v.outcome, v.provider_message_id, v.error
        FROM {_unnest(_ATTEMPT_COLUMNS)}
        WHERE EXISTS (SELECT 1 FROM reminders AS r WHERE r.id = v.reminder_id AND r.claim_id = :claim)
        ORDER BY v.n""")
