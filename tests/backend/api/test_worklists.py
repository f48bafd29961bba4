"""GET /sites/{code}/worklist: what the site's nurses must act on, most urgent first
(CONTRACT.md "Site work"; rules in backend/services/worklists.py).

Worklist date Thu 2025-04-10. Scans every 42 ± 7 days from the first dose.
"""
from __future__ import annotations

from datetime import date

import pytest

from backend.extensions import db as _db
from backend.models import TumourAssessment
from backend.services import worklists
from tests.factories import PatientFactory, SiteFactory, UserFactory
from tests.factories_pfs import assessment_event, dose_event

DAY = "2025-04-10"


def scans(patient, *history):
    _db.session.add(TumourAssessment(patient_id=patient.id, date=date(2024, 12, 30), baseline=True))
    for day, response in history:
        _db.session.add(TumourAssessment(patient_id=patient.id, date=day, overall_response=response))
    _db.session.commit()
    return patient


@pytest.fixture()
def site(db):
    return SiteFactory(code="SH01")


@pytest.fixture()
def nurse(site):
    return UserFactory(role="nurse", sites=[site])


def worklist(client, auth, user, code="SH01", day=DAY):
    answer = client.get(f"/api/v1/sites/{code}/worklist?date={day}", headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_rows_are_ordered_by_urgency_and_say_what_to_do(client, auth, site, nurse):
    # Visit 2 (window closed 2025-04-07) was missed: PFS at risk until visit 3's window closes.
    scans(PatientFactory(site=site, subject_id="P-RISK", first_dose_date=date(2025, 1, 6)), (date(2025, 2, 17), "SD"))
    # Visit 1 window 2025-04-01 to 04-15 open, nothing booked.
    scans(PatientFactory(site=site, subject_id="P-CLOSING", first_dose_date=date(2025, 2, 25)))
    # Same window, but the scan is booked on 04-12 (and so due this week).
    booked = scans(PatientFactory(site=site, subject_id="P-BOOKED", first_dose_date=date(2025, 2, 25)))
    assessment_event(booked, 1, target_date=date(2025, 4, 12), flags=["booked"])
    # A dose visit whose window closed 2025-03-27 with nothing recorded; another due on 04-14.
    dosed = scans(PatientFactory(site=site, subject_id="P-DOSES", first_dose_date=date(2025, 3, 3)))
    dose_event(dosed, 2, date(2025, 3, 24))
    dose_event(dosed, 3, date(2025, 4, 14))
    dose_event(dosed, 4, date(2025, 5, 5))  # not this week
    dose_event(dosed, 1, date(2025, 3, 3), status="completed", actual_date=date(2025, 3, 3))
    # Nobody acts for a patient off study, or for another site.
    gone = PatientFactory(site=site, subject_id="P-OFF", status="off_study", first_dose_date=date(2025, 1, 6))
    dose_event(gone, 2, date(2025, 1, 27))
    dose_event(PatientFactory(subject_id="ELSEWHERE"), 2, date(2025, 3, 24))

    rows = worklist(client, auth, nurse)

    assert [(r["priority"], r["kind"], r["subject_id"], r["due_date"]) for r in rows] == [
        (2, "pfs_at_risk", "P-RISK", "2025-05-19"),
        (3, "assessment_window_closing", "P-CLOSING", "2025-04-15"),
        (4, "visit_overdue", "P-DOSES", "2025-03-27"),
        (5, "visit_due", "P-BOOKED", "2025-04-12"),
        (5, "visit_due", "P-DOSES", "2025-04-14"),
    ]
    assert rows[0]["action"] == "Book an adequate tumour assessment on or before 2025-05-19"
    assert rows[1]["action"] == "Book the scan on or before 2025-04-15"
    assert "5 days" in rows[1]["what"]
    assert rows[2]["action"] == "Record the visit as completed (with its date), missed or held"
    assert set(rows[0]) == {"priority", "kind", "patient_id", "subject_id", "what", "due_date", "action"}


def test_a_closing_window_that_is_the_pfs_deadline_makes_one_row(client, auth, site, nurse):
    """Visit 2 missed, visit 3's window (05-05 to 05-19) is the protect deadline and closes in 5 days."""
    scans(PatientFactory(site=site, subject_id="P1", first_dose_date=date(2025, 1, 6)), (date(2025, 2, 17), "SD"))
    rows = worklist(client, auth, nurse, day="2025-05-14")
    assert [(r["kind"], r["due_date"]) for r in rows] == [("pfs_at_risk", "2025-05-19")]


def test_a_completed_scan_event_counts_as_done_for_the_window(client, auth, site, nurse):
    patient = scans(PatientFactory(site=site, first_dose_date=date(2025, 2, 25)))
    assessment_event(patient, 1, status="completed", actual_date=date(2025, 4, 9))
    assert worklist(client, auth, nurse) == []


def test_a_scan_with_a_booked_appointment_is_not_a_window_to_book(client, auth, site, nurse):
    from datetime import time

    patient = scans(PatientFactory(site=site, subject_id="P-APPT", first_dose_date=date(2025, 2, 25)))
    assessment_event(patient, 1, target_date=date(2025, 4, 12), appointment_time=time(9, 30))
    kinds = [r["kind"] for r in worklist(client, auth, nurse) if r["subject_id"] == "P-APPT"]
    assert "assessment_window_closing" not in kinds and kinds == ["visit_due"]


def test_two_missed_visits_leave_no_deadline_the_scan_is_due_now(client, auth, site, nurse):
    scans(PatientFactory(site=site, first_dose_date=date(2025, 1, 6)), (date(2025, 2, 17), "SD"))
    (row,) = worklist(client, auth, nurse, day="2025-05-20")
    assert (row["kind"], row["due_date"]) == ("pfs_at_risk", "2025-05-20")
    assert row["what"] == "PFS at risk: 2 tumour assessments missed since 2025-02-17"
    assert row["action"].startswith("Book an adequate tumour assessment now")


def test_other_sources_join_the_list_in_priority_order(client, auth, site, nurse, monkeypatch):
    """The alerts branch adds its source to WORKLIST_SOURCES at merge (priority 1: patient safety)."""
    patient = scans(PatientFactory(site=site, subject_id="P-RISK", first_dose_date=date(2025, 1, 6)),
                    (date(2025, 2, 17), "SD"))

    def alerts(s, day):
        return [worklists.row("symptom_alert", patient, "Grade 3 diarrhoea reported", day, "Call the patient today")]

    monkeypatch.setattr(worklists, "WORKLIST_SOURCES", [*worklists.WORKLIST_SOURCES, alerts])
    assert [r["kind"] for r in worklist(client, auth, nurse)] == ["symptom_alert", "pfs_at_risk"]


def test_the_worklist_is_paginated(client, auth, site, nurse):
    patient = scans(PatientFactory(site=site, first_dose_date=date(2025, 3, 3)))
    for cycle in range(1, 4):
        dose_event(patient, cycle, date(2025, 3, 3 + 7 * (cycle - 1)))
    answer = client.get(f"/api/v1/sites/SH01/worklist?date={DAY}&page_size=2", headers=auth.headers(nurse))
    assert len(answer.get_json()) == 2
    assert '"total": 3' in answer.headers["X-Pagination"]


@pytest.mark.parametrize("role, status", [("coordinator", 200), ("admin", 200), ("other-nurse", 404),
                                          ("other-coordinator", 404)])
def test_who_sees_a_sites_worklist(client, auth, site, role, status):
    other = SiteFactory(code="BJ01")
    users = {
        "coordinator": UserFactory(role="coordinator", studies=[site.study]),
        "admin": UserFactory(role="admin"),
        "other-nurse": UserFactory(role="nurse", sites=[other]),
        "other-coordinator": UserFactory(role="coordinator", studies=[other.study]),
    }
    assert client.get("/api/v1/sites/SH01/worklist", headers=auth.headers(users[role])).status_code == status


def test_an_unknown_site_is_404(client, auth, nurse):
    assert client.get("/api/v1/sites/NOPE/worklist", headers=auth.headers(nurse)).status_code == 404


def test_a_visit_past_its_planned_day_with_its_window_open_is_still_due(client, auth, db):
    """Neither overdue (the window is open) nor forgotten: the nurse still has to see it."""
    from datetime import date

    from tests.factories import PatientFactory, SiteFactory, UserFactory
    from tests.factories_pfs import dose_event

    site = SiteFactory(code="WL9")
    patient = PatientFactory(site=site, first_dose_date=date(2026, 1, 5))
    dose_event(patient, 2, date(2026, 1, 26))  # window 01-25 .. 01-29
    nurse = UserFactory(role="nurse", sites=[site])
    for day in ("2026-01-27", "2026-01-29"):
        rows = client.get(f"/api/v1/sites/WL9/worklist?date={day}", headers=auth.headers(nurse)).get_json()
        assert [r["kind"] for r in rows if r["patient_id"] == str(patient.id)] == ["visit_due"], day
    rows = client.get("/api/v1/sites/WL9/worklist?date=2026-01-30", headers=auth.headers(nurse)).get_json()
    assert [r["kind"] for r in rows if r["patient_id"] == str(patient.id)] == ["visit_overdue"]
