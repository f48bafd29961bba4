"""`make run`: serve the API on a laptop, with reminders going out through the log channel.

Reminders need a worker and Redis. In order of preference: the Redis at REDIS_URL, if it answers;
else a private `redis-server` started here when one is installed; else no Redis at all, and a thread
dispatches due reminders in-process every DISPATCH_INTERVAL_SECONDS (saying so). Production runs
gunicorn `wsgi:app` and `python -m notifications.worker` processes instead.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import redis


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _private_redis() -> str | None:
    """A throwaway redis-server on a free local port, stopped when this process exits."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = _free_port()
    server = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(_stop, server)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        if _redis_answers(url):
            return url
        time.sleep(0.1)
    return None


def _stop(process: subprocess.Popen) -> None:
    """Stop a child and wait for it (the worker stops its own cron scheduler on SIGTERM)."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def _dispatch_in_process(app) -> None:
    from notifications.dispatch import dispatch_due_in_process

    interval = int(app.config["DISPATCH_INTERVAL_SECONDS"])

    def loop() -> None:
        while True:
            with app.app_context():
                try:
                    report = dispatch_due_in_process()
                    if report.reminders_claimed or report.staff_claimed:
                        app.logger.info("in-process dispatch: %s", report.summary())
                except Exception:  # keep the laptop loop alive; the error is in the log
                    app.logger.exception("in-process dispatch failed")
            time.sleep(interval)

    threading.Thread(target=loop, name="in-process-dispatch", daemon=True).start()


DEMO_BANNER = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  DEMO MODE with BUILT-IN SECRETS ({names}).
!!  Anyone who has read the source can forge tokens for any account. Demo data only;
!!  this server only listens on this computer (loopback). For real use set SECRET_KEY and
!!  JWT_SECRET_KEY (see .env.example) and unset CADENCE_DEMO.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_demo_binding(config, host: str) -> None:
    """With the built-in secrets, say so loudly, and refuse to listen anywhere but loopback."""
    builtin = config.get("CADENCE_BUILTIN_SECRETS") or ()
    if not builtin:
        return
    print(DEMO_BANNER.format(names=", ".join(builtin)), file=sys.stderr, flush=True)
    if not is_loopback(host):
        raise SystemExit(f"Refusing to serve on {host!r} with built-in secrets: use 127.0.0.1 (or set "
                         "SECRET_KEY and JWT_SECRET_KEY).")


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the Cadence API for local use.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--no-worker", action="store_true", help="serve the API only")
    args = parser.parse_args()
    # Ctrl-C or a kill: exit through atexit, so the worker and a private Redis stop with the API.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(SystemExit(0)))

    from backend import create_app

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    mode = "none"
    if not args.no_worker:
        if _redis_answers(url):
            mode = "redis"
        else:
            private = _private_redis()
            if private is not None:
                print(f"Redis at {url} does not answer; started a private redis-server at {private}")
                os.environ["REDIS_URL"] = url = private
                mode = "redis"
    app = create_app()
    check_demo_binding(app.config, args.host)
    if mode == "redis":
        from notifications.worker import start_local_worker

        worker = start_local_worker()
        atexit.register(_stop, worker)
        print(f"Reminder worker started (pid {worker.pid}) against {url}; reminders are logged by the log channel")
    elif not args.no_worker:
        print("No Redis and no redis-server installed: reminders are dispatched in this process instead")
        _dispatch_in_process(app)
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
