"""The laptop demo (`make run`: SQLite, built-in secrets, the demo data) serves the phone's calendar and care team.

The suite runs on PostgreSQL; this is the one place that walks the SQLite default end to end, because
PostgreSQL-only reads (the calendar's one-statement sign-in read and its fast path) must stay out of it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backend.app import create_app
from tests.conftest import _redis_url

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "cadence-demo-2026"


def _flask(args: list[str], env: dict[str, str]) -> None:
    flask = str(Path(sys.executable).parent / "flask")
    result = subprocess.run([flask, "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture()
def demo_client(tmp_path):
    """What `make run` serves: the demo loaded into a fresh SQLite file by the flask CLI, the app on it."""
    database = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SECRET_KEY", "CADENCE_TESTING",
                                                            "MIGRATION_DATABASE_URL"}}
    env.update({"CADENCE_DEMO": "1", "DATABASE_URL": database, "REDIS_URL": _redis_url()})
    _flask(["db", "upgrade"], env)
    _flask(["demo", "load"], env)
    app = create_app({"CADENCE_DEMO": True, "SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": _redis_url(),
                      "RATELIMIT_STORAGE_URI": _redis_url()})
    return app.test_client()


def test_a_demo_patient_reads_and_revalidates_their_calendar_on_sqlite(demo_client):
    client = demo_client
    signed_in = client.post("/api/v1/auth/login", json={"username": "patient1", "password": DEMO_PASSWORD})
    assert signed_in.status_code == 200, signed_in.get_json()
    headers = {"Authorization": f"Bearer {signed_in.get_json()['access_token']}"}
    patient_id = client.get("/api/v1/me", headers=headers).get_json()["patient_id"]

    calendar = client.get(f"/api/v1/patients/{patient_id}/calendar", headers=headers)
    assert calendar.status_code == 200, calendar.get_data(as_text=True)[:500]
    assert calendar.get_json()["events"]
    again = client.get(f"/api/v1/patients/{patient_id}/calendar",
                       headers={**headers, "If-None-Match": calendar.headers["ETag"]})
    assert again.status_code == 304

    care_team = client.get("/api/v1/me/care-team", headers=headers).get_json()  # patient1 reads Chinese
    assert care_team["phone"] and care_team["hours"].startswith("周一") and "急诊" in care_team["out_of_hours"]

    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get(f"/api/v1/patients/{patient_id}/calendar", headers=headers).status_code == 401


def test_the_nurses_morning_on_the_laptop_demo(demo_client):
    """The console's worklist and a patient's page, and the API's worklist, on the SQLite demo."""
    client = demo_client

    token = client.post("/api/v1/auth/login", json={"username": "nurse", "password": DEMO_PASSWORD}).get_json()
    rows = client.get("/api/v1/sites/SH01/worklist", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert rows.status_code == 200 and rows.get_json()
    assert all(len(r["patient_id"]) == 36 for r in rows.get_json())  # ids spelled as everywhere else

    page = client.get("/console/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    signed_in = client.post("/console/sign-in", data={"csrf_token": csrf, "username": "nurse",
                                                      "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    worklist = client.get("/console/sites/SH01")
    assert worklist.status_code == 200, worklist.get_data(as_text=True)[:500]
    patient = rows.get_json()[0]["patient_id"]
    assert client.get(f"/console/patients/{patient}").status_code == 200
