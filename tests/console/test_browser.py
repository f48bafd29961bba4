"""A nurse's morning and a coordinator's reconciliation, in a real browser (Chromium via Playwright).

Each test saves a screenshot of what it checked under tests/console/screenshots/ and compares what the
page shows with the API's answer for the same thing.
"""
from __future__ import annotations

import csv
import io
from datetime import date

from playwright.sync_api import expect

from backend.extensions import db
from tests.console.conftest import shot, sign_in


def api(client, auth, user, path):
    answer = client.get(f"/api/v1{path}", headers=auth.headers(user))
    db.session.rollback()  # end the read (the calendar share-locks the patient) before the browser writes
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_nurse_works_the_morning_list(page, client, auth, demo):
    sign_in(page, "nurse")
    page.goto("/console/sites/SH01")
    expect(page.get_by_role("heading", name="Today at Shanghai site 1")).to_be_visible()
    api_rows = api(client, auth, demo["users"]["nurse"], "/sites/SH01/worklist")
    rows = page.locator("li.row")
    assert rows.count() == len(api_rows)
    assert sorted(rows.evaluate_all("els => els.map(e => e.dataset.subject)")) == sorted(r["subject_id"] for r in api_rows)
    # Symptom alerts come first.
    assert page.locator("section.worklist-section").first.get_attribute("class").endswith("kind-symptom_alert")
    shot(page, "nurse-worklist")

    # Acknowledge an alert with a note.
    alert_row = page.locator("li.row[data-kind=symptom_alert]").first
    alert_id = alert_row.get_attribute("data-alert-id")
    alert_row.get_by_label("Note of what was done").fill("Called the patient; antiemetic advised")
    alert_row.get_by_role("button", name="Acknowledge alert").click()
    expect(page.locator(".flash-success")).to_contain_text("acknowledged")
    closed = [a for a in api(client, auth, demo["users"]["nurse"], "/alerts?site=SH01") if a["id"] == alert_id]
    assert closed[0]["status"] == "closed" and closed[0]["action"] == "Called the patient; antiemetic advised"
    assert page.locator(f"li.row[data-alert-id='{alert_id}']").count() == 0

    # Record a visit: the first visit row with an event, as completed.
    visit_row = page.locator("li.row[data-event-id]:not([data-event-id=''])").first
    event_id = visit_row.get_attribute("data-event-id")
    subject = visit_row.get_attribute("data-subject")
    patient_id = demo["patients"][subject]
    visit_row.locator("summary").click()
    visit_row.get_by_label("Outcome").select_option("missed")
    visit_row.get_by_role("button", name="Record visit").click()
    expect(page.locator(".flash-success")).to_contain_text("recorded as missed")
    events = api(client, auth, demo["users"]["nurse"], f"/patients/{patient_id}/calendar")["events"]
    assert next(e for e in events if e["id"] == event_id)["status"] == "missed"
    shot(page, "nurse-after-record")


def test_a_nurse_reschedules_inside_the_window_and_outside_only_when_confirming(page, client, auth, demo):
    sign_in(page, "nurse")
    page.goto("/console/sites/SH01")
    row = page.locator("li.row[data-kind=visit_due][data-event-id]:not([data-event-id=''])").first
    event_id, subject = row.get_attribute("data-event-id"), row.get_attribute("data-subject")
    patient_id = demo["patients"][subject]
    before = next(e for e in api(client, auth, demo["users"]["nurse"], f"/patients/{patient_id}/calendar")["events"]
                  if e["id"] == event_id)
    outside = date.fromisoformat(before["window_end"]).toordinal() + 3
    row.locator("summary").click()
    row.get_by_label("New day").fill(date.fromordinal(outside).isoformat())
    row.get_by_label("Reason", exact=True).fill("Patient travelling")
    row.get_by_role("button", name="Reschedule visit").click()
    expect(page.locator(".flash-error")).to_contain_text("outside the visit window")
    unchanged = next(e for e in api(client, auth, demo["users"]["nurse"], f"/patients/{patient_id}/calendar")["events"]
                     if e["id"] == event_id)
    assert unchanged["target_date"] == before["target_date"]
    shot(page, "nurse-reschedule-refused")

    row = page.locator(f"li.row[data-event-id='{event_id}']")
    row.locator("summary").click()
    row.get_by_label("New day").fill(date.fromordinal(outside).isoformat())
    row.get_by_label("Reason", exact=True).fill("Patient travelling")
    row.get_by_label("Outside the window: I confirm").check()
    row.get_by_role("button", name="Reschedule visit").click()
    expect(page.locator(".flash-success")).to_contain_text("rescheduled")
    moved = next(e for e in api(client, auth, demo["users"]["nurse"], f"/patients/{patient_id}/calendar")["events"]
                 if e["id"] == event_id)
    assert moved["target_date"] == date.fromordinal(outside).isoformat()
    assert "rescheduled" in moved["flags"]


