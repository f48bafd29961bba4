"""What is recorded about the disease reaches the calendar: a scan completes its visit, progression
ends the imaging clock, discontinuation stops dosing, death stops everything (issue: the two clocks)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import SiteFactory, UserFactory
from tests.factories_patients import enrol, events_by_key, site_today


@pytest.fixture()
def site(db):
    return SiteFactory(code="SH01")


@pytest.fixture()
def nurse(site):
    return UserFactory(role="nurse", sites=[site])


def started_84_days_ago(site):
    """A patient whose first dose was 12 weeks ago: scan 1 is past, scan 2 is due about now."""
    return enrol(site, "INET-PAC", first_dose=site_today(site) - timedelta(days=84))


def test_a_recorded_scan_completes_the_visit_whose_window_holds_it(client, auth, site, nurse):
    patient = started_84_days_ago(site)
    scan_1 = events_by_key(patient.id)["assessment:1"]
    day = scan_1.protocol_date + timedelta(days=2)
    answer = client.post(f"/api/v1/patients/{patient.id}/assessments", json={"date": day.isoformat(),
                         "overall_response": "SD"}, headers=auth.headers(nurse))
    assert answer.status_code == 201, answer.get_json()
    scan_1 = events_by_key(patient.id)["assessment:1"]
    assert (scan_1.status, scan_1.actual_date) == ("completed", day)


def test_progression_cancels_later_scans_but_not_dosing(client, auth, site, nurse):
    patient = started_84_days_ago(site)
    day = events_by_key(patient.id)["assessment:1"].protocol_date
    client.post(f"/api/v1/patients/{patient.id}/assessments",
                json={"date": day.isoformat(), "overall_response": "PD"}, headers=auth.headers(nurse))
    events = events_by_key(patient.id)
    later_scans = [e for e in events.values() if e.kind == "tumor_assessment" and e.protocol_date > day]
    assert later_scans and {e.status for e in later_scans} == {"cancelled"}
    future_doses = [e for e in events.values() if e.kind == "dose" and e.target_date > site_today(site)]
    assert future_doses and {e.status for e in future_doses} == {"planned"}


def test_discontinuation_recorded_as_an_outcome_cancels_future_dosing_only(client, auth, site, nurse):
    patient = started_84_days_ago(site)
    today = site_today(site)
    answer = client.post(f"/api/v1/patients/{patient.id}/outcomes",
                         json={"type": "treatment_discontinued", "date": today.isoformat(), "reason": "toxicity"},
                         headers=auth.headers(nurse))
    assert answer.status_code == 201, answer.get_json()
    events = events_by_key(patient.id)
    future = [e for e in events.values() if e.target_date >= today]
    assert {e.status for e in future if e.kind == "dose"} == {"cancelled"}
    assert {e.status for e in future if e.kind == "tumor_assessment"} == {"planned"}


def test_death_stops_every_clock(client, auth, site, nurse):
    patient = started_84_days_ago(site)
    today = site_today(site)
    client.post(f"/api/v1/patients/{patient.id}/outcomes", json={"type": "death", "date": today.isoformat()},
                headers=auth.headers(nurse))
    future = [e for e in events_by_key(patient.id).values() if e.target_date > today]
    assert future and {e.status for e in future} == {"cancelled"}
