"""`flask patients import FILE.csv`: an existing trial's patients with the visits they already had;
all or nothing per patient, rejected rows listed with their reason."""
from __future__ import annotations

import csv
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.models import AuditRecord, Event, Patient
from tests.factories import SiteFactory, StudyFactory
from tests.factories_patients import events_by_key, site_today

D = timedelta
COLUMNS = ["study", "site", "subject_id", "regimen", "first_dose_date", "timezone", "locale", "visits"]


@pytest.fixture()
def site(db):
    SiteFactory(code="OTHER01")
    return SiteFactory(code="SH01", study=StudyFactory(code="INET-RWS"))


def write(path, rows, columns=COLUMNS):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


REGIMEN_MIX = ["INET-PER-DOC"] * 7 + ["INET-PAC", "INET-PAC-PER", "INET-PYR-VNR"]


def row(site_, n, **changes):
    first_dose = site_today(site_) - D(days=n % 60)
    data = {"study": "INET-RWS", "site": "SH01", "subject_id": f"SH01-{n:04d}", "regimen": REGIMEN_MIX[n % 10],
            "first_dose_date": first_dose.isoformat(), "timezone": "", "locale": "zh-CN" if n % 2 else "",
            "visits": f"C1D1={first_dose.isoformat()}" if n % 60 else ""}
    data.update(changes)
    return data


# (rule, the row's changes given today and its first dose, what the rejection says)
BAD_ROWS = [
    ("unknown regimen", lambda today, fd: {"regimen": "FOLFOX"}, "regimen"),
    ("site of another study", lambda today, fd: {"site": "OTHER01"}, "site"),
    ("first dose not a date", lambda today, fd: {"first_dose_date": "05/01/2026"}, "first_dose_date"),
    ("visit token unknown", lambda today, fd: {"visits": "X1=2026-01-01"}, "visits"),
    ("visit in the future", lambda today, fd: {"visits": f"C1D1={today + D(1)}"}, "in the future"),
    ("visit not in the calendar", lambda today, fd: {"visits": f"C99D1={fd}"}, "not in this patient's calendar"),
    ("visits out of order", lambda today, fd: {"visits": f"C1D1={fd + D(3)};C2D1={fd + D(2)}"},
     "before the previous visit"),
    ("missed visit with a date", lambda today, fd: {"visits": f"C1D1={fd}:missed"}, "no date"),
    ("cycle 1 day 1 in year 1 (would plan a century of visits)", lambda today, fd: {"visits": "C1D1=0001-01-01"},
     "before the screening period"),
    ("a visit before the first dose", lambda today, fd: {"visits": f"C1D1={fd - D(20)}"},
     "before the first dose"),
    ("first dose a century ago", lambda today, fd: {"first_dose_date": "1926-01-05"}, "first_dose_date"),
    ("bad locale", lambda today, fd: {"locale": "fr"}, "locale"),
]


def test_a_500_patient_file_imports_with_rejections_reported(runner, site, tmp_path):
    from backend.extensions import db

    today, fd = site_today(site), site_today(site) - D(20)
    rows = [row(site, n) for n in range(1, 501)]
    bad_lines = {}
    for n, (rule, changes, says) in enumerate(BAD_ROWS, start=1):
        index = n * 37
        rows[index] = row(site, index + 1, **{"first_dose_date": fd.isoformat(), **changes(today, fd)})
        bad_lines[index + 2] = (rule, says, rows[index]["subject_id"])  # + header, 1-based
    rows.append(dict(rows[0]))  # the same subject twice
    bad_lines[len(rows) + 1] = ("duplicate subject", "already enrolled", rows[0]["subject_id"])
    path = write(tmp_path / "patients.csv", rows)

    result = runner.invoke(args=["patients", "import", str(path)])

    assert result.exit_code == 1, result.output
    assert f"imported {500 - len(BAD_ROWS)} patient(s); rejected {len(BAD_ROWS) + 1}" in result.output
    report = result.output.split("; rejected", 1)[1].splitlines()
    for line, (rule, says, _) in bad_lines.items():
        found = [text for text in report if text.strip().startswith(f"line {line} ")]
        assert found and says in found[0], (rule, found)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 500 - len(BAD_ROWS)
    rejected = [subject for line, (_, _, subject) in bad_lines.items() if line <= 501]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)
                             .where(Patient.subject_id.in_(rejected))) == 0  # nothing half-written
    completed = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.status == "completed"))
    assert completed == sum(1 for r in rows[:500] if r["subject_id"] not in rejected and r["visits"])


def test_imported_visits_shape_the_calendar_and_are_audited(runner, site, tmp_path):
    from backend.extensions import db

    today = site_today(site)
    fd = today - D(30)
    visits = f"C1D1={(fd + D(2)).isoformat()};C1D8=held;C1D15={(fd + D(16)).isoformat()}:completed;S1=missed"
    path = write(tmp_path / "one.csv", [row(site, 1, first_dose_date=fd.isoformat(), regimen="INET-PAC",
                                              visits=visits, timezone="Europe/London")])
    result = runner.invoke(args=["patients", "import", str(path)])
    assert result.exit_code == 0, result.output
    patient = db.session.scalar(sa.select(Patient).where(Patient.subject_id == "SH01-0001"))
    assert patient.timezone == "Europe/London" and patient.locale == "zh-CN"
    events = events_by_key(patient.id)
    assert (events["dose:C1D1"].status, events["dose:C1D1"].actual_date) == ("completed", fd + D(2))
    assert events["dose:C1D8"].status == "held" and events["survey:1"].status == "missed"
    assert events["dose:C2D1"].protocol_date == fd + D(23)  # the late day 1 moved cycle 2
    audit = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity_id == str(patient.id))).all()
    assert {a.entity for a in audit} == {"patients", "events"}
    assert all(a.reason.startswith(f"imported from {path}") and a.role == "system" for a in audit)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == len(events)


@pytest.mark.parametrize(("header", "message"), [
    pytest.param(COLUMNS + ["diagnosis"], "unknown column(s): diagnosis", id="unknown-column"),
    pytest.param([c for c in COLUMNS if c != "regimen"], "missing column(s): regimen", id="missing-column"),
])
def test_a_file_with_wrong_columns_is_refused_before_anything_is_written(runner, site, tmp_path, header, message):
    path = write(tmp_path / "bad.csv", [], header)
    result = runner.invoke(args=["patients", "import", str(path)])
    assert result.exit_code != 0 and message in result.output
