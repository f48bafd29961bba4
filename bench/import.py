"""CSV import throughput: the batched import against the importer of the day issue 10 was filed, in the same process.

    python bench/import.py [--rows 300] [--batch 100] [--api-path] [--database-url URL]

A standalone script, not a test. It creates a scratch PostgreSQL database, migrates it to head, and
imports `--rows` generated rows (the four regimens, a recorded cycle 1 day 1, a baseline scan and one
response; ~380 events each) with:

1. the baseline, "today's rate" of issue 10 item 8 (31 rows/s there): the importer of that day
   (commit 98633a4) planned, wrote and committed each patient on its own, its events in one COPY
   audited by one record, with nothing overlapped. Here that is the batched path's own steps, one
   patient per transaction, in the caller's thread: the same planning and writes, so the ratio
   measures batching and overlap alone. (The code of commit 98633a4 itself, run from a worktree on
   the same rows without the scans it could not import, measured 28.3 rows/s on the machine where
   this stand-in measured 30.5.)
2. `backend.services.imports.import_patients`, the code `flask patients import` runs, in batches of
   `--batch` (on PostgreSQL a writer thread stores each batch while the next is planned).
3. with `--api-path`, also what a batch the database refused falls back to: each row through the code
   of `POST /patients` and `POST /patients/{id}/assessments` (`imports.import_row`: one audit record
   per event, a re-plan per scan), one transaction per patient. For information: it is not the target.

Each run starts from its own empty scratch database, migrated to head. It prints rows per second of
each, the ratio of (2) to (1) and whether the target (10x) is met, and the process's RSS after each
run (a batch is the unit of memory and of transaction: neither grows with the file).
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
    """The importer of the day issue 10 was filed: each row planned, written (one COPY of its
    events, audited as one record) and committed before the next is read."""
    from backend.extensions import db
    from backend.services.imports import _Batch, _write

    planned = _Batch("bench.csv")
    for line, raw in rows:
        _write([planned.prepare(line, raw)])
        db.session.commit()
    return len(rows)


def api_path(rows, batch: int) -> int:
    """Each row as `POST /patients` and its assessments record it (what a refused batch falls back to)."""
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
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--api-path", action="store_true", help="also time the POST /patients path (slow)")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_import")
    args = parser.parse_args()
    results = {}
    try:
        runs = [("one transaction per patient", one_transaction_per_patient), (f"batches of {args.batch}", batched)]
        if args.api_path:
            runs.append(("POST /patients path", api_path))
        for label, run in runs:
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
        old, new = results["one transaction per patient"], results[f"batches of {args.batch}"]
        print(f"ratio batched / one transaction per patient: {new / old:.1f}x "
              f"(target >= 10x: {'met' if new / old >= 10 else 'NOT met'})")
    finally:
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
