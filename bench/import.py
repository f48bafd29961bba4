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
   `--batch`.

It prints rows per second of each, their ratio and whether the target (10x) is met, and the process's
peak RSS after each run (a batch is the unit of memory: it does not grow with the file).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.enrollment import drop_database, make_app, peak_rss_mib, recreate_database  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_import")
    args = parser.parse_args()
    recreate_database(args.database_url)
    app = make_app(args.database_url)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from backend.services.calendars import local_today
            from backend.extensions import db
            from backend.services.imports import import_patients, import_row
            from backend.services.studies import create_site, create_study

            upgrade()
            create_study(None, {"code": "BENCH", "title": "Import benchmark"})
            create_site(None, {"code": "BSH01", "name": "Shanghai", "study": "BENCH", "timezone": "Asia/Shanghai",
                               "country": "CN"})
            today = local_today("Asia/Shanghai")
            results = {}

            def one_transaction_per_patient(rows):
                for line, raw in rows:
                    import_row(line, raw, "bench.csv")
                    db.session.commit()

            for label, prefix, run in (
                    ("one transaction per patient", "OLD", one_transaction_per_patient),
                    (f"batches of {args.batch}", "NEW",
                     lambda rows: import_patients(rows, "bench.csv", batch_size=args.batch))):
                started = time.perf_counter()
                summary = run(rows(prefix, args.rows, today))
                elapsed = time.perf_counter() - started
                assert summary is None or summary.imported == args.rows, summary.rejected[:3]
                results[label] = args.rows / elapsed
                print(f"{label:>28}: {args.rows} rows in {elapsed:.1f} s = {results[label]:.1f} rows/s "
                      f"(peak RSS {peak_rss_mib():.0f} MiB)")
            old, new = results.values()
            print(f"ratio batched / one transaction per patient: {new / old:.1f}x "
                  f"(target >= 10x: {'met' if new / old >= 10 else 'NOT met'})")
    finally:
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
