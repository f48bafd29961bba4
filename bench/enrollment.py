"""Enrolment throughput: 10,000 patients with their calendars, against a raw PostgreSQL COPY.

    python bench/enrollment.py [--patients 10000] [--batch 50] [--database-url URL] [--keep]

A standalone script, not a test. It creates its own scratch PostgreSQL database, migrates it to
head (the `flask db upgrade` migrations), and then:

1. enrols N patients through the enrolment service (`backend.services.patients.enrol_patient`,
   the code `POST /patients` runs, minus HTTP), the four regimens in turn at three sites,
   committing every `--batch` patients; prints events per second and the process RSS after 20%
   of the patients and at the end (flat = memory does not grow with the number of patients);
2. copies the very same event rows with a raw binary `COPY ... FROM STDIN` into an empty table
   identical to `events` (columns, checks, indexes, unique key and the foreign key to patients),
   timing the COPY alone; prints its events per second and the ratio (target: enrolment at 25%
   or more of the COPY rate);
3. records one late cycle-1 day 1 for every patient through the recording service
   (`record_event`, as `PATCH /patients/{id}/events/{event_id}` does) and times re-planning
   all of them.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGIMENS = ("INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR")
SITES = (
    {"code": "BSH01", "name": "Shanghai", "timezone": "Asia/Shanghai", "country": "CN"},
    {"code": "BBJ01", "name": "Beijing", "timezone": "Asia/Shanghai", "country": "CN"},
    {"code": "BLDN01", "name": "London", "timezone": "Europe/London", "country": "GB"},
)


def rss_mib() -> float:
    """Resident set size now (not the peak), from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def recreate_database(url: str) -> None:
    import sqlalchemy as sa

    target = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    import sqlalchemy as sa

    target = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def make_app(url: str):
    from backend import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "CADENCE_DEMO": True, "LOG_LEVEL": "WARNING",
                       "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024})


@contextlib.contextmanager
def scratch_app(url: str, keep: bool = False):
    """The app on a new database at `url`, migrated to head (what `flask db upgrade` runs); the database is
    dropped afterwards unless `keep`."""
    from flask_migrate import upgrade

    from backend.extensions import db

    recreate_database(url)
    app = make_app(url)
    try:
        with app.app_context():
            upgrade()
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if not keep:
            drop_database(url)


def set_up_study() -> None:
    from backend.services.studies import create_site, create_study

    create_study(None, {"code": "BENCH", "title": "Enrolment benchmark"})
    for site in SITES:
        create_site(None, {**site, "study": "BENCH"})


def first_dose(n: int, today: date) -> date:
    """Two to fifteen days ago: cycle 1 day 1 is in the past, cycle 2 in the future."""
    return today - timedelta(days=2 + n % 14)


