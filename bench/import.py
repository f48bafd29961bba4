"""CSV import throughput: batched import against the one-patient-one-commit path, in the same process.

    python bench/import.py [--rows 400] [--batch 200] [--database-url URL]

A standalone script, not a test. It creates a scratch PostgreSQL database, migrates it to head, and
imports `--rows` generated rows (the four regimens, a recorded cycle 1 day 1, a baseline scan and one
response) twice through `backend.services.patients.import_patients`, the code `flask patients import`
runs: first committing after every patient (`batch_size=1`, the old path), then in batches of
`--batch` with a savepoint per patient. It prints rows per second of each and their ratio.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.enrollment import drop_database, make_app, recreate_database  # noqa: E402

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
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_import")
    args = parser.parse_args()
    recreate_database(args.database_url)
    app = make_app(args.database_url)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from backend.services.calendars import local_today
            from backend.services.patients import import_patients
            from backend.services.studies import create_site, create_study

            upgrade()
            create_study(None, {"code": "BENCH", "title": "Import benchmark"})
            create_site(None, {"code": "BSH01", "name": "Shanghai", "study": "BENCH", "timezone": "Asia/Shanghai",
                               "country": "CN"})
            today = local_today("Asia/Shanghai")
            results = {}
            for label, prefix, batch in (("one commit per patient", "OLD", 1), (f"batches of {args.batch}", "NEW",
                                                                                   args.batch)):
                started = time.perf_counter()
                summary = import_patients(rows(prefix, args.rows, today), "bench.csv", batch_size=batch)
                elapsed = time.perf_counter() - started
                assert summary.imported == args.rows, summary.rejected[:3]
                results[label] = args.rows / elapsed
                print(f"{label:>24}: {args.rows} rows in {elapsed:.1f} s = {results[label]:.1f} rows/s")
            old, new = results.values()
            print(f"ratio batched / one-at-a-time: {new / old:.2f}x")
    finally:
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
