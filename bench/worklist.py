"""A site's worklist at 2,000 patients: time per request against a trivial indexed query.

    python bench/worklist.py [--patients 2000] [--requests 20] [--database-url URL] [--keep]

A standalone script, not a test. It creates its own scratch PostgreSQL database, migrates it to head,
enrols `--patients` patients at one site through the enrolment service (the four regimens in turn,
first doses spread over the past year), records baselines and a scan for most of them, and records
every visit and survey more than two days old as done except for one patient in twenty (data entry
lagging: their visits are overdue and their surveys unanswered), so every kind of row occurs. Then, in
the same process, it times:

1. the worklist service (`backend.services.worklists.worklist_rows`, what
   `GET /sites/{code}/worklist` runs minus HTTP and serialisation), `--requests` times;
2. the baseline: one indexed primary-key lookup of the site's first patient, as many times.

It prints milliseconds per request for both, the ratio, the number of rows and the number of SQL
statements one worklist request runs (constant in the number of patients: no query per patient).
Target: p95 <= 100 ms per worklist request at 2,000 patients (the mean and the p95 are printed).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.enrollment import scratch_app  # noqa: E402

REGIMENS = ("INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR")


def populate(patients: int, today: date) -> None:
    from backend.extensions import db
    from backend.models import Patient, TumourAssessment
    from backend.services.patients import enrol_patient
    from backend.services.studies import create_site, create_study

    create_study(None, {"code": "WLBENCH", "title": "Worklist benchmark"})
    create_site(None, {"code": "WL01", "name": "Worklist site", "timezone": "Asia/Shanghai", "country": "CN",
                       "study": "WLBENCH"})
    for n in range(patients):
        patient = enrol_patient(None, {"study": "WLBENCH", "site": "WL01", "subject_id": f"W{n:05d}",
                                       "regimen": REGIMENS[n % len(REGIMENS)],
                                       "first_dose_date": today - timedelta(days=n % 365), "locale": "en"},
                                commit=False)
        if n % 10:  # one in ten has no baseline
            db.session.add(TumourAssessment(patient_id=patient.id, date=patient.first_dose_date - timedelta(days=7),
                                            baseline=True))
        if n % 3 == 0 and patient.first_dose_date + timedelta(days=42) < today:
            db.session.add(TumourAssessment(patient_id=patient.id, date=patient.first_dose_date + timedelta(days=42),
                                            overall_response="SD"))
        if n % 50 == 49:
            db.session.commit()
            db.session.expunge_all()
    db.session.commit()
    db.session.expunge_all()
    assert db.session.query(Patient).count() == patients
    record_the_past(today)


def record_the_past(today: date) -> None:
    """As a site does: visits and surveys more than two days past are recorded (as done on their day),
    except for one patient in twenty whose data entry lags (nothing recorded at all)."""
    from backend.extensions import db
    from backend.models import Event, Patient
    from backend.models.audit import record, record_many

    lagging = sa.select(Patient.id).where(sa.func.right(Patient.subject_id, 2).in_(["00", "20", "40", "60", "80"]))
    result = db.session.execute(
        sa.update(Event).where(Event.status == "planned", Event.kind.in_(("dose", "tumor_assessment", "symptom_survey")),
                               Event.window_end < today - timedelta(days=2), Event.patient_id.not_in(lagging))
        .values(status="completed", actual_date=Event.target_date, version=Event.version + 1)
        .execution_options(synchronize_session=False))
    # The audit trail needs a record for each patient whose events changed (a deferred trigger checks it).
    record_many(db.session, action="update", entity="events", changes_by_id={
        str(pid): {"recorded": "past visits (bench set-up)"}
        for pid in db.session.scalars(sa.select(Patient.id).where(Patient.id.not_in(lagging)))})
    record(db.session, action="update", entity="events", entity_id="bench",
           changes={"events_recorded": result.rowcount})
    db.session.commit()


def time_it(fn, requests: int) -> tuple[float, float]:
    """(mean, p95) milliseconds per call, after one warm-up call."""
    fn()  # warm caches (compiled statements, the identity map's study)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return sum(samples) / len(samples), samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_worklist"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from backend.extensions import db
    from backend.models import Patient, Site

    with scratch_app(args.database_url, args.keep) as app:
        with app.app_context():
            from backend.services.calendars import local_today
            from backend.services.worklists import worklist_rows

            today = local_today("Asia/Shanghai")
            started = time.perf_counter()
            populate(args.patients, today)
            print(f"set-up: {args.patients} patients in {time.perf_counter() - started:.1f} s")
            db.session.commit()
            # Statistics and clean indexes, as autovacuum would leave them after the bulk recording.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE"))
            site = db.session.scalar(sa.select(Site).where(Site.code == "WL01"))
            first = db.session.scalar(sa.select(Patient.id).where(Patient.site_id == site.id).limit(1))

            statements = []

            def count(*_args, **_kwargs):
                statements.append(1)

            sa.event.listen(db.engine, "before_cursor_execute", count)
            rows = worklist_rows(site, today)
            sa.event.remove(db.engine, "before_cursor_execute", count)

            worklist_ms, worklist_p95 = time_it(lambda: worklist_rows(site, today), args.requests)
            baseline_ms, _ = time_it(lambda: db.session.execute(
                sa.select(Patient.id, Patient.subject_id).where(Patient.id == first)).one(), args.requests)
            kinds: dict[str, int] = {}
            for row in rows:
                kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
            print(f"worklist: {worklist_ms:.1f} ms per request, p95 {worklist_p95:.1f} ms ({len(rows)} rows: {kinds}; "
                  f"{len(statements)} SQL statements)")
            print(f"baseline (indexed lookup): {baseline_ms:.3f} ms per request")
            print(f"ratio worklist / baseline: {worklist_ms / baseline_ms:.0f}x; target p95 <= 100 ms: "
                  f"{'met' if worklist_p95 <= 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
