"""The delivery journal: which reminder of a batch a job has handed to a provider, and what came back,
written to Redis before and after each provider call so that a batch commits to PostgreSQL once.

Why it exists
-------------
A batch job marks all of its rows `sending` in one guarded UPDATE, sends them one by one, and records
every outcome in one transaction at the end (notifications/delivery.py). If the worker dies in between,
PostgreSQL only knows "these rows were being sent". The journal knows more: before each provider call
the job appends `start` for that row (together with the previous row's result, one round trip), and
after the last call the last result. So after a crash exactly one row of the batch is in doubt — the one
whose `start` has no result — as with the commit per reminder that the journal replaces:

- a row with a `sent` result was sent: it is recorded as sent;
- a row with an `unsent` result was not: it settles as the worker would have recorded it (a permanent
  refusal or no route left fails it; a transient one waits its back-off, or fails at the last attempt);
- a row with no entry was never handed to a provider: it is due again;
- the row with `start` and no result is the ambiguous one: failed, for staff, never resent.

`settle` (called by the dispatcher once the rows' lease has run out) first *fences* the journal — it
appends `fenced` and reads the list in one transaction — and every write of a job checks for the fence
in the same Lua script that writes (one round trip), so a job that outlived its lease stops before its
next provider call instead of racing the dispatcher: never twice.

A journal that is missing (Redis lost it: flushed, restarted without persistence) has no `open` entry;
every row of that batch is then in doubt and settled as ambiguous (never twice over never lost). The
entries are JSON lists; the key expires after JOURNAL_TTL_SECONDS; the job deletes it once its
outcomes are committed.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import redis

JOURNAL_TTL_SECONDS = 7 * 24 * 3600
_PREFIX = "cadence:delivery-journal:"

# KEYS[1]: the journal; ARGV[1]: ttl; ARGV[2]: "1" when the write may open a new journal; ARGV[3..]: entries.
# Refused (0) once fenced, or when the journal is gone and this write does not open it.
_WRITE = """
local last = redis.call('LINDEX', KEYS[1], -1)
if last == '["fenced"]' then return 0 end
if (not last) and ARGV[2] ~= '1' then return 0 end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Entry:
    """What the journal says last about one row (for one attempt)."""

    kind: str  # start | sent | unsent
    channel: str | None = None
    provider_message_id: str | None = None
    outcome: str | None = None  # for unsent: transient | permanent | recipient_gone | no_route
    error: str | None = None


class DeliveryJournal:
    """One Redis list per claim (`cadence:delivery-journal:<claim id>`)."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._write = connection.register_script(_WRITE)

    @staticmethod
    def key(claim_id: uuid.UUID) -> str:
        return f"{_PREFIX}{claim_id}"

    def _append(self, claim_id: uuid.UUID, entries: list[list[Any]], *, opening: bool = False) -> bool:
        values = [json.dumps(entry, separators=(",", ":")) for entry in entries]
        return bool(self._write(keys=[self.key(claim_id)], args=[JOURNAL_TTL_SECONDS, "1" if opening else "0", *values]))

    # --- the job's side -----------------------------------------------------------------------------------
    def open(self, claim_id: uuid.UUID) -> bool:
        """Before the batch's rows are marked `sending`; False when the dispatcher has fenced the claim."""
        return self._append(claim_id, [["open"]], opening=True)

    def start(self, claim_id: uuid.UUID, reminder_id: uuid.UUID, attempt: int,
              previous: list[Any] | None = None) -> bool:
        """Just before the provider call for a row (with the previous row's result); False: stop sending."""
        entries = ([previous] if previous else []) + [["start", str(reminder_id), attempt]]
        return self._append(claim_id, entries)

    def finish(self, claim_id: uuid.UUID, result: list[Any]) -> bool:
        return self._append(claim_id, [result])

    def close(self, claim_id: uuid.UUID) -> None:
        """After the outcomes are committed."""
        self.connection.delete(self.key(claim_id))

    # --- the dispatcher's side ------------------------------------------------------------------------------
    def fence(self, claim_id: uuid.UUID) -> dict[tuple[str, int], Entry] | None:
        """Stop the claim's job, if it still runs, and return the last entry per (row, attempt);
        None when there is no journal (Redis lost it, or the batch never had one)."""
        key = self.key(claim_id)
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.rpush(key, '["fenced"]')  # what the script above looks for
            pipe.expire(key, JOURNAL_TTL_SECONDS)
            pipe.lrange(key, 0, -1)
            *_, raw = pipe.execute()
        entries = [json.loads(value) for value in raw]
        if not any(entry[0] == "open" for entry in entries):
            return None
        last: dict[tuple[str, int], Entry] = {}
        for entry in entries:
            kind = entry[0]
            if kind == "start":
                last[(entry[1], entry[2])] = Entry("start")
            elif kind == "sent":
                last[(entry[1], entry[2])] = Entry("sent", channel=entry[3], provider_message_id=entry[4])
            elif kind == "unsent":
                last[(entry[1], entry[2])] = Entry("unsent", channel=entry[3], outcome=entry[4], error=entry[5])
        return last


def sent_entry(reminder_id: uuid.UUID, attempt: int, channel: str, provider_message_id: str | None) -> list[Any]:
    return ["sent", str(reminder_id), attempt, channel, provider_message_id]


def unsent_entry(reminder_id: uuid.UUID, attempt: int, channel: str, outcome: str, error: str | None) -> list[Any]:
    return ["unsent", str(reminder_id), attempt, channel, outcome, (error or "")[:500]]


__all__ = ["JOURNAL_TTL_SECONDS", "DeliveryJournal", "Entry", "sent_entry", "unsent_entry"]
