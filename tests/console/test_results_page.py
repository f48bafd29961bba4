"""The Results page of a study: what a coordinator and a nurse see agrees with GET /studies/{code}/efficacy
and /safety for the same caller, cut-off and regimen; scope as the API; hostile query arguments are shown
back as field errors, never a 500. Browser tests save screenshots under tests/console/screenshots/."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from backend.extensions import db
from tests.console.conftest import shot, sign_in
from tests.console.test_security import HTTPS
from tests.console.test_security import sign_in as sign_in_client


def api(client, auth, user, path):
    answer = client.get(f"/api/v1{path}", headers=auth.headers(user))
    db.session.rollback()
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


@pytest.fixture()
def outcomes(client, auth, demo):
    """An adverse event of grade 3 (serious, dose reduced), one of grade 1, and a death, in INET-1L."""
    coordinator = auth.headers(demo["users"]["coordinator"])
    patient = demo["patients"]["BJ01-001"]
    today = date.today()
    for body in ({"ctcae_term": "Anemia", "grade": 3, "serious": True, "action_taken": "dose_reduced"},
                 {"ctcae_term": "Alopecia", "grade": 1, "serious": False, "action_taken": "dose_not_changed"}):
        answer = client.post(f"/api/v1/patients/{patient}/adverse-events", headers=coordinator,
                             json={**body, "related": True, "onset_date": (today - timedelta(days=2)).isoformat()})
        assert answer.status_code == 201, answer.get_json()
    answer = client.post(f"/api/v1/patients/{demo['patients']['LDN01-001']}/outcomes", headers=coordinator,
                         json={"type": "death", "date": (today - timedelta(days=1)).isoformat()})
    assert answer.status_code == 201, answer.get_json()
    db.session.commit()


def numbers(locator, attribute):
    return locator.evaluate_all(f"els => els.map(e => e.getAttribute('{attribute}'))")


def test_a_coordinator_reads_the_results_as_the_api_answers_them(page, client, auth, demo, outcomes):
    sign_in(page, "coordinator")
    page.goto("/console/studies/INET-1L")
    page.get_by_role("link", name="Results: response, survival and safety").click()
    expect(page.get_by_role("heading", name="Results: study INET-1L")).to_be_visible()
    user = demo["users"]["coordinator"]
    efficacy = api(client, auth, user, "/studies/INET-1L/efficacy")
    safety = api(client, auth, user, "/studies/INET-1L/safety")

    overall = page.locator("table.rates tbody tr").first
    for key in ("orr", "orr_dosed", "cbr"):
        cell = overall.locator(f"td[data-rate={key}]")
        assert (int(cell.get_attribute("data-numerator")), int(cell.get_attribute("data-denominator"))) == (
            efficacy[key]["numerator"], efficacy[key]["denominator"])
    for endpoint in ("pfs", "os"):
        row = page.locator(f"section[data-endpoint={endpoint}] table.km-table tbody tr").first
        summary = efficacy["km"][endpoint]
        assert (int(row.get_attribute("data-n")), int(row.get_attribute("data-events"))) == (
            summary["n"], summary["events"])
        assert row.get_attribute("data-median") == ("" if summary["median"] is None else str(summary["median"]))
        chart = page.get_by_role("img", name="Kaplan–Meier estimate of overall survival" if endpoint == "os"
                                 else "Kaplan–Meier estimate of progression-free survival (FDA 2018 censoring)")
        expect(chart).to_be_visible()
        assert chart.locator("path.km-step").count() >= 1
        day_0 = numbers(chart.locator("g.at-risk text.at-risk-n:first-of-type"), "data-n")
        assert sum(int(n) for n in day_0) == summary["n"]  # everyone is at risk on day 0, one row per curve
        assert len(day_0) == max(1, len(efficacy["by_regimen"]) if len(efficacy["by_regimen"]) > 1 else 1)
    assert efficacy["km"]["os"]["events"] == 1  # the death recorded above

    swimmer = page.get_by_role(
        "img", name="Swimmer plot: one bar per patient from the first dose to the end of follow-up")
    assert swimmer.locator("g.lane").count() == efficacy["km"]["os"]["n"]
    assert swimmer.locator(".marker-death").count() == 1

    table = page.locator("table.safety")
    assert int(table.get_attribute("data-population")) == safety["population"]
    rows = table.locator("tbody tr")
    assert numbers(rows, "data-term") == [row["term"] for row in safety["teae"]]
    assert [int(n) for n in numbers(rows, "data-any")] == [row["any_grade"]["n"] for row in safety["teae"]]
    assert [int(n) for n in numbers(rows, "data-grade3")] == [row["grade_3_plus"]["n"] for row in safety["teae"]]
    assert safety["teae"][0]["grade_3_plus"]["n"] == 1
    shot(page, "coordinator-results")

    # The regimen filter and the cut-off: the page follows the API's answer to the same query.
    regimen = efficacy["by_regimen"][0]["regimen"]
    page.get_by_label("Regimen").select_option(regimen)
    page.get_by_label("Data cut-off").fill(date.today().isoformat())
    page.get_by_role("button", name="Show results").click()
    page.wait_for_url(f"**regimen={regimen}**")
    filtered = api(client, auth, user, f"/studies/INET-1L/efficacy?regimen={regimen}&cutoff={date.today()}")
    cell = page.locator("table.rates tbody tr").first.locator("td[data-rate=orr]")
    assert int(cell.get_attribute("data-denominator")) == filtered["orr"]["denominator"]
    assert page.locator("table.rates tbody tr").count() == 1
    assert int(page.locator("section[data-endpoint=pfs] table.km-table tbody tr").first.get_attribute("data-n")) \
        == filtered["km"]["pfs"]["n"]


def test_a_nurse_sees_her_sites_only_and_reads_it_in_chinese(page, client, auth, demo, outcomes):
    sign_in(page, "nurse")
    page.goto("/console/sites/SH01")
    page.get_by_role("link", name="Results INET-PAC-RWS").click()
    expect(page.get_by_role("heading", name="Results: study INET-PAC-RWS")).to_be_visible()
    efficacy = api(client, auth, demo["users"]["nurse"], "/studies/INET-PAC-RWS/efficacy")
    row = page.locator("section[data-endpoint=pfs] table.km-table tbody tr").first
    assert int(row.get_attribute("data-n")) == efficacy["km"]["pfs"]["n"]
    page.get_by_label("Language").select_option("zh_Hans_CN")
    page.wait_for_load_state()
    expect(page.locator("h1")).to_contain_text("结果")
    expect(page.get_by_role("heading", name="总生存期")).to_be_visible()
    shot(page, "nurse-results-zh")


def test_results_are_404_out_of_scope_and_hostile_arguments_come_back_as_field_errors(client, db):
    from tests.factories import PatientFactory, SiteFactory, UserFactory

    site, other = SiteFactory(code="SH01"), SiteFactory(code="SH02")
    PatientFactory(site=site)
    nurse = UserFactory(role="nurse", sites=[site])
    db.session.commit()
    sign_in_client(client, nurse)
    assert client.get(f"/console/studies/{other.study.code}/results", base_url=HTTPS).status_code == 404
    assert client.get("/console/studies/NO-SUCH/results", base_url=HTTPS).status_code == 404
    answer = client.get(f"/console/studies/{site.study.code}/results?cutoff=2026-02-30&regimen=%3Cscript%3E"
                        + "x" * 5000, base_url=HTTPS)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert 'id="cutoff-error"' in text and 'id="regimen-error"' in text and "<script>" not in text
