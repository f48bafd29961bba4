"""Results endpoints on a study of 1,000 patients: response, efficacy and safety, against raw loads.

    python bench/results.py [--patients 1000] [--repeat 5] [--database-url URL] [--keep]

A standalone script, not a test. It creates its own scratch PostgreSQL database, migrates it to head,
inserts a study of N patients at three sites (four regimens; a baseline and 6-weekly scans with
responses, progression for some, deaths, new therapy, adverse events, weekly symptom reports and
completed doses), then, through the HTTP stack with an admin's token:

* GET /studies/BENCH/efficacy, GET /studies/BENCH/safety (the whole study), and
  GET /patients/{id}/response for one patient (median of ``--repeat`` runs each, target <= 200 ms);
* the baseline, in the same process: raw SELECTs of the very rows those answers read (assessments,
  outcomes, visits, adverse events, symptom reports of the study), timed alone; printed as the ratio
  endpoint / baseline, so the number travels between machines.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from enrollment import scratch_app  # noqa: E402

REGIMENS = ("INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR")
TARGET_MS = 200
CUTOFF = date(2026, 6, 30)
TERMS = (("Anemia", "10002272", "Blood and lymphatic system disorders"),
         ("Nausea", "10028813", "Gastrointestinal disorders"),
         ("Alopecia", "10001760", "Skin and subcutaneous tissue disorders"))


def populate(patients: int, seed: int = 7) -> uuid.UUID:
    """Insert the study; returns one patient's id. Core inserts: set-up speed is not what is measured."""
    import sqlalchemy as sa

    from backend.extensions import db
    from backend.models import (AdverseEvent, AuditRecord, Event, Patient, PatientOutcome, SymptomReport,
                                TumourAssessment)
    from backend.services.studies import create_site, create_study

    rng = random.Random(seed)
    study = create_study(None, {"code": "BENCH", "title": "Results benchmark"})
    sites = [create_site(None, {"code": f"R{n}", "name": f"Site {n}", "study": "BENCH", "timezone": "Asia/Shanghai",
                                "country": "CN"}) for n in range(3)]
    rows: dict[type, list[dict]] = {m: [] for m in (Patient, TumourAssessment, PatientOutcome, Event,
                                                   AdverseEvent, SymptomReport)}
    for n in range(patients):
        pid, site = uuid.uuid4(), sites[n % 3]
        first = date(2025, 1, 6) + timedelta(days=rng.randint(0, 400))
        rows[Patient].append({"id": pid, "study_id": study.id, "site_id": site.id, "subject_id": f"B{n:05d}",
                              "regimen": REGIMENS[n % 4], "first_dose_date": first, "locale": "en",
                              "status": "on_treatment"})
        rows[TumourAssessment].append({"patient_id": pid, "date": first - timedelta(days=3), "baseline": True,
                                       "scan_dates": []})
        course = rng.choice(["PR", "SD", "PD", "CR"])
        for k in range(1, 12):
            day = first + timedelta(days=42 * k + rng.randint(-5, 5))
            response = "PD" if course == "PD" and k == 3 else course if k > 1 else "SD"
            rows[TumourAssessment].append({"patient_id": pid, "date": day, "overall_response": response,
                                           "baseline": False, "scan_dates": []})
            if response == "PD":
                break
        if rng.random() < 0.2:
            rows[PatientOutcome].append({"patient_id": pid, "type": "death",
                                         "date": first + timedelta(days=rng.randint(100, 500))})
        for c in range(8):
            day = first + timedelta(days=21 * c)
            rows[Event].append({"patient_id": pid, "key": f"dose:C{c + 1}D1", "kind": "dose", "cycle": c + 1, "day": 1,
                                "label": f"Cycle {c + 1} Day 1", "agents": [], "protocol_date": day, "target_date": day,
                                "window_start": day, "window_end": day, "flags": [], "status": "completed",
                                "actual_date": day})
        for _ in range(rng.randint(0, 4)):
            term, code, soc = rng.choice(TERMS)
            rows[AdverseEvent].append({"patient_id": pid, "site_id": site.id, "ctcae_term": term, "meddra_code": code,
                                       "soc": soc, "grade": rng.randint(1, 3), "serious": rng.random() < 0.1,
                                       "related": True, "action_taken": rng.choice(("dose_not_changed", "dose_reduced")),
                                       "onset_date": first + timedelta(days=rng.randint(0, 200))})
        for week in range(12):
            day = first + timedelta(days=7 * week)
            rows[SymptomReport].append({
                "patient_id": pid, "client_report_id": uuid.uuid4(), "local_date": day, "entered_by_role": "patient",
                "completed_at": datetime(day.year, day.month, day.day, 2, tzinfo=timezone.utc), "answers": {},
                "symptoms": [{"term": "Nausea", "composite_grade": rng.randint(0, 3)}], "unscheduled": False})
    audits = []
    for model, values in rows.items():
        for value in values:
            value.setdefault("id", uuid.uuid4())
            audits.append({"role": "system", "action": "create", "entity": model.__tablename__,
                           "entity_id": str(value["id"]), "changes": {}, "reason": "benchmark set-up"})
        for start in range(0, len(values), 5000):
            db.session.execute(sa.insert(model), values[start:start + 5000])
    for start in range(0, len(audits), 5000):  # every change to clinical data is audited in its transaction
        db.session.execute(sa.insert(AuditRecord), audits[start:start + 5000])
    db.session.commit()
    # Planner statistics, as autovacuum would have gathered them on a live database: without them the
    # first minutes after a bulk load are planned as if the tables were empty.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("ANALYZE"))
    return rows[Patient][0]["id"]


