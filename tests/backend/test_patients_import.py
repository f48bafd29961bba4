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


def test_imported_visits_shape_the_calendar_and_are_audited(runner, site, tmp_path, client, auth):
    """The patient has its audit record; the calendar has one record, under the patient's id, naming
    every event it created (by column), which the trail of each event includes."""
    from backend.extensions import db
    from tests.factories import UserFactory

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
    ids = [str(patient.id), *(str(e.id) for e in events.values())]
    audit = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity_id.in_(ids))).all()
    assert sorted((a.entity, a.entity_id) for a in audit) == [("events", ids[0]), ("patients", ids[0])]
    calendar = next(a for a in audit if a.entity == "events")
    created = calendar.changes["events"]["after"]
    assert calendar.action == "create" and set(created["id"]) == set(ids[1:])
    c1d1 = created["key"].index("dose:C1D1")
    assert (created["status"][c1d1], created["actual_date"][c1d1]) == ("completed", (fd + D(2)).isoformat())
    assert all(a.reason == f"imported from {path}, line 2" and a.role == "system" for a in audit)
    created_patient = next(a for a in audit if a.entity == "patients").changes
    assert (created_patient["study_id"]["after"], created_patient["site_id"]["after"]) == (
        str(site.study_id), str(site.id))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == len(events)
    trail = client.get(f"/api/v1/audit?entity=event&id={events['dose:C2D1'].id}",
                       headers=auth.headers(UserFactory(role="admin"))).get_json()
    assert [(entry["entity"], entry["entity_id"]) for entry in trail] == [("events", ids[0])]


@pytest.mark.parametrize(("header", "message"), [
    pytest.param(COLUMNS + ["diagnosis"], "unknown column(s): diagnosis", id="unknown-column"),
    pytest.param([c for c in COLUMNS if c != "regimen"], "missing column(s): regimen", id="missing-column"),
])
def test_a_file_with_wrong_columns_is_refused_before_anything_is_written(runner, site, tmp_path, header, message):
    path = write(tmp_path / "bad.csv", [], header)
    result = runner.invoke(args=["patients", "import", str(path)])
    assert result.exit_code != 0 and message in result.output


# -- issue 9 item 6 and issue 10 item 8 ---------------------------------------------------------------

def test_imported_baseline_and_responses_count_for_pfs_as_if_recorded_through_the_api(runner, site, tmp_path, client,
                                                                                      auth):
    """`BL=date` is the baseline scan and `A1=date:SD` an assessment with its response: both reach
    /assessments, and PFS counts the scan (ongoing, censored at it) instead of calling it missed."""
    from tests.factories import staff_for

    today = site_today(site)
    first_dose = today - D(days=60)
    scan = first_dose + D(days=42)
    path = write(tmp_path / "scans.csv", [row(site, 1, subject_id="SH01-0900", regimen="INET-PAC",
                                              first_dose_date=first_dose.isoformat(),
                                              visits=f"C1D1={first_dose};BL={first_dose - D(days=7)};A1={scan}:sd")])
    result = runner.invoke(args=["patients", "import", str(path)])
    assert result.exit_code == 0, result.output
    from backend.extensions import db
    patient = db.session.scalars(sa.select(Patient).where(Patient.subject_id == "SH01-0900")).one()
    headers = auth.headers(staff_for(site)["coordinator"])
    recorded = client.get(f"/api/v1/patients/{patient.id}/assessments", headers=headers).get_json()
    assert sorted((a["date"], a["baseline"], a["overall_response"]) for a in recorded) == sorted([
        ((first_dose - D(days=7)).isoformat(), True, None), (scan.isoformat(), False, "SD")])
    pfs = client.get(f"/api/v1/patients/{patient.id}/pfs", headers=headers).get_json()
    assert (pfs["reason"], pfs["last_adequate_assessment"]) == ("ongoing", scan.isoformat())
    assert pfs["visits"][0]["status"] != "missed"


@pytest.mark.parametrize("visits", [
    pytest.param(lambda fd: f"C1D1={fd};BL={fd - D(7)};A1={fd + D(42)}:SD", id="stable-disease"),
    pytest.param(lambda fd: f"C1D1={fd + D(2)};A1={fd + D(40)}:PR;A2={fd + D(84)}:PD", id="progression-stops-imaging"),
    pytest.param(lambda fd: f"C1D1={fd};A1={fd + D(20)}:SD", id="scan-outside-any-window"),
])
def test_an_imported_calendar_is_the_one_the_api_would_have_built(runner, site, tmp_path, visits):
    """Planned once in memory, the import ends with the calendar of the same patient enrolled through
    `POST /patients` and then given each assessment through `POST /patients/{id}/assessments` (a scan
    completes the visit whose window holds it; a PD stops the imaging clock), minus the events that
    path creates and then cancels; and the same assessments."""
    from backend.extensions import db
    from backend.models import TumourAssessment
    from backend.services.imports import import_row

    fd = site_today(site) - D(days=120)
    csv_row = row(site, 1, regimen="INET-PAC", first_dose_date=fd.isoformat(), visits=visits(fd))
    import_row(3, {**csv_row, "subject_id": "SH01-STEP"}, "step.csv")  # one step at a time, as the API would
    db.session.commit()
    result = runner.invoke(args=["patients", "import", str(write(tmp_path / "one.csv", [csv_row]))])
    assert result.exit_code == 0, result.output

    def calendar(subject):
        patient = db.session.scalar(sa.select(Patient).where(Patient.subject_id == subject))
        events = {key: (e.kind, e.protocol_date, e.target_date, e.window_start, e.window_end, e.status,
                        e.actual_date, e.agents, e.flags)
                  for key, e in events_by_key(patient.id).items() if e.status != "cancelled"}
        scans = sorted((a.date, a.baseline, a.overall_response) for a in db.session.scalars(
            sa.select(TumourAssessment).where(TumourAssessment.patient_id == patient.id)))
        return events, scans

    assert calendar("SH01-0001") == calendar("SH01-STEP")


