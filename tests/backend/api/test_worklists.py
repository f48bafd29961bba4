"""GET /sites/{code}/worklist: what the site's nurses must act on, most urgent first
(CONTRACT.md "Site work"; rules in backend/services/worklists.py).

Worklist date Thu 2025-04-10. Scans every 42 ± 7 days from the first dose.
"""
from __future__ import annotations

import functools
from datetime import date, time

import pytest

from backend.services import worklists
from tests.factories import PatientFactory, SiteFactory, UserFactory
from tests.factories_pfs import assessment_event, dose_event, scanned, survey_event

DAY = "2025-04-10"


scans = functools.partial(scanned, baseline=date(2024, 12, 30))


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
    risk = scans(PatientFactory(site=site, subject_id="P-RISK", first_dose_date=date(2025, 1, 6)),
                 (date(2025, 2, 17), "SD"))
    visit_3 = assessment_event(risk, 3)
    # Visit 1 window 2025-04-01 to 04-15 open, nothing recorded: due, closing in 5 days.
    closing = scans(PatientFactory(site=site, subject_id="P-CLOSING", first_dose_date=date(2025, 2, 25)))
    assessment_event(closing, 1)
    # A dose visit whose window closed 2025-03-27 with nothing recorded; another planned on 04-14.
    dosed = scans(PatientFactory(site=site, subject_id="P-DOSES", first_dose_date=date(2025, 3, 3)))
    overdue = dose_event(dosed, 2, date(2025, 3, 24))
    dose_event(dosed, 3, date(2025, 4, 14))
    dose_event(dosed, 4, date(2025, 5, 5))  # not this week
    dose_event(dosed, 1, date(2025, 3, 3), status="completed", actual_date=date(2025, 3, 3))
    # On treatment, and no baseline scan recorded.
    PatientFactory(site=site, subject_id="P-NOBASE", first_dose_date=date(2025, 3, 31))
    # The last two weekly surveys were not answered; another patient answered the last one.
    silent = scans(PatientFactory(site=site, subject_id="P-SILENT", first_dose_date=date(2025, 3, 17)))
    for n in (1, 2, 3):
        survey_event(silent, n)
    answered = scans(PatientFactory(site=site, subject_id="P-ANSWERED", first_dose_date=date(2025, 3, 17)))
    survey_event(answered, 2)
    survey_event(answered, 3, status="completed", actual_date=date(2025, 3, 31))
    # Nobody acts for a patient off study, or for another site.
    gone = PatientFactory(site=site, subject_id="P-OFF", status="off_study", first_dose_date=date(2025, 1, 6))
    dose_event(gone, 2, date(2025, 1, 27))
    dose_event(PatientFactory(subject_id="ELSEWHERE"), 2, date(2025, 3, 24))

    rows = worklist(client, auth, nurse)

    assert [(r["priority"], r["kind"], r["subject_id"], r["due_date"]) for r in rows] == [
        (2, "pfs_at_risk", "P-RISK", "2025-05-19"),
        (3, "visit_overdue", "P-DOSES", "2025-03-27"),
        (4, "no_baseline", "P-NOBASE", "2025-03-31"),
        (5, "visit_due", "P-CLOSING", "2025-04-08"),
        (5, "visit_due", "P-DOSES", "2025-04-14"),
        (6, "survey_nonresponse", "P-SILENT", "2025-04-03"),
    ]
    assert rows[0]["action"] == "Book an adequate tumour assessment on or before 2025-05-19"
    assert rows[0]["event_id"] == str(visit_3.id) and rows[0]["days_overdue"] is None
    assert rows[1]["action"] == "Record the visit as completed (with its date), missed or held"
    assert (rows[1]["event_id"], rows[1]["days_overdue"]) == (str(overdue.id), 14)
    assert rows[2]["event_id"] is None
    assert "closes in 5 days" in rows[3]["what"] and rows[3]["action"].startswith("Book the scan on or before 2025-04-15")
    assert set(rows[0]) == {"priority", "kind", "patient_id", "subject_id", "event_id", "alert_id", "days_overdue",
                            "due_date", "what", "action"}
    assert all(r["alert_id"] is None for r in rows)