def enrol_all(patients: int, batch: int, today: date) -> tuple[float, dict[int, float]]:
    from backend.extensions import db
    from backend.services.patients import enrol_patient

    checkpoints = {max(1, patients // 5), patients}
    rss: dict[int, float] = {}
    started = time.perf_counter()
    for n in range(1, patients + 1):
        site = SITES[n % len(SITES)]["code"]
        enrol_patient(None, {"study": "BENCH", "site": site, "subject_id": f"B{n:06d}",
                             "regimen": REGIMENS[n % len(REGIMENS)], "first_dose_date": first_dose(n, today),
                             "locale": "en"}, commit=False)
        if n % batch == 0 or n == patients:
            db.session.commit()
            db.session.expunge_all()
        if n in checkpoints:
            rss[n] = rss_mib()
    return time.perf_counter() - started, rss


def copy_baseline(app, foreign_key: bool = True) -> tuple[int, float]:
    """Export the events (untimed), then time a binary COPY of them into an empty twin table."""
    from backend.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with tempfile.TemporaryFile() as dump:
                with conn.cursor() as cur:
                    with cur.copy("COPY events TO STDOUT (FORMAT BINARY)") as copy:
                        for chunk in copy:
                            dump.write(chunk)
                    # The same table as `events`: columns, defaults, checks, indexes and the foreign key.
                    cur.execute("CREATE TABLE events_copy_baseline (LIKE events INCLUDING ALL)")
                    if foreign_key:
                        cur.execute("ALTER TABLE events_copy_baseline ADD FOREIGN KEY (patient_id) REFERENCES patients (id)")
                    conn.commit()
                    count = cur.execute("SELECT count(*) FROM events").fetchone()[0]
                dump.seek(0)
                started = time.perf_counter()
                with conn.cursor() as cur:
                    with cur.copy("COPY events_copy_baseline FROM STDIN (FORMAT BINARY)") as copy:
                        while chunk := dump.read(1 << 20):
                            copy.write(chunk)
                conn.commit()
                elapsed = time.perf_counter() - started
            with conn.cursor() as cur:
                copied = cur.execute("SELECT count(*) FROM events_copy_baseline").fetchone()[0]
                cur.execute("DROP TABLE events_copy_baseline")
            conn.commit()
            assert copied == count, (copied, count)
        finally:
            raw.close()
    return count, elapsed


def replan_all(patients: int) -> tuple[float, int]:
    """One late cycle-1 day 1 per patient (two days after its protocol date), recorded and
    re-planned through the recording service, one transaction per patient."""
    import sqlalchemy as sa

    from backend.auth import Principal
    from backend.extensions import db
    from backend.models import Event, Patient
    from backend.models.base import new_id
    from backend.services.calendars import record_event

    admin = Principal(user_id=new_id(), role="admin")
    ids = list(db.session.scalars(sa.select(Patient.id).order_by(Patient.subject_id)))
    started = time.perf_counter()
    for patient_id in ids:
        patient = db.session.get(Patient, patient_id)
        event_id, protocol = db.session.execute(
            sa.select(Event.id, Event.protocol_date).where(Event.patient_id == patient_id, Event.key == "dose:C1D1")).one()
        record_event(admin, patient, str(event_id), {"status": "completed", "actual_date": protocol + timedelta(days=2),
                                                     "reason": "benchmark: late cycle 1"}, None)
        db.session.expunge_all()
    return time.perf_counter() - started, len(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=50, help="patients per commit (default 50)")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_enrollment"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--skip-replan", action="store_true")
    args = parser.parse_args()

    import sqlalchemy as sa

    from backend.extensions import db
    from backend.models import Event

    with scratch_app(args.database_url, args.keep) as app:
        with app.app_context():
            set_up_study()
            from backend.services.calendars import local_today

            today = local_today("Asia/Shanghai")
            print(f"enrolling {args.patients} patients ({', '.join(REGIMENS)} in turn), commit every {args.batch}")
            rss_before = rss_mib()
            elapsed, rss = enrol_all(args.patients, args.batch, today)
            events = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
        enrol_rate = events / elapsed
        print(f"  {events} events for {args.patients} patients ({events / args.patients:.0f} per patient) "
              f"in {elapsed:.1f} s: {enrol_rate:,.0f} events/s, {args.patients / elapsed:,.0f} patients/s")
        print(f"  RSS before {rss_before:.0f} MiB; " + "; ".join(
            f"after {n} patients {mib:.0f} MiB" for n, mib in sorted(rss.items())) + f"; peak {peak_rss_mib():.0f} MiB")

        count, copy_elapsed = copy_baseline(app)
        copy_rate = count / copy_elapsed
        ratio = enrol_rate / copy_rate
        print(f"raw binary COPY of the same {count} event rows: {copy_elapsed:.1f} s, {copy_rate:,.0f} events/s")
        print(f"enrolment / COPY = {ratio:.0%} (target >= 25%): {'OK' if ratio >= 0.25 else 'BELOW TARGET'}")
        _, bare_elapsed = copy_baseline(app, foreign_key=False)
        print(f"  for reference, COPY into a twin without the foreign key (no per-row check of the patient): "
              f"{count / bare_elapsed:,.0f} events/s, enrolment at {enrol_rate / (count / bare_elapsed):.0%} of it")

        if not args.skip_replan:
            with app.app_context():
                replan_elapsed, replanned = replan_all(args.patients)
            print(f"re-planned {replanned} patients after one late cycle-1 day 1 each in {replan_elapsed:.1f} s "
                  f"({replan_elapsed / replanned * 1000:.1f} ms per patient)")
        print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
