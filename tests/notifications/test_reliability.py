"""Fault injection with real worker processes (subprocess), real Redis and PostgreSQL: a reminder is
never lost and never sent twice (notifications/delivery.py states the guarantees)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from rq import Queue

from backend.models import DeliveryAttempt, Reminder
from backend.models.base import utcnow
from backend.services.reminders import sync_event_reminders
from notifications.dispatch import REMINDER_QUEUE, dispatch_due
from tests.conftest import ROOT, test_config
from tests.factories import SiteFactory
from tests.factories_reminders import EventFactory, patient_with_account

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def configured(app, **values):
    missing = object()
    previous = {name: app.config.get(name, missing) for name in values}
    app.config.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is missing:
                app.config.pop(name, None)
            else:
                app.config[name] = value


@contextlib.contextmanager
def redis_at(app, url):
    """Point the app (API and dispatcher) at another Redis, e.g. a dead port."""
    original = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = url
    for key in ("cadence.redis", "cadence.rq_redis"):
        app.extensions.pop(key, None)
    try:
        yield
    finally:
        app.config["REDIS_URL"] = original
        for key in ("cadence.redis", "cadence.rq_redis"):
            app.extensions.pop(key, None)


def start_worker(app, record: Path, *, delay: float = 0.0, mode: str = "ok") -> subprocess.Popen:
    overrides = {**test_config(), **{name: app.config[name] for name in (
        "REMINDER_BATCH_SIZE", "REMINDER_LEASE_SECONDS", "REMINDER_RETRY_INTERVALS", "HTTP_TIMEOUT_SECONDS")
        if name in app.config}}
    env = {**os.environ, "HARNESS_CONFIG": json.dumps(overrides), "HARNESS_RECORD": str(record),
           "HARNESS_DELAY": str(delay), "HARNESS_MODE": mode, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.notifications.worker_harness"], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(worker: subprocess.Popen, timeout: float = 120) -> None:
    _out, err = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, err.decode()[-3000:]


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (RQ forks a work horse per job, in a session of its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def sends(record: Path) -> Counter:
    if not record.exists():
        return Counter()
    return Counter(json.loads(line)["reminder_id"] for line in record.read_text().splitlines())


def due_reminders(db, patients: int, visits: int) -> list:
    """`patients` × `visits` dosing visits in the recent past, planned before they happened: every
    reminder is due now."""
    site = SiteFactory(timezone="Asia/Shanghai")
    today = utcnow().date()
    for _ in range(patients):
        patient, _user = patient_with_account(site=site)
        events = [EventFactory(patient=patient, kind="dose", target_date=today - timedelta(days=2 + day))
                  for day in range(visits)]
        sync_event_reminders(patient, events, utcnow() - timedelta(days=visits + 10))
    db.session.commit()
    return list(db.session.scalars(sa.select(Reminder.id)))


def states(db) -> dict[str, str]:
    db.session.expire_all()
    return {str(r.id): r.status for r in db.session.scalars(sa.select(Reminder))}


def outcomes(db) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for attempt in db.session.scalars(sa.select(DeliveryAttempt).order_by(DeliveryAttempt.id)):
        found.setdefault(str(attempt.reminder_id), []).append(attempt.outcome)
    return found


def test_with_redis_down_reminders_are_still_planned_and_all_sent_once_when_it_returns(app, db, client, auth, runner,
                                                                                    tmp_path):
    record = tmp_path / "sent.jsonl"
    with redis_at(app, "redis://127.0.0.1:1/0"):
        patient, user = patient_with_account()
        answer = client.post("/api/v1/me/devices", json={"platform": "ios", "token": "a" * 64}, headers=auth.headers(user))
        assert answer.status_code == 201  # the API keeps working
        ids = due_reminders(db, patients=3, visits=4)
        assert len(ids) == 24 and set(states(db).values()) == {"scheduled"}
        result = runner.invoke(args=["reminders", "dispatch"])
        assert result.exit_code == 1 and "Redis is unavailable" in result.output
        assert set(states(db).values()) == {"scheduled"}  # nothing claimed and stranded

    report = dispatch_due(utcnow())
    assert report.reminders_claimed == 24 and not report.redis_down
    finish(start_worker(app, record))
    assert set(states(db).values()) == {"sent"}
    assert sends(record) == Counter({str(i): 1 for i in ids})

    assert dispatch_due(utcnow()).reminders_claimed == 0  # and once means once
    finish(start_worker(app, record))
    assert sends(record) == Counter({str(i): 1 for i in ids})
    assert all(found == ["sent"] for found in outcomes(db).values())


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(app, db, tmp_path):
    record = tmp_path / "sent.jsonl"
    # a 3 s lease, and provider calls of at most 10 ms (the sending lease covers each call at its timeout)
    with configured(app, REMINDER_BATCH_SIZE=10, REMINDER_LEASE_SECONDS=3, HTTP_TIMEOUT_SECONDS="0.01"):
        ids = due_reminders(db, patients=3, visits=10)
        assert dispatch_due(utcnow()).jobs_enqueued == 6
        worker = start_worker(app, record, delay=0.05)
        deadline = time.monotonic() + 60
        while sum(sends(record).values()) < 15 and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in [worker.pid, *children(worker.pid)]:  # the worker and its work horse (own session), mid-batch
            os.kill(pid, signal.SIGKILL)
        worker.communicate(timeout=10)
        time.sleep(0.5)  # PostgreSQL notices the dead connections and rolls their transactions back
        before = states(db)
        assert 15 <= sum(sends(record).values()) < len(ids)
        in_flight = [rid for rid, status in before.items() if status == "sending"]
        assert len(in_flight) <= 10  # the killed batch, marked `sending` as one; its journal says the rest

        time.sleep(3.5)  # the claims' leases run out
        report = dispatch_due(utcnow())
        assert report.ambiguous <= 1
        unsent = [rid for rid in in_flight if not sends(record)[rid]]  # handed back as due, but for the one in doubt
        assert report.reminders_claimed in (list(before.values()).count("queued") + len(unsent) - report.ambiguous,
                                            list(before.values()).count("queued") + len(unsent))
        finish(start_worker(app, record))  # also runs the killed batch's stale jobs: they send nothing

    after, sent, found = states(db), sends(record), outcomes(db)
    assert max(sent.values()) == 1, "a reminder was sent twice"
    ambiguous = [rid for rid, status in after.items() if status == "failed"]
    assert len(ambiguous) == report.ambiguous <= 1 and set(ambiguous) <= set(in_flight)
    for rid in ambiguous:  # in flight when killed: recorded for staff, not resent
        assert found[rid] == ["ambiguous"] and sent[rid] <= 1
    for rid, status in after.items():
        if rid not in ambiguous:
            assert status == "sent" and sent[rid] == 1 and found[rid] == ["sent"], rid
    assert len(after) == len(ids)


def test_a_transient_failure_is_retried_by_rq_and_fails_after_the_last_retry(app, db, tmp_path):
    record = tmp_path / "sent.jsonl"
    with configured(app, REMINDER_RETRY_INTERVALS=[0, 0]):
        ids = due_reminders(db, patients=1, visits=1)
        report = dispatch_due(utcnow())
        assert report.jobs_enqueued == 1
        finish(start_worker(app, record, mode="transient"))

    found = outcomes(db)
    for reminder in db.session.scalars(sa.select(Reminder)):
        db.session.refresh(reminder)
        assert (reminder.status, reminder.attempts) == ("failed", 3)
        assert reminder.last_error.startswith("gave up after 3 attempt(s): harness: provider unavailable")
        assert found[str(reminder.id)] == ["transient"] * 3
    assert sends(record) == Counter()
    queue = Queue(REMINDER_QUEUE, connection=redis.Redis.from_url(app.config["REDIS_URL"]))
    assert len(queue.failed_job_registry.get_job_ids()) == 1  # RQ shows it too
    assert len(ids) == 2