def test_the_scan_pfs_needs_makes_one_row_not_a_second_due_row(client, auth, site, nurse):
    """Visit 2 missed; visit 3 (window 05-05 to 05-19) is the protect deadline and is due: one row,
    the most urgent reason, about that scan."""
    patient = scans(PatientFactory(site=site, subject_id="P1", first_dose_date=date(2025, 1, 6)),
                    (date(2025, 2, 17), "SD"))
    visit_3 = assessment_event(patient, 3)
    rows = worklist(client, auth, nurse, day="2025-05-14")
    assert [(r["kind"], r["due_date"], r["event_id"]) for r in rows] == [("pfs_at_risk", "2025-05-19", str(visit_3.id))]


@pytest.mark.parametrize(("day", "visit", "booking", "action"), [
    ("2025-05-14", (3, date(2025, 5, 12)), (time(9, 30), "Imaging, 2nd floor"),
     "Booked for 2025-05-12 at 09:30 (Imaging, 2nd floor): make sure the scan is adequate and done on or before "
     "2025-05-19"),
    ("2025-05-14", (3, date(2025, 5, 12)), (time(14, 0), None),
     "Booked for 2025-05-12 at 14:00: make sure the scan is adequate and done on or before 2025-05-19"),
    ("2025-05-14", (3, date(2025, 5, 12)), (None, None), "Book an adequate tumour assessment on or before 2025-05-19"),
    # Visits 2 and 3 missed: no deadline left; the scan to book is visit 4 (window 06-23 to 07-07).
    ("2025-05-20", (4, date(2025, 6, 30)), (time(9, 30), None),
     "Booked for 2025-06-30 at 09:30: a progression found before that scan would be censored"),
])
def test_a_booked_scan_row_says_when_it_is_booked_instead_of_asking_to_book(client, auth, site, nurse, day, visit,
                                                                             booking, action):
    """The scan PFS needs, booked (appointment time and place on the event): the row says so."""
    patient = scans(PatientFactory(site=site, first_dose_date=date(2025, 1, 6)), (date(2025, 2, 17), "SD"))
    scan = assessment_event(patient, visit[0], target_date=visit[1], appointment_time=booking[0],
                            appointment_location=booking[1])
    (row,) = worklist(client, auth, nurse, day=day)
    assert (row["kind"], row["event_id"], row["action"]) == ("pfs_at_risk", str(scan.id), action)


@pytest.mark.parametrize(("kind", "booking", "action"), [
    ("scan", (time(9, 30), "Imaging"), "Booked for 2025-04-14 at 09:30 (Imaging): confirm the appointment with the "
                                       "patient"),
    ("scan", (None, None), "Book the scan on or before 2025-04-15, or confirm the appointment"),
    ("dose", (time(8, 0), None), "Booked for 2025-04-14 at 08:00: confirm the visit with the patient"),
    ("dose", (None, None), "Confirm the visit with the patient"),
])
def test_a_booked_visit_due_this_week_says_when(client, auth, site, nurse, kind, booking, action):
    patient = scans(PatientFactory(site=site, first_dose_date=date(2025, 2, 25)))
    extra = {"appointment_time": booking[0], "appointment_location": booking[1], "target_date": date(2025, 4, 14)}
    if kind == "scan":
        assessment_event(patient, 1, **extra)
    else:
        dose_event(patient, 2, date(2025, 4, 14), **extra)
    (row,) = worklist(client, auth, nurse)
    assert (row["kind"], row["action"]) == ("visit_due", action)


def test_a_completed_scan_event_is_nothing_to_do(client, auth, site, nurse):
    patient = scans(PatientFactory(site=site, first_dose_date=date(2025, 2, 25)))
    assessment_event(patient, 1, status="completed", actual_date=date(2025, 4, 9))
    assert worklist(client, auth, nurse) == []