def test_a_batch_the_database_refuses_is_imported_one_patient_at_a_time(site, monkeypatch):
    """A subject enrolled through the API after the import read its study: the batch's flush fails, and
    that batch goes one patient at a time, each all or nothing: the others are imported, the subject
    is rejected as already enrolled."""
    from backend.extensions import db
    from backend.services import imports
    from backend.services.patients import enrol_patient

    rows = [(n + 2, row(site, n)) for n in range(1, 4)]
    prepare = imports._Batch.prepare

    def meanwhile(self, line, raw):
        prepared = prepare(self, line, raw)
        if line == 3:  # enrolled elsewhere once the import has checked the row
            enrol_patient(None, {"study": "INET-RWS", "site": "SH01", "subject_id": raw["subject_id"],
                                 "regimen": "INET-PAC", "first_dose_date": site_today(site), "force": True})
        return prepared

    monkeypatch.setattr(imports._Batch, "prepare", meanwhile)
    summary = imports.import_patients(rows, "race.csv")
    assert summary.imported == 2 and [(line, subject) for line, subject, _ in summary.rejected] == [(3, "SH01-0001")]
    assert "already enrolled" in summary.rejected[0][2]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.patient_id.in_(sa.select(Patient.id).where(Patient.subject_id.in_(["SH01-0002", "SH01-0003"]))))) > 0


def test_an_interrupted_import_keeps_whole_batches_and_a_re_run_imports_the_rest(site, monkeypatch):
    """Stopped (Ctrl-C) while its third batch is planned, an import keeps every batch it had begun to
    store, whole (each patient with their calendar and audit records), and nothing of the others;
    the same file run again skips those subjects and imports the rest."""
    from backend.extensions import db
    from backend.services import imports

    rows = [(n + 2, row(site, n)) for n in range(1, 8)]
    prepare = imports._Batch.prepare

    def interrupted(self, line, raw):
        if line == 7:
            raise KeyboardInterrupt
        return prepare(self, line, raw)

    monkeypatch.setattr(imports._Batch, "prepare", interrupted)
    with pytest.raises(KeyboardInterrupt):
        imports.import_patients(rows, "big.csv", batch_size=2)
    stored = db.session.scalars(sa.select(Patient).order_by(Patient.subject_id)).all()
    # the first batch was being stored; the second was stored or still waiting (then dropped)
    assert [p.subject_id for p in stored] in (["SH01-0001", "SH01-0002"],
                                              ["SH01-0001", "SH01-0002", "SH01-0003", "SH01-0004"])
    for patient in stored:
        assert events_by_key(patient.id)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
            AuditRecord.entity_id == str(patient.id))) == 2  # the patient and their calendar

    monkeypatch.undo()
    summary = imports.import_patients(rows, "big.csv", batch_size=2)
    assert (summary.imported, len(summary.skipped), summary.rejected) == (7 - len(stored), len(stored), [])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 7


def test_a_defect_while_storing_a_batch_stops_the_import_and_leaves_nothing_of_that_batch(site, monkeypatch):
    from backend.extensions import db
    from backend.services import imports

    def defect(rows):
        raise RuntimeError("a defect")

    monkeypatch.setattr(imports, "_write", defect)
    with pytest.raises(RuntimeError, match="a defect"):
        imports.import_patients([(n + 2, row(site, n)) for n in range(1, 6)], "x.csv", batch_size=2)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_an_assessment_with_a_bad_response_rejects_the_whole_subject(runner, site, tmp_path):
    path = write(tmp_path / "bad.csv", [row(site, 2, visits="A1=2026-01-01:XX")])
    result = runner.invoke(args=["patients", "import", str(path)])
    assert result.exit_code == 1 and "response" in result.output
    from backend.extensions import db
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0


def test_re_running_a_file_skips_the_subjects_already_imported_and_says_so(runner, site, tmp_path):
    path = write(tmp_path / "again.csv", [row(site, n) for n in range(1, 6)])
    first = runner.invoke(args=["patients", "import", str(path)])
    assert first.exit_code == 0 and "imported 5 patient(s)" in first.output, first.output
    again = runner.invoke(args=["patients", "import", str(path)])
    assert again.exit_code == 0, again.output
    assert "imported 0 patient(s); rejected 0; skipped 5 already imported" in again.output
    assert again.output.count("already imported, skipped") == 5


def test_import_help_works_without_secrets(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SECRET_KEY", "CADENCE_DEMO",
                                                            "CADENCE_TESTING"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'help.sqlite3'}"
    flask = str(Path(sys.executable).parent / "flask")
    for args in (["--help"], ["patients", "import", "--help"], ["users", "create", "--help"]):
        result = subprocess.run([flask, "--app", "wsgi", *args], cwd=root, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert "A1=2026-11-16:SD" in subprocess.run([flask, "--app", "wsgi", "patients", "import", "--help"], cwd=root,
                                                 env=env, capture_output=True, text=True).stdout