def baseline_load(patient_ids: list[uuid.UUID]) -> None:
    """The rows the three answers read, fetched raw."""
    import sqlalchemy as sa

    from backend.extensions import db

    for table, column in (("tumour_assessments", "date"), ("patient_outcomes", "date"), ("events", "actual_date"),
                          ("adverse_events", "onset_date"), ("symptom_reports", "local_date")):
        db.session.execute(sa.text(f"SELECT * FROM {table} WHERE patient_id = ANY(:ids) AND {column} <= :cutoff"),
                           {"ids": patient_ids, "cutoff": CUTOFF}).all()


def timed(call, repeat: int) -> float:
    return timed_cpu(call, repeat)[0]


def timed_cpu(call, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (ms). On a shared machine the wall time
    includes waiting for a core; the CPU time does not (nor PostgreSQL's own work)."""
    runs, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        runs.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(runs), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/cadence_bench_results"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    import sqlalchemy as sa

    from backend.extensions import db
    from backend.models import Patient, User
    from backend.services.auth import issue_tokens

    with scratch_app(args.database_url, args.keep) as app:
        with app.app_context():
            one = populate(args.patients)
            admin = User(username="bench-admin", role="admin", is_active=True, password_hash="!unusable")
            db.session.add(admin)
            db.session.commit()
            with app.test_request_context():  # a real sign-in: access tokens name their sign-in (`sid`)
                headers = {"Authorization": f"Bearer {issue_tokens(admin)['access_token']}"}
                db.session.commit()
            ids = list(db.session.scalars(sa.select(Patient.id)))
            base = timed(lambda: baseline_load(ids), args.repeat)
        client = app.test_client()

        def request(url: str):
            def call():
                answer = client.get(url, headers=headers)
                assert answer.status_code == 200, answer.get_data(as_text=True)[:200]
            return call

        print(f"{args.patients} patients; baseline (raw SELECT of the rows read): {base:.1f} ms")
        worst = 0.0
        for name, url in (("response", f"/api/v1/patients/{one}/response?cutoff={CUTOFF}"),
                          ("efficacy", f"/api/v1/studies/BENCH/efficacy?cutoff={CUTOFF}"),
                          ("safety", f"/api/v1/studies/BENCH/safety?cutoff={CUTOFF}")):
            request(url)()  # warm
            elapsed, cpu = timed_cpu(request(url), args.repeat)
            worst = max(worst, elapsed)
            print(f"  {name:9} {elapsed:7.1f} ms (this process's CPU {cpu:6.1f} ms)  "
                  f"ratio to baseline {elapsed / base:5.1f}x  "
                  f"{'OK' if elapsed <= TARGET_MS else 'ABOVE TARGET'} (target <= {TARGET_MS} ms)")
        print(f"worst {worst:.1f} ms: {'OK' if worst <= TARGET_MS else 'ABOVE TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
