"""`python -m notifications.worker` (`make worker`): an RQ worker for the `dispatch` and `reminders`
queues, with RQ's scheduler (retries with back-off are scheduled jobs) and rq's cron scheduler, which
enqueues the periodic dispatch tick every DISPATCH_INTERVAL_SECONDS.

Several workers on several machines: start one per core everywhere, all with the same DATABASE_URL and
REDIS_URL. Claims use `FOR UPDATE SKIP LOCKED`, so no two workers ever send the same reminder; RQ's
scheduler takes a Redis lock per queue, so one instance moves retries; each worker's cron enqueues a
tick, and a Redis lock lets one tick run at a time. To run fewer cron schedulers, start workers with
`--no-cron` and one `python -m notifications.worker --cron-only` (or a plain cron running
`flask --app wsgi reminders dispatch` every minute instead).

Options: `--burst` (work until the queues are empty, then exit; no cron), `--no-cron`, `--cron-only`,
`--simple` (run jobs in the worker process instead of a forked work horse: faster, less isolated).

`start_local_worker()` starts one beside the API for `make run`; without Redis, use
`notifications.dispatch.dispatch_due_in_process(now)` (or `flask reminders dispatch --in-process`).
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from flask import Flask
from rq import SimpleWorker, Worker
from rq.job import Job

from notifications.delivery import RetryLater
from notifications.dispatch import DISPATCH_QUEUE, REMINDER_QUEUE

QUEUES = (DISPATCH_QUEUE, REMINDER_QUEUE)

_app: Flask | None = None
_pool_pid: int | None = None


def worker_app() -> Flask:
    """The app jobs run in: the one `run()` was given, else one built from the environment."""
    global _app
    if _app is None:
        from backend import create_app

        _app = create_app()
    return _app


def use_app(app: Flask) -> None:
    global _app, _pool_pid
    _app = app
    _pool_pid = os.getpid()


class AppJob(Job):
    """A job that runs inside the Flask app context, with its own database connections, and whose retry
    waits at least as long as a provider's Retry-After (carried by `RetryLater`)."""

    retry_after: float = 0.0

    def get_retry_interval(self) -> int:
        return max(super().get_retry_interval(), math.ceil(self.retry_after))

    def perform(self) -> Any:
        from backend.extensions import db

        global _pool_pid
        app = worker_app()
        with app.app_context():
            if _pool_pid != os.getpid():
                # A forked work horse must not share the parent's pooled connections.
                if _pool_pid is not None:
                    db.engine.dispose(close=False)
                _pool_pid = os.getpid()
            try:
                return super().perform()
            except RetryLater as error:
                self.retry_after = error.retry_after  # read by get_retry_interval when RQ reschedules
                raise
            finally:
                db.session.remove()


def redis_for_worker(app: Flask) -> redis.Redis:
    # No short socket timeout here: the worker blocks on BLPOP for longer than the API would wait.
    return redis.Redis.from_url(app.config["REDIS_URL"])


def preload() -> None:
    """Import the job code and read the message catalogs once in the worker, so each forked work horse
    starts with them instead of paying for them per job."""
    import notifications.jobs  # noqa: F401
    from notifications.messages import SUPPORTED_LOCALES, load_catalog

    for locale in SUPPORTED_LOCALES:
        load_catalog(locale)


def run(app: Flask, *, queues: Sequence[str] = QUEUES, burst: bool = False, with_cron: bool = True,
        simple: bool = False, name: str | None = None) -> bool:
    """Work the queues (with RQ's scheduler); unless `burst`, also start a cron scheduler process."""
    use_app(app)
    preload()
    worker_class = SimpleWorker if simple else Worker
    worker = worker_class(list(queues), connection=redis_for_worker(app), job_class=AppJob, name=name)
    cron = None
    if with_cron and not burst:
        cron = subprocess.Popen([sys.executable, "-m", "notifications.worker", "--cron-only"])
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])
    finally:
        if cron is not None:
            cron.terminate()
            try:
                cron.wait(10)
            except subprocess.TimeoutExpired:
                cron.kill()


def run_cron(app: Flask) -> None:
    """rq's cron scheduler: enqueue `periodic_tick` on the dispatch queue every interval (blocking)."""
    from rq.cron import CronScheduler

    from notifications.periodic import periodic_tick

    interval = int(app.config["DISPATCH_INTERVAL_SECONDS"])
    scheduler = CronScheduler(connection=redis_for_worker(app), logging_level=app.config["LOG_LEVEL"])
    # ttl: a tick nobody picked up within two intervals is dropped; the next one does its work.
    scheduler.register(periodic_tick, DISPATCH_QUEUE, interval=interval, ttl=2 * interval,
                       job_timeout=int(app.config["REMINDER_JOB_TIMEOUT_SECONDS"]), result_ttl=10 * interval,
                       failure_ttl=24 * 3600)
    scheduler.start()


def start_local_worker(env: Mapping[str, str] | None = None, *, burst: bool = False) -> subprocess.Popen:
    """Start a worker process beside the API (for `make run`); the caller terminates it on exit."""
    command = [sys.executable, "-m", "notifications.worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(command, env=dict(os.environ if env is None else env))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notifications.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty (no cron)")
    parser.add_argument("--no-cron", action="store_true", help="do not start the periodic dispatch scheduler")
    parser.add_argument("--cron-only", action="store_true", help="only run the periodic dispatch scheduler")
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork per job)")
    parser.add_argument("--queues", nargs="+", default=list(QUEUES), help="queues to work, in priority order")
    parser.add_argument("--name", default=None, help="worker name (default: RQ's)")
    args = parser.parse_args(argv)
    app = worker_app()
    if args.cron_only:
        run_cron(app)
        return 0
    run(app, queues=args.queues, burst=args.burst, with_cron=not args.no_cron, simple=args.simple, name=args.name)
    return 0


if __name__ == "__main__":
    # Run the imported module, not `__main__`, so AppJob and the app live in one module object.
    from notifications.worker import main as _main

    sys.exit(_main())
