"""The site worklist page's server time for a site of 1,000 patients, against a baseline in the same run.

Baseline: the worklist service alone (what `GET /sites/{code}/worklist` computes). Measured: the whole
console page (`GET /console/sites/{code}`: service, the console's row lookups, the template). Target:
the page in <= 150 ms. Runs against TEST_DATABASE_URL (default: a scratch PostgreSQL database).

    python bench/console.py [--patients 1000] [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATABASE = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_console")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def fresh_database(url: str) -> None:
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def timed(call, runs: int) -> float:
    call()  # warm up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from backend import create_app
    from backend.auth import principal_for
    from backend.extensions import db
    from backend.models import User
    from backend.services import worklists
    from backend.services.demo import load_demo
    from backend.models import Site
    from backend.services.patients import _demo_visits, enrol_patient

    fresh_database(DATABASE)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": DATABASE, "REDIS_URL": REDIS,
                      "RATELIMIT_STORAGE_URI": REDIS, "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024,
                      "SESSION_COOKIE_SECURE": False, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        load_demo()
        today = date.today()
        print(f"enrolling {args.patients} patients at SH01 ...", flush=True)
        site = db.session.scalar(sa.select(Site).where(Site.code == "SH01"))
        for n in range(args.patients):
            # As in the demo: dosing visits more than two days ago recorded as given.
            data = {"study": "INET-PAC-RWS", "site": "SH01", "subject_id": f"B-{n:05d}", "regimen": "INET-PAC",
                    "first_dose_date": today - timedelta(days=n % 300)}
            enrol_patient(None, data, visits=_demo_visits(data, site, today))
        db.session.commit()
        # Planner statistics after the bulk enrolment, as autovacuum would leave them (as bench/worklist.py does).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
        nurse = db.session.scalar(sa.select(User).where(User.username == "nurse"))
        principal = principal_for(nurse)
        baseline = timed(lambda: (worklists.site_worklist(principal, "SH01"), db.session.rollback()), args.runs)
    client = app.test_client()
    page = client.get("/console/sign-in")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/console/sign-in", data={"csrf_token": token, "username": "nurse", "password": "cadence-demo-2026"})

    def render():
        answer = client.get("/console/sites/SH01")
        assert answer.status_code == 200, answer.status_code

    console = timed(render, args.runs)
    print(f"worklist service (baseline): {baseline:.1f} ms median of {args.runs}")
    print(f"console page /console/sites/SH01: {console:.1f} ms median of {args.runs} "
          f"(ratio {console / baseline:.2f}; target <= 150 ms: {'met' if console <= 150 else 'NOT met'})")


if __name__ == "__main__":
    main()
