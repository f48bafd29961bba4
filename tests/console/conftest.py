"""The console under a real browser: the app served by a real HTTP server on 127.0.0.1 (a thread),
Chromium driven by Playwright's Python API, and the demo data set with a few reports and scans.

Chromium is the Debian package (`/usr/bin/chromium`, or CHROMIUM_PATH); `.ci/run` installs it when it
is missing. Playwright's own browser download is not used.
"""
from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEMO_PASSWORD = "cadence-demo-2026"
SEVERE_NAUSEA = [{"item": "PROCTCAE_9A_SCL", "value": 4}, {"item": "PROCTCAE_9B_SCL", "value": 3}]
MILD_NAUSEA = [{"item": "PROCTCAE_9A_SCL", "value": 1}, {"item": "PROCTCAE_9B_SCL", "value": 1}]


@pytest.fixture(scope="session")
def live_server(app):
    """The app on a free port of 127.0.0.1, served by werkzeug in a thread for the whole session."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` (see .ci/run).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture()
def laptop_cookies(app, monkeypatch):
    """The test server speaks plain HTTP, as a laptop demo does: the session cookie without Secure."""
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", False)


@pytest.fixture()
def page(browser, live_server, laptop_cookies, demo):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, username: str, password: str = DEMO_PASSWORD):
    page.goto("/console/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture()
def demo(db, app, client, auth):
    """The demo data set, plus symptom reports (one severe), a baseline and a response for SH01-001, and a
    baseline for BJ01-001, whose first scan (week 6) was then missed."""
    from backend.models import Patient, User
    from backend.services.demo import load_demo

    load_demo()
    patients = {p.subject_id: p for p in db.session.scalars(sa.select(Patient))}
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    first = patients["SH01-001"]
    now = datetime.now(timezone.utc)
    for days_ago, answers in ((30, MILD_NAUSEA), (16, MILD_NAUSEA), (2, SEVERE_NAUSEA)):
        body = {"client_report_id": str(uuid.uuid4()), "completed_at": (now - timedelta(days=days_ago)).isoformat(),
                "answers": answers}
        answer = client.post(f"/api/v1/patients/{first.id}/symptom-reports", json=body,
                             headers=auth.headers(users["patient1"]))
        assert answer.status_code == 201, answer.get_json()
    coordinator = auth.headers(users["coordinator"])
    for body in ({"date": (first.first_dose_date - timedelta(days=5)).isoformat(), "baseline": True},
                 {"date": (now.date() - timedelta(days=1)).isoformat(), "overall_response": "SD"}):
        answer = client.post(f"/api/v1/patients/{first.id}/assessments", json=body, headers=coordinator)
        assert answer.status_code == 201, answer.get_json()
    baseline = {"date": (patients["BJ01-001"].first_dose_date - timedelta(days=3)).isoformat(), "baseline": True}
    answer = client.post(f"/api/v1/patients/{patients['BJ01-001'].id}/assessments", json=baseline, headers=coordinator)
    assert answer.status_code == 201, answer.get_json()
    db.session.commit()
    return {"patients": {k: str(v.id) for k, v in patients.items()}, "users": users}
