"""Reminder delivery throughput: batched RQ jobs against one plain RQ job per reminder.

    python bench/reminders.py [--count 100000] [--baseline-count 2000] [--batch-size N] [--fork]

Creates a scratch PostgreSQL database and uses Redis database 15 (flushed before and after; override
with BENCH_DATABASE_URL / BENCH_REDIS_URL), plants `--count` due reminders, then in the same run:

1. batched, 1 worker:   the dispatcher claims them and enqueues one job per REMINDER_BATCH_SIZE;
2. batched, 2 workers:  the same with two worker processes;
3. baseline, 1 worker:  one plain RQ job per reminder (`--baseline-count` of them; rates are per second).

Workers are real `notifications.worker` processes in burst mode, all of them RQ's SimpleWorker (every
job runs in the worker process; `--fork` for RQ's default forking worker instead), whose
log channel appends a line per message to a file, so every send is counted: duplicates (a reminder
sent more than once) and losses (a due reminder never sent) are printed and must be 0, and each run
checks that every reminder was sent once, is `sent` in the database and has exactly one `sent`
delivery attempt. The time
includes claiming and enqueueing. The target is batched (1 worker) ≥ 20× the baseline rate. Not part of the
test suite; everything it creates is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
PATIENTS = 1000


# --- the worker side ---------------------------------------------------------------------------------------
class FileRecordingChannel:
    """The log channel, recording each message as one O_APPEND write (safe across processes)."""

    name = "log"

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def send(self, message):
        from notifications.channels import DeliveryResult

        os.write(self.fd, (message.data.get("reminder_id", "?") + "\n").encode())
        self.count += 1
        return DeliveryResult(provider_message_id=f"bench-{os.getpid()}-{self.count}")


def run_worker() -> int:
    from backend import create_app
    from notifications import worker

    app = create_app(json.loads(os.environ["BENCH_CONFIG"]))
    channel = FileRecordingChannel(os.environ["BENCH_RECORD"])
    app.extensions["cadence.channels"] = {"log": channel, "default": channel}
    worker.run(app, burst=True, with_cron=False, simple=os.environ.get("BENCH_SIMPLE") == "1")
    return 0


# --- the driver -----------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="due reminders for the batched runs")
    parser.add_argument("--baseline-count", type=int, default=2_000, help="reminders for the one-job-each baseline")
    parser.add_argument("--batch-size", type=int, default=None, help="REMINDER_BATCH_SIZE (default: the app's)")
    parser.add_argument("--fork", action="store_true",
                        help="RQ's forking worker (a work horse per job) instead of SimpleWorker, for both")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker()
    os.environ["BENCH_SIMPLE"] = "0" if args.fork else "1"

    import redis
    import sqlalchemy as sa

    database = f"cadence_bench_reminders_{os.getpid()}"
    db_url = sa.engine.make_url(ADMIN_URL).set(database=database)
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    connection = redis.Redis.from_url(REDIS_URL)
    workdir = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
    config = {
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url.render_as_string(hide_password=False),
        "REDIS_URL": REDIS_URL, "LOG_LEVEL": "WARNING",
        "REMINDER_DISPATCH_LIMIT": max(args.count, args.baseline_count), "REMINDER_MAX_QUEUED_JOBS": 10**9,
        "REMINDER_LEASE_SECONDS": 3600, "REMINDER_JOB_TIMEOUT_SECONDS": 3600, "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
    }
    if args.batch_size:
        config["REMINDER_BATCH_SIZE"] = args.batch_size
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    connection.flushdb()
    try:
        from flask_migrate import upgrade

        from backend import create_app

        app = create_app(config)
        with app.app_context():
            upgrade()
            print(f"planting {args.count:,} due reminders ...", flush=True)
            all_ids = plant(args.count)
            results = [
                scenario(app, "batched, 1 worker", all_ids[:args.count], 1, workdir, config, batched=True),
                scenario(app, "batched, 2 workers", all_ids[:args.count], 2, workdir, config, batched=True),
                scenario(app, "baseline: 1 job per reminder, 1 worker", all_ids[:args.baseline_count], 1, workdir,
                         config, batched=False),
            ]
            from backend.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        connection.flushdb()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return report(results)


def plant(count: int) -> list[uuid.UUID]:
    """1,000 patients with dosing visits in the past and two due reminders per visit (bulk SQL)."""
    import sqlalchemy as sa

    from backend.extensions import db
    from backend.models import AuditRecord, Event, Patient, Reminder, Site, Study

    study = Study(code="BENCH", title="Reminder benchmark", settings={})
    site = Site(code="B01", name="Bench site", study=study, timezone="Asia/Shanghai", country="CN")
    patients = [Patient(study=study, site=site, subject_id=f"B-{n:05d}", regimen="INET-PAC",
                        first_dose_date=date(2026, 1, 5)) for n in range(PATIENTS)]
    db.session.add_all(patients)
    db.session.commit()
    now = datetime.now(timezone.utc)
    visits = (count + 1) // 2
    events, reminders = [], []
    for n in range(visits):
        patient = patients[n % PATIENTS]
        day = date.today() - timedelta(days=1 + n // PATIENTS)
        event_id = uuid.uuid4()
        events.append({"id": event_id, "patient_id": patient.id, "key": f"D{n}", "kind": "dose", "cycle": 1, "day": 1,
                       "label": "Dosing visit", "agents": [], "protocol_date": day, "target_date": day,
                       "window_start": day, "window_end": day, "flags": [], "status": "planned", "version": 1,
                       "created_at": now, "updated_at": now})
        for rule, hours in (("dose.evening_before", 40), ("dose.morning_of", 30)):
            reminders.append({"id": uuid.uuid4(), "patient_id": patient.id, "event_id": event_id, "rule": rule,
                              "audience": "patient", "channel": "log", "target_date": day,
                              "timezone": "Asia/Shanghai", "send_at": now - timedelta(hours=hours, seconds=n),
                              "status": "scheduled", "attempts": 0, "created_at": now, "updated_at": now})
    # Every new event is audited in its transaction, before it is inserted (checked per statement):
    # one record per patient.
    db.session.execute(sa.insert(AuditRecord), [
        {"role": "system", "action": "create", "entity": "events", "entity_id": str(patient.id), "changes": {},
         "reason": "benchmark set-up"} for patient in patients])
    for start in range(0, len(events), 10_000):
        db.session.execute(sa.insert(Event.__table__), events[start:start + 10_000])
    for start in range(0, count, 10_000):
        db.session.execute(sa.insert(Reminder.__table__), reminders[start:min(start + 10_000, count)])
    db.session.commit()
    return [row["id"] for row in reminders[:count]]


def reset(subset: list[uuid.UUID]) -> None:
    """Every reminder of `subset` due and unsent again; the others out of the way; no attempts; empty Redis."""
    import redis
    import sqlalchemy as sa

    from backend.extensions import db
    from backend.models import DeliveryAttempt, Reminder

    db.session.execute(sa.delete(DeliveryAttempt))
    db.session.execute(sa.update(Reminder).values(status="cancelled", claim_id=None, lease_until=None, attempts=0,
                                                  sent_at=None, provider_message_id=None))
    for start in range(0, len(subset), 10_000):
        db.session.execute(sa.update(Reminder).where(Reminder.id.in_(subset[start:start + 10_000]))
                           .values(status="scheduled"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE reminders"))
    db.session.commit()
    redis.Redis.from_url(REDIS_URL).flushdb()


def scenario(app, name: str, subset: list[uuid.UUID], workers: int, workdir: Path, config: dict, *,
             batched: bool) -> dict:
    import redis
    import sqlalchemy as sa
    from rq import Queue

    from backend.extensions import db
    from backend.models import DeliveryAttempt, Reminder
    from notifications.dispatch import REMINDER_QUEUE, claim_due_reminders, dispatch_due
    from notifications.jobs import deliver_reminder

    reset(subset)
    record = workdir / f"sent-{len(os.listdir(workdir))}.log"
    record.touch()
    print(f"{name}: {len(subset):,} reminders ...", flush=True)
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    if batched:
        jobs = dispatch_due(now).jobs_enqueued
    else:
        queue = Queue(REMINDER_QUEUE, connection=redis.Redis.from_url(REDIS_URL))
        claims = claim_due_reminders(now, batch_size=1)
        for claim in claims:  # the plain way: one enqueue, one job, per reminder
            queue.enqueue(deliver_reminder, str(claim.claim_id), str(claim.ids[0]),
                          job_id=f"reminder-{claim.ids[0]}", job_timeout=60)
        jobs = len(claims)
    enqueued = time.perf_counter() - started
    env = {**os.environ, "BENCH_CONFIG": json.dumps(config), "BENCH_RECORD": str(record),
           "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], cwd=ROOT, env=env)
                 for _ in range(workers)]
    codes = [process.wait() for process in processes]
    elapsed = time.perf_counter() - started
    db.session.expire_all()
    statuses = Counter(status for (status,) in db.session.execute(
        sa.select(Reminder.status).where(Reminder.status != "cancelled")))
    sent = Counter(record.read_text().split())
    wanted = {str(i) for i in subset}
    # The database's side of it: each reminder `sent` with exactly one `sent` delivery attempt.
    recorded = Counter(str(reminder_id) for (reminder_id,) in db.session.execute(
        sa.select(DeliveryAttempt.reminder_id).where(DeliveryAttempt.outcome == "sent")))
    result = {
        "name": name, "count": len(subset), "jobs": jobs, "workers": workers, "seconds": elapsed,
        "enqueue_seconds": enqueued, "rate": len(subset) / elapsed, "statuses": dict(statuses),
        "duplicates": sum(1 for n in sent.values() if n > 1), "losses": len(wanted - set(sent)),
        "strays": len(set(sent) - wanted), "worker_exit_codes": codes,
        "exactly_once": (statuses == Counter({"sent": len(subset)}) and sent == Counter(dict.fromkeys(wanted, 1))
                         and recorded == Counter(dict.fromkeys(wanted, 1))),
    }
    print(f"  {elapsed:.1f} s ({enqueued:.1f} s claiming and enqueueing {jobs:,} jobs): "
          f"{result['rate']:,.0f} reminders/s; statuses {result['statuses']}; "
          f"duplicates {result['duplicates']}, losses {result['losses']}; every reminder sent and recorded "
          f"exactly once: {'yes' if result['exactly_once'] else 'NO'}", flush=True)
    return result


def report(results: list[dict]) -> int:
    baseline = results[-1]["rate"]
    print()
    print(f"{'run':42} {'reminders':>10} {'jobs':>8} {'seconds':>8} {'per second':>11} {'vs baseline':>12} "
          f"{'duplicates':>11} {'losses':>7}")
    for r in results:
        print(f"{r['name']:42} {r['count']:>10,} {r['jobs']:>8,} {r['seconds']:>8.1f} {r['rate']:>11,.0f} "
              f"{r['rate'] / baseline:>11.1f}x {r['duplicates']:>11} {r['losses']:>7}")
    ok = all(r["duplicates"] == 0 and r["losses"] == 0 and r["strays"] == 0 and r["exactly_once"]
             and not any(r["worker_exit_codes"]) for r in results)
    best = max(r["rate"] for r in results[:-1]) / baseline
    one_worker = results[0]["rate"] / baseline
    print(f"\nbatched vs one job per reminder: {one_worker:.1f}x with 1 worker, {best:.1f}x at best "
          f"(target >= 20x: {'met' if one_worker >= 20 else 'NOT met'}); "
          f"every reminder sent and recorded exactly once in every run: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
