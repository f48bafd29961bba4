"""The periodic tick: the housekeeping a running trial needs without anyone asking.

`periodic_tick` is enqueued every DISPATCH_INTERVAL_SECONDS by rq's cron scheduler that
`python -m notifications.worker` starts (or run by `flask reminders dispatch` from a plain cron). It runs
every task of `PERIODIC_TASKS` in order, each idempotent, so a tick that runs twice only costs time;
dispatch runs last so that what the others queue leaves in the same tick.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from flask import current_app
from rq.job import get_current_job

from backend.extensions import db
from backend.models.base import utcnow
from notifications.dispatch import DispatchReport, dispatch_due, rq_connection

log = logging.getLogger(__name__)

TICK_LOCK = "cadence:dispatch:tick"
PFS_SCAN_KEY = "cadence:pfs-scan:recent"
HORIZON_KEY = "cadence:reminder-horizon:recent"
SIGN_IN_CLEANUP_KEY = "cadence:sign-in-cleanup:recent"
PFS_SCAN_EVERY_SECONDS = 3600
HORIZON_EVERY_SECONDS = 600
SIGN_IN_CLEANUP_EVERY_SECONDS = 3600


def _ran_recently(key: str, now: datetime, seconds: int) -> bool:
    """Whether a task ran within `seconds` on any worker (a Redis key with a TTL). Without Redis the
    task simply runs: each of these tasks is idempotent, so running again only costs time."""
    try:
        return not rq_connection().set(key, now.isoformat(), nx=True, ex=seconds)
    except redis.RedisError:
        return False


def escalate_alerts_task(now: datetime) -> Any:
    """Symptom alerts left open past their study's limit go to its coordinators. Runs before dispatch
    so the escalation messages it writes to the staff outbox leave in the same tick."""
    from backend.services.alerts import escalate_overdue_alerts

    return escalate_overdue_alerts(now)


def pfs_scan_task(now: datetime) -> Any:
    """The PFS early warning (at risk, deadline near) for every on-study patient, at most hourly across
    all workers. Queued messages are deduplicated, so a second scan would only cost time."""
    from backend.services.pfs import scan_pfs_risk

    if _ran_recently(PFS_SCAN_KEY, now, PFS_SCAN_EVERY_SECONDS):
        return "skipped: scanned within the hour"
    return scan_pfs_risk(now)


def reminder_horizon_task(now: datetime) -> Any:
    """Reminders of events that came within REMINDER_HORIZON_DAYS since they were planned."""
    from backend.services.reminders import plan_reminders_entering_horizon

    if _ran_recently(HORIZON_KEY, now, HORIZON_EVERY_SECONDS):
        return "skipped: planned within 10 minutes"
    return plan_reminders_entering_horizon(now)


def expired_sign_ins_task(now: datetime) -> Any:
    """Sign-ins whose last refresh token expired a day ago, at most hourly: no token of theirs can be
    presented any more, so the rows only grow the table every request reads."""
    from backend.services.auth import delete_expired_sign_ins

    if _ran_recently(SIGN_IN_CLEANUP_KEY, now, SIGN_IN_CLEANUP_EVERY_SECONDS):
        return "skipped: cleaned within the hour"
    return delete_expired_sign_ins(now)


def dispatch_due_task(now: datetime) -> DispatchReport:
    return dispatch_due(now)


# Each is called with the tick's `now` (aware UTC), in order; dispatch last, so what the others queue
# leaves in the same tick.
PERIODIC_TASKS: list[Callable[[datetime], Any]] = [
    escalate_alerts_task, pfs_scan_task, reminder_horizon_task, expired_sign_ins_task, dispatch_due_task,
]


class PeriodicTaskFailed(RuntimeError):
    """One or more periodic tasks raised; the others still ran."""


def run_periodic_tasks(now: datetime | None = None) -> tuple[dict[str, Any], list[str]]:
    """Run every task of PERIODIC_TASKS; a failing task does not stop the others. Returns (results by
    task name, errors)."""
    now = now or utcnow()
    results: dict[str, Any] = {}
    errors: list[str] = []
    for task in PERIODIC_TASKS:
        try:
            result = task(now)
        except Exception as error:  # the others must still run; re-raised below so RQ records it
            db.session.rollback()
            log.exception("periodic task %s failed", task.__name__)
            errors.append(f"{task.__name__}: {error!r}")
            continue
        results[task.__name__] = result
    return results, errors


def periodic_tick() -> dict[str, Any]:
    """RQ job run every DISPATCH_INTERVAL_SECONDS. Cron schedulers on several machines may each enqueue
    it; a Redis lock lets one tick run at a time (claims are safe anyway; this saves the work)."""
    job = get_current_job()
    connection = job.connection if job is not None else rq_connection()
    interval = int(current_app.config["DISPATCH_INTERVAL_SECONDS"])
    lock = connection.lock(TICK_LOCK, timeout=max(60, 10 * interval), blocking=False)
    if not lock.acquire(blocking=False):
        return {"skipped": "another tick is running"}
    try:
        results, errors = run_periodic_tasks()
        if errors:
            raise PeriodicTaskFailed("; ".join(errors))  # RQ records it; the other tasks did run
        return {name: r.summary() if isinstance(r, DispatchReport) else r for name, r in results.items()}
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("the periodic tick outlived its lock")
