"""GET /patients/{id}/pfs: protocol scenarios recorded through the API (CONTRACT.md "Tumour assessments,
outcomes and PFS"). Rules: FDA 2018 PFS censoring table and RECIST 1.1, as implemented in schedules/pfs.py.

Every scenario: first dose Mon 2025-01-06, scans every 42 days ± 7 (visit 1 2025-02-17 [02-10, 02-24],
visit 2 03-31 [03-24, 04-07], visit 3 05-12 [05-05, 05-19], visit 4 06-23 [06-16, 06-30]); a baseline on
2025-01-03 unless the row says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_pfs import assessment_event, dose_event

FIRST_DOSE = date(2025, 1, 6)
BASELINE = "2025-01-03"


@dataclass(frozen=True)
class Scenario:
    scans: tuple  # (date, response) or (date, response, extra fields)
    as_of: str
    status: str
    date: str
    days: int
    cnsr: int
    reason: str
    visits: str
    outcomes: tuple = ()
    baseline: bool = True
    rule: str = "visits"
    missed: int | None = None
    at_risk: bool = False
    deadline: str | None = None
    extra: dict = field(default_factory=dict)


SCENARIOS = {
    # Windows are inclusive: the last day is still in the window, the day after is not.
    "progression on the last day of the window: event, visit done": Scenario(
        (("2025-02-17", "SD"), ("2025-04-07", "PD")), "2025-05-01",
        "event", "2025-04-07", 92, 0, "progression", "done done"),
    "progression the day after the window: event, the late scan still attends its visit": Scenario(
        (("2025-02-17", "SD"), ("2025-04-08", "PD")), "2025-05-01",
        "event", "2025-04-08", 93, 0, "progression", "done late"),
    "on the last day of a window the visit is open, nothing is at risk": Scenario(
        (("2025-02-17", "SD"),), "2025-04-07",
        "censored", "2025-02-17", 43, 1, "ongoing", "done open upcoming", missed=0),
    "the day after an empty window the visit is missed: at risk until the next window closes": Scenario(
        (("2025-02-17", "SD"),), "2025-04-08",
        "censored", "2025-02-17", 43, 1, "ongoing", "done missed upcoming", missed=1, at_risk=True,
        deadline="2025-05-19"),
    "two missed visits: at risk with no deadline left until an adequate scan": Scenario(
        (("2025-02-17", "SD"),), "2025-05-20",
        "censored", "2025-02-17", 43, 1, "ongoing", "done missed missed upcoming", missed=2, at_risk=True),
    "FDA row 'more than one missed visit': scan late in its window, two misses, progression censored": Scenario(
        (("2025-02-24", "SD"), ("2025-06-23", "PD")), "2025-07-01",
        "censored", "2025-02-24", 50, 5, "missed_assessments", "done missed missed done", missed=2),
    "RECIST NE: two NE-only visits count as missed, progression censored": Scenario(
        (("2025-02-17", "SD"), ("2025-03-31", "NE"), ("2025-05-12", "NE"), ("2025-06-23", "PD")), "2025-07-01",
        "censored", "2025-02-17", 43, 5, "missed_assessments", "done ne_only ne_only done", missed=2),
    "RECIST NE: one NE visit then progression is still an event": Scenario(
        (("2025-02-17", "SD"), ("2025-03-31", "NE"), ("2025-05-12", "PD")), "2025-06-01",
        "event", "2025-05-12", 127, 0, "progression", "done ne_only done", missed=1),
    "FDA row 'new anticancer treatment': therapy on a scan day censors at the scan before": Scenario(
        (("2025-02-17", "SD"), ("2025-03-31", "SD")), "2025-05-01",
        "censored", "2025-02-17", 43, 4, "new_anticancer_therapy", "done done",
        outcomes=(("new_anticancer_therapy", "2025-03-31"),)),
    "new therapy strictly before: progression on the day therapy starts is an event": Scenario(
        (("2025-02-17", "SD"), ("2025-03-31", "PD")), "2025-05-01",
        "event", "2025-03-31", 85, 0, "progression", "done done",
        outcomes=(("new_anticancer_therapy", "2025-03-31"),)),
    "FDA row 'death between adequate assessment visits': event at death": Scenario(
        (("2025-02-17", "SD"),), "2025-04-01",
        "event", "2025-03-10", 64, 0, "death", "done", outcomes=(("death", "2025-03-10"),)),
    "FDA row 'no baseline tumor assessments': censored at the first dose": Scenario(
        (("2025-02-17", "SD"),), "2025-03-01",
        "censored", "2025-01-06", 1, 2, "no_baseline", "done upcoming", baseline=False),
    "end of follow-up: censored at the last adequate assessment": Scenario(
        (("2025-02-17", "SD"),), "2025-04-15",
        "censored", "2025-02-17", 43, 6, "follow_up_ended", "done",
        outcomes=(("follow_up_ended", "2025-03-01"),)),
    "FDA row 'progression between visits': a new lesion dates progression": Scenario(
        (("2025-02-17", "SD"), ("2025-03-31", "PD", {"new_lesion_date": "2025-03-20"})), "2025-05-01",
        "event", "2025-03-20", 74, 0, "progression", "done done"),
    "progression is dated by the last scan of the assessment": Scenario(
        (("2025-02-17", "SD"), ("2025-03-31", "PD", {"scan_dates": ["2025-03-27", "2025-03-29"]})), "2025-05-01",
        "event", "2025-03-29", 83, 0, "progression", "done done"),
    "visits rule: progression scanned the day after the third window closed follows two missed windows": Scenario(
        (("2025-02-17", "SD"), ("2025-05-20", "PD")), "2025-06-01",
        "censored", "2025-02-17", 43, 5, "missed_assessments", "done missed late", missed=2),
    "visits rule: progression scanned on the last day of the third window follows one missed window": Scenario(
        (("2025-02-17", "SD"), ("2025-05-19", "PD")), "2025-06-01",
        "event", "2025-05-19", 134, 0, "progression", "done missed done", missed=1),
    "gap rule: progression exactly 2 x 42 + 7 days after the last adequate scan is an event": Scenario(
        (("2025-02-17", "SD"), ("2025-05-19", "PD")), "2025-06-01",
        "event", "2025-05-19", 134, 0, "progression", "done missed done", rule="gap"),
    "gap rule: one day more and the progression is censored": Scenario(
        (("2025-02-17", "SD"), ("2025-05-20", "PD")), "2025-06-01",
        "censored", "2025-02-17", 43, 5, "missed_assessments", "done missed late", rule="gap"),
}


@pytest.fixture()
def nurse_of(db):
    def make(rule: str = "visits", timezone: str = "Asia/Shanghai"):
        site = SiteFactory(study=StudyFactory(pfs_missed_rule=rule), timezone=timezone)
        return site, UserFactory(role="nurse", sites=[site])

    return make


def record(client, headers, patient, scenario: Scenario) -> None:
    url = f"/api/v1/patients/{patient.id}"
    if scenario.baseline:
        assert client.post(f"{url}/assessments", json={"date": BASELINE, "baseline": True},
                           headers=headers).status_code == 201
    for day, response, *extra in scenario.scans:
        body = {"date": day, "overall_response": response, **(extra[0] if extra else {})}
        answer = client.post(f"{url}/assessments", json=body, headers=headers)
        assert answer.status_code == 201, answer.get_json()
    for kind, day in scenario.outcomes:
        answer = client.post(f"{url}/outcomes", json={"type": kind, "date": day}, headers=headers)
        assert answer.status_code == 201, answer.get_json()


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_pfs_follows_the_protocol(client, auth, nurse_of, scenario):
    site, nurse = nurse_of(scenario.rule)
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    headers = auth.headers(nurse)
    record(client, headers, patient, scenario)

    answer = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of={scenario.as_of}", headers=headers)

    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["status"], body["date"], body["days"], body["cnsr"], body["reason"]) == (
        scenario.status, scenario.date, scenario.days, scenario.cnsr, scenario.reason)
    assert " ".join(v["status"] for v in body["visits"]) == scenario.visits
    if scenario.missed is not None:
        assert body["consecutive_missed"] == scenario.missed
    assert (body["at_risk"], body["protect_deadline"]) == (scenario.at_risk, scenario.deadline)
    assert body["as_of"] == scenario.as_of and body["subject_id"] == patient.subject_id


def test_visits_are_serialised_with_their_windows(client, auth, nurse_of):
    site, nurse = nurse_of()
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    body = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of=2025-02-20", headers=auth.headers(nurse)).get_json()
    assert body["visits"][0] == {"number": 1, "event_id": None, "protocol_date": "2025-02-17",
                                 "target_date": "2025-02-17", "window_start": "2025-02-10",
                                 "window_end": "2025-02-24", "status": "open"}  # no calendar: the clock's date
    assert body["last_adequate_assessment"] is None


def test_a_dose_delay_moves_no_assessment(client, auth, nurse_of):
    """FDA 2018: assessments follow the calendar from the first dose in every arm, whatever the dosing."""
    site, nurse = nurse_of()
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    headers = auth.headers(nurse)
    record(client, headers, patient, SCENARIOS[
        "the day after an empty window the visit is missed: at risk until the next window closes"])
    url = f"/api/v1/patients/{patient.id}/pfs?as_of=2025-04-08"
    before = client.get(url, headers=headers).get_json()

    dose_event(patient, 1, FIRST_DOSE, status="completed", actual_date=FIRST_DOSE)
    dose_event(patient, 2, date(2025, 1, 27), status="completed", actual_date=date(2025, 2, 10))  # 14 days late
    dose_event(patient, 3, date(2025, 2, 24))
    assessment_event(patient, 2, target_date=date(2025, 4, 3), flags=["rescheduled"])

    after = client.get(url, headers=headers).get_json()
    judged = ("number", "protocol_date", "window_start", "window_end", "status")
    assert [{k: v[k] for k in judged} for v in after["visits"]] == [{k: v[k] for k in judged} for v in before["visits"]]
    assert {k: v for k, v in after.items() if k != "visits"} == {k: v for k, v in before.items() if k != "visits"}
    assert [v["protocol_date"] for v in after["visits"]] == ["2025-02-17", "2025-03-31", "2025-05-12"]
    # The visit shows the day the calendar plans it for (issue 9, item 5).
    assert after["visits"][1]["target_date"] == "2025-04-03" and after["visits"][1]["event_id"] is not None


def test_phases_change_the_interval(client, auth, db):
    """Study `assessment_phases`: every 42 days until day 84, then every 84."""
    site = SiteFactory(study=StudyFactory(assessment_phases=[[84, 42], [None, 84]]))
    nurse = UserFactory(role="nurse", sites=[site])
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    body = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of=2025-06-01", headers=auth.headers(nurse)).get_json()
    assert [v["target_date"] for v in body["visits"]] == ["2025-02-17", "2025-03-31", "2025-06-23"]


def test_as_of_defaults_to_today_at_the_site(client, auth, nurse_of):
    site, nurse = nurse_of(timezone="Pacific/Kiritimati")
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    body = client.get(f"/api/v1/patients/{patient.id}/pfs", headers=auth.headers(nurse)).get_json()
    assert body["as_of"] == datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()


def test_as_of_before_the_first_dose_is_422(client, auth, nurse_of):
    site, nurse = nurse_of()
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    answer = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of=2025-01-01", headers=auth.headers(nurse))
    assert answer.status_code == 422
    assert "as_of" in answer.get_json()["errors"]["query"]


def test_pfs_is_a_staff_measure_patients_may_not_read_it(client, auth, nurse_of):
    site, _ = nurse_of()
    user = UserFactory(role="patient")
    patient = PatientFactory(site=site, user_id=user.id)
    answer = client.get(f"/api/v1/patients/{patient.id}/pfs", headers=auth.headers(user))
    assert answer.status_code == 403
    assert answer.get_json()["reason"] == "role_forbidden"


def test_a_nurse_of_another_site_gets_404(client, auth, nurse_of):
    site, _ = nurse_of()
    _, other_nurse = nurse_of()
    patient = PatientFactory(site=site)
    assert client.get(f"/api/v1/patients/{patient.id}/pfs", headers=auth.headers(other_nurse)).status_code == 404


def test_without_any_scan_visit_1_is_missed_the_day_after_its_window(client, auth, nurse_of):
    site, nurse = nurse_of()
    patient = PatientFactory(site=site, first_dose_date=FIRST_DOSE)
    as_of = (FIRST_DOSE + timedelta(days=50)).isoformat()
    body = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of={as_of}", headers=auth.headers(nurse)).get_json()
    assert body["reason"] == "no_baseline" and body["visits"][0]["status"] == "missed"
