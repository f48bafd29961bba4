"""CSV import throughput: the batched, set-based import against the importer before it, in the same process.

    python bench/import.py [--rows 400] [--batch 100] [--database-url URL]

A standalone script, not a test. It creates a scratch PostgreSQL database, migrates it to head, and
imports `--rows` generated rows (the four regimens, a recorded cycle 1 day 1, a baseline scan and one
response) twice:

1. the baseline, "today's rate" of issue 10 item 8: each row enrolled through the code a single
   `POST /patients` runs (`enrol_patient`) and its scans through the code of
   `POST /patients/{id}/assessments` (`add_assessment`, a re-plan per scan), one transaction per
   patient (`backend.services.imports.import_row`, then COMMIT);
2. `backend.services.imports.import_patients`, the code `flask patients import` runs, in batches of
   `--batch` (on PostgreSQL a writer thread stores each batch while the next is planned).

Each run starts from its own empty scratch database, migrated to head: both paths meet the same
audit checks (since 0009_event_inserts, one set-based check per INSERT or COPY of events, which the
baseline's enrolments gain from too). It prints rows per second of each, their ratio and
whether the target (10x) is met, and the process's RSS after each run (a batch is the unit of memory and
of transaction: neither grows with the file).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.enrollment import drop_database, make_app, peak_rss_mib, recreate_database, rss_mib  # noqa: E402

REGIMENS = ("INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR")


def rows(prefix: str, count: int, today) -> list[tuple[int, dict[str, str]]]:
    out = []
    for n in range(count):
        first = today - timedelta(days=50 + n % 20)
        visits = f"C1D1={first};BL={first - timedelta(days=7)};A1={first + timedelta(days=42)}:SD"
        out.append((n + 2, {"study": "BENCH", "site": "BSH01", "subject_id": f"{prefix}-{n:06d}",
                            "regimen": REGIMENS[n % 4], "first_dose_date": first.isoformat(), "timezone": "",
                            "locale": "en", "visits": visits}))
    return out


def scratch_app(url: str):
    """A fresh database for each run (both start from empty tables), migrated, with the study and site."""
    recreate_database(url)
    app = make_app(url)
    with app.app_context():
        from flask_migrate import upgrade

        from backend.services.studies import create_site, create_study

        upgrade()
        create_study(None, {"code": "BENCH", "title": "Import benchmark"})
        create_site(None, {"code": "BSH01", "name": "Shanghai", "study": "BENCH", "timezone": "Asia/Shanghai",
                           "country": "CN"})
    return app


def one_transaction_per_patient(rows, batch: int) -> int:
    """The importer before batching: each row as a single `POST /patients` (and its assessments) would
    record it, then COMMIT."""
    from backend.extensions import db
    from backend.services.imports import import_row

    for line, raw in rows:
        import_row(line, raw, "bench.csv")
        db.session.commit()
    return len(rows)


def batched(rows, batch: int) -> int:
    from backend.services.imports import import_patients

    summary = import_patients(rows, "bench.csv", batch_size=batch)
    assert not summary.rejected, summary.rejected[:3]
    return summary.imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_import")
    args = parser.parse_args()
    results = {}
    try:
        for label, run in (("one transaction per patient", one_transaction_per_patient),
                           (f"batches of {args.batch}", batched)):
            app = scratch_app(args.database_url)
            with app.app_context():
                from backend.extensions import db
                from backend.services.calendars import local_today

                work = rows("P", args.rows, local_today("Asia/Shanghai"))
                started = time.perf_counter()
                imported = run(work, args.batch)
                elapsed = time.perf_counter() - started
                assert imported == args.rows
                results[label] = args.rows / elapsed
                print(f"{label:>28}: {args.rows} rows in {elapsed:.1f} s = {results[label]:.1f} rows/s "
                      f"(RSS now {rss_mib():.0f} MiB, peak {peak_rss_mib():.0f} MiB)")
                db.engine.dispose()
        old, new = results.values()
        print(f"ratio batched / one transaction per patient: {new / old:.1f}x "
              f"(target >= 10x: {'met' if new / old >= 10 else 'NOT met'})")
    finally:
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
