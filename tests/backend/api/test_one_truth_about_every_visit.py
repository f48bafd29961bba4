"""Every view of a visit agrees (issue 9): on the demo data set, for every demo patient, the calendar,
the `.ics` feed, PFS visits, the subject-visits CSV, reconciliation and the worklist show each visit
with the same state, days overdue and dates."""
from __future__ import annotations

import csv
import io

import icalendar
import pytest
import sqlalchemy as sa

from backend.models import Patient, Site, Study, User

VISIT_KINDS = ("dose", "tumor_assessment", "symptom_survey")


@pytest.fixture()
def demo(db):
    from backend.services.demo import load_demo

    load_demo()
    patients = list(db.session.scalars(sa.select(Patient).order_by(Patient.subject_id)))
    assert len(patients) >= 7
    return patients


@pytest.fixture()
def admin_headers(auth, demo, db):
    return auth.headers(db.session.scalar(sa.select(User).where(User.username == "admin")))


def _csv(client, headers, study):
    answer = client.get(f"/api/v1/studies/{study}/exports/subject-visits.csv", headers=headers)
    assert answer.status_code == 200
    return {row["EVENTID"]: row for row in csv.DictReader(io.StringIO(answer.get_data(as_text=True)))}


def test_every_view_of_every_demo_visit_agrees(client, demo, admin_headers, db):
    studies = {s.id: s.code for s in db.session.scalars(sa.select(Study))}
    sites = {s.id: s.code for s in db.session.scalars(sa.select(Site))}
    exports = {code: _csv(client, admin_headers, code) for code in studies.values()}
    reconciliation = {code: client.get(f"/api/v1/studies/{code}/reconciliation", headers=admin_headers).get_json()
                      for code in studies.values()}
    worklists = {code: client.get(f"/api/v1/sites/{code}/worklist?page_size=500", headers=admin_headers).get_json()
                 for code in sites.values()}
    checked = 0
    for patient in demo:
        pid = str(patient.id)
        events = {e["id"]: e for e in client.get(f"/api/v1/patients/{pid}/calendar",
                                                 headers=admin_headers).get_json()["events"]}
        assert {e["state"] for e in events.values()} <= {"upcoming", "due", "overdue", "completed", "missed", "held",
                                                         "cancelled"}

        # .ics: the same state and days overdue, on the same day.
        feed = icalendar.Calendar.from_ical(client.get(f"/api/v1/patients/{pid}/calendar.ics",
                                                       headers=admin_headers).data)
        for item in feed.walk("VEVENT"):
            event = events[str(item["uid"]).removesuffix("@cadence")]
            assert str(item["x-cadence-state"]) == event["state"]
            assert item.decoded("dtstart").isoformat() == event["target_date"]
            days = str(item["x-cadence-days-overdue"]) if "x-cadence-days-overdue" in item else None
            assert days == (None if event["days_overdue"] is None else str(event["days_overdue"]))

        # PFS visits: the calendar's event, protocol date and target date.
        pfs = client.get(f"/api/v1/patients/{pid}/pfs", headers=admin_headers).get_json()
        for visit in pfs["visits"]:
            if visit["event_id"] is not None:
                event = events[visit["event_id"]]
                assert (visit["protocol_date"], visit["target_date"], visit["window_start"], visit["window_end"]) == (
                    event["protocol_date"], event["target_date"], event["window_start"], event["window_end"])
                assert event["key"] == f"assessment:{visit['number']}"

        # Subject-visits CSV: one row per visit, the same state and dates.
        rows = {k: v for k, v in exports[studies[patient.study_id]].items() if v["SUBJID"] == patient.subject_id}
        visits = {i: e for i, e in events.items() if e["kind"] in VISIT_KINDS}
        assert set(rows) == set(visits)
        for event_id, row in rows.items():
            event = visits[event_id]
            assert (row["STATUS"], row["STATE"], row["DAYSOVER"] or None) == (
                event["status"], event["state"], None if event["days_overdue"] is None else str(event["days_overdue"]))
            assert (row["PROTDT"], row["PLANDT"], row["WINSTDT"], row["WINENDT"]) == (
                event["protocol_date"], event["target_date"], event["window_start"], event["window_end"])

        # Reconciliation: "not recorded" is exactly the overdue visits, with their days overdue.
        findings = [f for f in reconciliation[studies[patient.study_id]]["findings"] if f["patient_id"] == pid]
        not_recorded = {f["event_id"]: f["days_overdue"] for f in findings if f["kind"] == "not_recorded"}
        assert not_recorded == {i: e["days_overdue"] for i, e in visits.items() if e["state"] == "overdue"}
        assert all(events[f["event_id"]]["state"] == f["state"] for f in findings if f["event_id"])

        # Worklist: rows name events in the state their kind says.
        rows = [r for r in worklists[sites[patient.site_id]] if r["patient_id"] == pid]
        clinic = {i: e for i, e in events.items() if e["kind"] in ("dose", "tumor_assessment")}
        overdue = [e["days_overdue"] for e in clinic.values() if e["state"] == "overdue"]
        overdue_rows = [r for r in rows if r["kind"] == "visit_overdue"]
        assert len(overdue_rows) == (1 if overdue else 0)
        for row in overdue_rows:
            assert clinic[row["event_id"]]["state"] == "overdue" and row["days_overdue"] == max(overdue)
        for row in (r for r in rows if r["kind"] == "visit_due"):
            assert clinic[row["event_id"]]["state"] in ("due", "upcoming") and row["days_overdue"] is None
            assert row["due_date"] == clinic[row["event_id"]]["target_date"]
        assert len({r["event_id"] for r in rows if r["event_id"]}) == len([r for r in rows if r["event_id"]])
        no_baseline = [r for r in rows if r["kind"] == "no_baseline"]
        assert bool(no_baseline) == (pfs["reason"] == "no_baseline" and patient.status in ("on_treatment", "follow_up"))
        checked += len(events)
    assert checked > 1000