def test_a_patient_with_many_visits_not_recorded_makes_one_overdue_row_about_the_oldest(client, auth, site, nurse):
    patient = scans(PatientFactory(site=site, subject_id="P-LAG", first_dose_date=date(2025, 3, 3)))
    oldest = dose_event(patient, 1, date(2025, 3, 3))
    for cycle in (2, 3):
        dose_event(patient, cycle, date(2025, 3, 3 + 7 * (cycle - 1)))
    (row,) = worklist(client, auth, nurse)
    assert (row["kind"], row["event_id"], row["days_overdue"]) == ("visit_overdue", str(oldest.id), 35)  # window closed 03-06
    assert row["what"].endswith("; 2 more visits not recorded")


def test_two_missed_visits_leave_no_deadline_the_scan_is_due_now(client, auth, site, nurse):
    scans(PatientFactory(site=site, first_dose_date=date(2025, 1, 6)), (date(2025, 2, 17), "SD"))
    (row,) = worklist(client, auth, nurse, day="2025-05-20")
    assert (row["kind"], row["due_date"]) == ("pfs_at_risk", "2025-05-20")
    assert row["what"] == "PFS at risk: 2 tumour assessments missed since 2025-02-17"
    assert row["action"].startswith("Book an adequate tumour assessment now")
    assert row["days_overdue"] == 1  # visit 3's window closed yesterday


def test_other_sources_join_the_list_in_priority_order(client, auth, site, nurse, monkeypatch):
    patient = scans(PatientFactory(site=site, subject_id="P-RISK", first_dose_date=date(2025, 1, 6)),
                    (date(2025, 2, 17), "SD"))

    def alerts(ctx):
        return [worklists.row("symptom_alert", patient, "Grade 3 diarrhoea reported", ctx.day, "Call the patient today")]

    monkeypatch.setattr(worklists, "WORKLIST_SOURCES", [*worklists.WORKLIST_SOURCES, alerts])
    assert [r["kind"] for r in worklist(client, auth, nurse)] == ["symptom_alert", "pfs_at_risk"]


def test_the_worklist_is_paginated(client, auth, site, nurse):
    patient = scans(PatientFactory(site=site, first_dose_date=date(2025, 3, 3)))
    for cycle in range(1, 4):
        dose_event(patient, cycle, date(2025, 4, 10 + 2 * (cycle - 1)))  # due 04-10, 04-12, 04-14
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
        assert [r["kind"] for r in rows if r["event_id"] is not None] == ["visit_due"], day
    rows = client.get("/api/v1/sites/WL9/worklist?date=2026-01-30", headers=auth.headers(nurse)).get_json()
    assert [(r["kind"], r["days_overdue"]) for r in rows if r["event_id"] is not None] == [("visit_overdue", 1)]


def test_survey_non_response_is_judged_alike_with_and_without_postgresql_lateral_joins(site):
    """The laptop's SQLite has no LATERAL join: its portable query must flag exactly the same surveys."""
    silent = scans(PatientFactory(site=site, subject_id="P-SILENT", first_dose_date=date(2025, 3, 17)))
    for n in (1, 2, 3):
        survey_event(silent, n)
    once = scans(PatientFactory(site=site, subject_id="P-ONCE", first_dose_date=date(2025, 3, 17)))
    survey_event(once, 2)
    survey_event(once, 3, status="completed", actual_date=date(2025, 3, 31))
    new = scans(PatientFactory(site=site, subject_id="P-NEW", first_dose_date=date(2025, 3, 31)))
    survey_event(new, 1)  # only one closed survey so far
    ctx = worklists.SiteDay(site, date.fromisoformat(DAY), worklists._on_study(site))

    flagged = {(s.patient_id, s.id) for s in worklists._unanswered_surveys(ctx)}

    assert flagged == {(s.patient_id, s.id) for s in worklists._unanswered_surveys_portable(ctx)}
    assert {patient for patient, _ in flagged} == {silent.id}