def test_a_nurse_switches_site_and_opens_a_patients_timeline(page, client, auth, demo):
    sign_in(page, "nurse")
    page.goto("/console/sites/SH01")
    page.get_by_label("Site", exact=True).select_option("BJ01")
    page.wait_for_url("**/console/sites/BJ01")
    page.goto(f"/console/patients/{demo['patients']['SH01-001']}")
    expect(page.get_by_role("heading", name="Patient SH01-001")).to_be_visible()
    timeline = page.get_by_role("img", name="Timeline of doses, tumour scans and surveys of SH01-001")
    expect(timeline).to_be_visible()
    assert timeline.locator("circle.state-given").count() > 0
    assert timeline.locator("polygon.state-response-sd").count() == 1
    strip = page.get_by_role("img", name="Composite grade of each symptom in each survey")
    assert strip.locator("rect.grade-3").count() == 1
    pfs = api(client, auth, demo["users"]["nurse"], f"/patients/{demo['patients']['SH01-001']}/pfs")
    words = page.locator(".pfs-words")
    assert words.get_attribute("data-status") == pfs["status"]
    assert words.get_attribute("data-reason") == pfs["reason"]
    assert words.get_attribute("data-date") == pfs["date"]
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    shot(page, "patient-timeline")


def test_a_patient_at_risk_shows_the_missed_scan_and_the_deadline(page, client, auth, demo):
    sign_in(page, "nurse")
    patient_id = demo["patients"]["BJ01-001"]
    page.goto(f"/console/patients/{patient_id}")
    pfs = api(client, auth, demo["users"]["nurse"], f"/patients/{patient_id}/pfs")
    assert pfs["at_risk"] is True
    timeline = page.get_by_role("img", name="Timeline of doses, tumour scans and surveys of BJ01-001")
    assert timeline.locator("rect.span.state-missed").count() >= 1
    assert timeline.locator("line.milestone.state-deadline").count() == 1
    assert page.locator(f".protect time[datetime='{pfs['protect_deadline']}']").count() == 1
    shot(page, "patient-at-risk")


def test_a_coordinator_reconciles_and_downloads_an_export(page, client, auth, demo):
    sign_in(page, "coordinator")
    page.goto("/console/studies/INET-1L")
    expect(page.get_by_role("heading", name="Study INET-1L")).to_be_visible()
    reconciliation = api(client, auth, demo["users"]["coordinator"], "/studies/INET-1L/reconciliation")
    assert page.locator("table.findings tbody tr").count() == len(reconciliation["findings"])
    page.get_by_role("link", name="Subject", exact=True).click()
    page.wait_for_url("**sort=subject_id**")
    subjects = page.locator("table.findings tbody tr td:nth-child(2)").all_inner_texts()
    assert subjects == sorted(subjects)
    shot(page, "coordinator-study")
    with page.expect_download() as info:
        page.get_by_role("link", name="ADTTE: PFS time-to-event (CSV)").click()
    with open(info.value.path(), encoding="utf-8") as handle:
        downloaded = list(csv.DictReader(io.StringIO(handle.read())))
    answer = client.get("/api/v1/studies/INET-1L/exports/adtte.csv", headers=auth.headers(demo["users"]["coordinator"]))
    assert downloaded == list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert {row["SUBJID"] for row in downloaded} == {"BJ01-001", "BJ01-002", "LDN01-001", "LDN01-002"}


def test_the_console_speaks_simplified_chinese(page, demo):
    sign_in(page, "nurse")
    page.goto("/console/sites/SH01")
    page.get_by_label("Language").select_option("zh_Hans_CN")
    page.wait_for_load_state()
    expect(page.locator("h1")).to_contain_text("今日")
    shot(page, "worklist-zh")
    page.goto(f"/console/patients/{demo['patients']['SH01-001']}")
    titles = page.locator("svg title").all_text_contents()
    assert any(title.startswith("第 1 周期第 1 天") for title in titles), titles[:5]
    assert any(title.startswith("第 1 次肿瘤评估") for title in titles), titles[:5]
    assert not any(title.startswith(("Cycle ", "Tumour assessment ", "Symptom survey ")) for title in titles)
    expect(page.locator("#h-alerts").locator("..")).to_contain_text("综合分级")
    shot(page, "patient-timeline-zh")


