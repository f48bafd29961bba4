"""API speed where the app lives: Cadence against a bare Flask app, same gunicorn configuration, one run.

    python bench/api.py [--seconds 10] [--connections 32] [--worklist-patients 2000]

Creates a scratch PostgreSQL database (dropped at the end; BENCH_DATABASE_URL names the server) and
uses Redis database BENCH_REDIS_DB (default 11, flushed before and after) for token revocation and
rate limits. It loads the demo data, adds a site of `--worklist-patients` patients (their calendars
copied from a demo patient's in bulk SQL, dates shifted so some visits are overdue), then serves
Cadence with gunicorn (2 sync workers, 127.0.0.1 only) and, in the same gunicorn configuration, a bare
Flask app that answers the same calendar JSON (`jsonify` of the same object) and a tiny JSON route.
The load generator is `wrk` (`apt-get install wrk`) with `--connections` connections, or without it a
small bounded Python client with threads; every run lasts `--seconds`.

Printed: requests per second and p50/p95 for each request, and the ratios with their targets:
the patient's calendar ≥ 50% of bare Flask serving the same payload; a 304 (current If-None-Match)
≥ 50% of the bare tiny route; the site worklist (nurse, 2,000 patients) p95 ≤ 100 ms (measured only).
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '11')}"
HOST = "127.0.0.1"
SECRET = "bench-api-secret-not-for-production-0123456789"

BARE_APP = '''
import json, os
from flask import Flask, jsonify
app = Flask(__name__)
app.json.sort_keys = False
with open(os.environ["BENCH_PAYLOAD"], encoding="utf-8") as f:
    PAYLOAD = json.load(f)

@app.get("/calendar")
def calendar():
    return jsonify(PAYLOAD)

@app.get("/tiny")
def tiny():
    return jsonify({"status": "ok"})
'''


# --- data ------------------------------------------------------------------------------------------------
def seed(worklist_patients: int) -> dict:
    """Demo data, a nurse, and a site with `worklist_patients` patients; returns ids the runs need."""
    import sqlalchemy as sa

    from backend.extensions import db
    from backend.models import Event, Patient, Site
    from backend.services.demo import load_demo
    from backend.services.studies import create_site
    from backend.services.users import create_user

    load_demo()
    # The demo patient with an app account whose calendar is nearest the 227 events.
    patient_id, count = db.session.execute(
        sa.select(Event.patient_id, sa.func.count()).join(Patient, Patient.id == Event.patient_id)
        .where(Patient.user_id.is_not(None)).group_by(Event.patient_id)
        .order_by(sa.func.abs(sa.func.count() - 227), Event.patient_id).limit(1)).one()
    template = db.session.get(Patient, patient_id)
    create_site(None, {"code": "BIG01", "name": "Large site", "study": template.study.code,
                       "timezone": "Asia/Shanghai", "country": "CN"})
    create_user(None, {"username": "bench-nurse", "role": "nurse", "password": "bench-password-2026",
                       "sites": ["BIG01", template.site.code]})
    big = db.session.scalar(sa.select(Site).where(Site.code == "BIG01"))
    connection = db.session.connection()
    connection.execute(sa.text("SET LOCAL session_replication_role = replica"))  # bulk seeding: no triggers
    connection.execute(sa.text("""
        CREATE TEMP TABLE bench_patients ON COMMIT DROP AS
        SELECT gen_random_uuid() AS id, n, (n % 150) AS shift FROM generate_series(1, :n) AS n"""),
        {"n": worklist_patients})
    connection.execute(sa.text("""
        INSERT INTO patients (id, study_id, site_id, subject_id, regimen, first_dose_date, timezone, locale, status,
                              created_at, updated_at)
        SELECT b.id, p.study_id, :site, 'BIG-' || lpad(b.n::text, 5, '0'), p.regimen,
               p.first_dose_date - b.shift, NULL, p.locale, 'on_treatment', now(), now()
        FROM bench_patients b CROSS JOIN patients p WHERE p.id = :template"""),
        {"site": big.id, "template": template.id})
    columns = [c.name for c in Event.__table__.columns if c.name not in ("id", "patient_id")]
    shifted = {"protocol_date", "target_date", "window_start", "window_end"}
    select = ", ".join(f"e.{c} - b.shift" if c in shifted else
                       ("CASE WHEN e.actual_date IS NULL THEN NULL ELSE e.actual_date - b.shift END"
                        if c == "actual_date" else f"e.{c}") for c in columns)
    connection.execute(sa.text(f"""
        INSERT INTO events (id, patient_id, {', '.join(columns)})
        SELECT gen_random_uuid(), b.id, {select} FROM bench_patients b CROSS JOIN events e
        WHERE e.patient_id = :template"""), {"template": template.id})
    connection.execute(sa.text("""
        INSERT INTO calendar_versions (patient_id, version) SELECT id, 1 FROM bench_patients"""))
    connection.execute(sa.text("""
        INSERT INTO worklist_versions (patient_id, site_id, version)
        SELECT id, :site, nextval('worklist_version_stamps') FROM bench_patients"""), {"site": big.id})
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    username = db.session.scalar(sa.text("SELECT username FROM users WHERE id = :id"), {"id": template.user_id}) \
        if template.user_id else None
    return {"patient_id": str(template.id), "events": count, "patient_username": username,
            "site": "BIG01", "patients": worklist_patients}


# --- servers ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def gunicorn(app: str, env: dict, cwd: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync", "--bind", f"{HOST}:{port}",
         "--log-level", "warning", "--timeout", "120", app], cwd=cwd, env=env)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return process, base
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn {app} did not start")


def call(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def token(base: str, username: str, password: str) -> str:
    status, _, body = call("POST", f"{base}/api/v1/auth/login", {"username": username, "password": password})
    if status != 200:
        raise RuntimeError(f"login {username}: {status} {body[:200]!r}")
    return json.loads(body)["access_token"]


# --- load ------------------------------------------------------------------------------------------------
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %f %d %d %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(95), summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def load(url: str, headers: dict, seconds: float, connections: int, expect: int, script: Path | None) -> dict:
    """Requests per second and p50/p95 (ms) of GET `url` for `seconds`."""
    status, _, _ = call("GET", url, headers=headers)
    if status != expect:
        raise RuntimeError(f"{url}: expected {expect}, got {status}")
    if script is not None:
        args = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s", "-s", str(script), url]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
        match = re.search(r"BENCH (\d+) ([\d.]+) (\d+) (\d+) (\d+)", out)
        requests, duration, p50, p95, errors = match.groups()
        if int(requests) == 0:  # nothing finished within the run (or wrk's timeout)
            return {"rps": 0.0, "p50": float("inf"), "p95": float("inf"), "errors": int(errors)}
        return {"rps": int(requests) / float(duration), "p50": int(p50) / 1000, "p95": int(p95) / 1000,
                "errors": int(errors)}
    return python_load(url, headers, seconds, min(connections, 16), expect)


def python_load(url: str, headers: dict, seconds: float, threads: int, expect: int) -> dict:
    """A bounded fallback: `threads` keep-alive clients for `seconds`, 127.0.0.1 only."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            answer.read()
            mine.append(time.perf_counter() - started)
            if answer.status != expect:
                errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50": quantiles[49] * 1000, "p95": quantiles[94] * 1000,
            "errors": errors[0]}