def test_a_coordinator_reads_the_reconciliation_in_simplified_chinese(page, client, auth, demo):
    sign_in(page, "coordinator")
    page.goto("/console/studies/INET-1L")
    page.get_by_label("Language").select_option("zh_Hans_CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    details = page.locator("table.findings tbody tr td:nth-child(5)").all_inner_texts()
    reconciliation = api(client, auth, demo["users"]["coordinator"], "/studies/INET-1L/reconciliation")
    assert len(details) == len(reconciliation["findings"])
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in details), details
    assert reconciliation["findings"][0]["detail"].isascii()  # the API's stays English (CONTRACT.md)
    shot(page, "coordinator-study-zh")


def test_the_worklist_is_shown_a_page_at_a_time_most_urgent_first(page, client, auth, demo, monkeypatch):
    from backend.console import sites

    monkeypatch.setattr(sites, "PAGE_SIZE", 3)
    sign_in(page, "nurse")
    api_rows = api(client, auth, demo["users"]["nurse"], "/sites/SH01/worklist")
    pages = -(-len(api_rows) // 3)
    assert pages > 1
    page.goto("/console/sites/SH01")
    seen = []
    for number in range(1, pages + 1):
        rows = page.locator("li.row")
        assert rows.count() == min(3, len(api_rows) - 3 * (number - 1))
        seen += rows.evaluate_all("els => els.map(e => [e.dataset.kind, e.dataset.subject, e.dataset.eventId])")
        pager = page.get_by_role("navigation", name="Pages of the worklist").first
        expect(pager.locator("[aria-current=page]")).to_have_text(str(number))
        if number == 1:
            shot(page, "worklist-paged")
        if number < pages:
            pager.get_by_role("link", name="Next page").click()
            page.wait_for_url(f"**/console/sites/SH01?page={number + 1}")
    assert seen == [[r["kind"], r["subject_id"], r["event_id"] or ""] for r in api_rows]
    page.goto("/console/sites/SH01?page=999")  # out of range: the last page
    expect(page.get_by_role("navigation", name="Pages of the worklist").first.locator("[aria-current=page]")).to_have_text(str(pages))


def test_a_booked_scan_or_visit_shows_its_time_instead_of_asking_to_book(page, client, auth, demo):
    sign_in(page, "nurse")
    row = next(r for r in api(client, auth, demo["users"]["nurse"], "/sites/SH01/worklist")
               if r["kind"] == "visit_due" and r["event_id"])
    answer = client.patch(f"/api/v1/patients/{row['patient_id']}/events/{row['event_id']}",
                          json={"appointment": {"time": "09:30", "location": "Imaging, 2nd floor"}},
                          headers=auth.headers(demo["users"]["nurse"]))
    db.session.rollback()
    assert answer.status_code == 200, answer.get_json()
    (booked,) = [r for r in api(client, auth, demo["users"]["nurse"], "/sites/SH01/worklist")
                 if r["event_id"] == row["event_id"]]
    assert booked["action"].startswith("Booked for ") and "at 09:30 (Imaging, 2nd floor)" in booked["action"]
    page.goto("/console/sites/SH01")
    action = page.locator(f"li.row[data-event-id='{row['event_id']}'] .action")
    expect(action).to_contain_text("Booked for")
    expect(action).to_contain_text("09:30 (Imaging, 2nd floor)")
    shot(page, "worklist-booked")


def test_the_worklist_rows_speak_simplified_chinese(page, client, auth, demo):
    sign_in(page, "nurse")
    page.goto("/console/sites/SH01")
    page.get_by_label("Language").select_option("zh_Hans_CN")
    page.wait_for_load_state()
    expect(page.locator("li.row[data-kind=symptom_alert] .what").first).to_contain_text("症状警报")
    expect(page.locator("li.row[data-kind=symptom_alert] .what").first).to_contain_text("综合分级")
    expect(page.locator("li.row[data-kind=symptom_alert] .action").first).to_contain_text("致电患者")
    texts = page.locator("li.row .action").all_inner_texts()
    assert texts and all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in texts), texts
    # Visits by their Chinese names: 第 1 周期第 8 天, 第 2 次症状问卷 (the API keeps the stored English label).
    visits = page.locator("li.row[data-kind=visit_due] .what").all_inner_texts()
    assert visits and all("周期" in text and "Cycle" not in text for text in visits), visits
    assert not any(word in text for text in page.locator("li.row .what").all_inner_texts()
                   for word in ("Cycle ", "Symptom survey", "Tumour assessment")), "an English visit name"
    # The API's JSON stays English (CONTRACT.md).
    assert api(client, auth, demo["users"]["nurse"], "/sites/SH01/worklist")[0]["action"].startswith("Call the patient")
    shot(page, "worklist-rows-zh")


def test_an_unknown_console_address_shows_the_consoles_not_found_page(page, demo):
    sign_in(page, "nurse")
    answer = page.goto("/console/sites/SH01/no-such-thing")
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the console")).to_be_visible()
    shot(page, "console-not-found")