# --- the driver ------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--worklist-patients", type=int, default=2000)
    args = parser.parse_args()

    import redis
    import sqlalchemy as sa

    database = f"cadence_bench_api_{os.getpid()}"
    db_url = sa.engine.make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    workdir = Path(tempfile.mkdtemp(prefix="cadence-bench-api-"))
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET,
           "JWT_SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
           "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000 per minute", "JWT_ACCESS_TOKEN_MINUTES": "60"}
    env.pop("CADENCE_DEMO", None)
    processes: list[subprocess.Popen] = []
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        from flask_migrate import upgrade

        from backend import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET,
                          "JWT_SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            upgrade()
            print(f"seeding the demo data and a site of {args.worklist_patients:,} patients ...", flush=True)
            facts = seed(args.worklist_patients)
            from backend.extensions import db

            db.session.remove()
            db.engine.dispose()

        cadence, base = gunicorn("wsgi:app", env, ROOT)
        processes.append(cadence)
        from backend.services.demo import DEMO_PASSWORD

        patient_token = token(base, facts["patient_username"], DEMO_PASSWORD)
        nurse_token = token(base, "bench-nurse", "bench-password-2026")
        calendar_url = f"{base}/api/v1/patients/{facts['patient_id']}/calendar"
        as_patient = {"Authorization": f"Bearer {patient_token}"}
        status, headers, body = call("GET", calendar_url, headers=as_patient)
        payload = workdir / "calendar.json"
        payload.write_bytes(body)
        etag = headers["ETag"]
        _, zipped_headers, zipped = call("GET", calendar_url, headers={**as_patient, "Accept-Encoding": "gzip"})
        (workdir / "bare_app.py").write_text(BARE_APP)
        bare, bare_base = gunicorn("bare_app:app", {**env, "BENCH_PAYLOAD": str(payload)}, workdir)
        processes.append(bare)

        script = None
        if shutil.which("wrk"):
            script = workdir / "report.lua"
            script.write_text(WRK_SCRIPT)
        else:
            print("wrk not found: using the bounded Python client (apt-get install wrk for the reference numbers)")
        run = lambda url, headers=None, expect=200: load(url, headers or {}, args.seconds, args.connections,  # noqa: E731
                                                         expect, script)
        print(f"calendar: {facts['events']} events, {len(body) / 1024:.0f} KB "
              f"({len(zipped) / 1024:.0f} KB with {zipped_headers.get('Content-Encoding', 'no')} compression)")
        results = {}
        for name, url, headers, expect in [
            ("calendar (patient)", calendar_url, as_patient, 200),
            ("bare Flask, same JSON", f"{bare_base}/calendar", {}, 200),
            ("calendar 304 (If-None-Match)", calendar_url, {**as_patient, "If-None-Match": etag}, 304),
            ("bare Flask, tiny JSON", f"{bare_base}/tiny", {}, 200),
            (f"site worklist ({facts['patients']:,} patients, nurse)",
             f"{base}/api/v1/sites/{facts['site']}/worklist", {"Authorization": f"Bearer {nurse_token}"}, 200),
        ]:
            print(f"{name} ...", flush=True)
            results[name] = run(url, headers, expect)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.Redis.from_url(REDIS_URL).flushdb()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    return report(results)


def report(results: dict) -> int:
    print()
    print(f"{'request':46} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:46} {r['rps']:>9,.0f} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['errors']:>7}")
    names = list(results)
    calendar = results[names[0]]["rps"] / results[names[1]]["rps"]
    not_modified = results[names[2]]["rps"] / results[names[3]]["rps"]
    worklist_p95 = results[names[4]]["p95"]
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print()
    print(f"calendar ÷ bare Flask, same payload: {calendar:.0%} (target ≥ 50%: {verdict(calendar >= 0.5)})")
    print(f"304 ÷ bare Flask tiny route:         {not_modified:.0%} (target ≥ 50%: {verdict(not_modified >= 0.5)})")
    print(f"site worklist p95:                   {worklist_p95:.0f} ms (target ≤ 100 ms: "
          f"{verdict(worklist_p95 <= 100)})")
    return 0 if not any(r["errors"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
