"""The worklist's fast path in front of Flask (backend/api/worklist_fast_path.py): it answers only the
first page of a worklist already made for today under the site's current key, with exactly the Flask
path's status, headers and body, after the same checks; every other request reaches Flask untouched,
and a worklist that no longer holds is never served from it."""
from __future__ import annotations

import gzip
from datetime import timedelta

import pytest

from backend.api.worklist_fast_path import WorklistFastPath
from backend.extensions import db as _db
from backend.models import TumourAssessment
from backend.services.calendars import local_today
from tests.backend.api.test_calendar_fast_path import wsgi_layers
from tests.factories import PatientFactory, SiteFactory, UserFactory, staff_for
from tests.factories_pfs import dose_event

URL = "/api/v1/sites/SH01/worklist"


@pytest.fixture()
def answered(monkeypatch):
    """The requests the fast path answered (the others went to Flask)."""
    seen: list[str] = []
    answer = WorklistFastPath._answer

    def spy(self, environ, code):
        result = answer(self, environ, code)
        if result is not None:
            seen.append(code)
        return result

    monkeypatch.setattr(WorklistFastPath, "_answer", spy)
    return seen


def flask_only(monkeypatch):
    monkeypatch.setattr(WorklistFastPath, "_answer", lambda self, environ, code: None)


@pytest.fixture()
def overdue_today(site):
    """Sixty patients whose cycle 2 dose visit closed a week ago, unrecorded: more than one page."""
    today = local_today(site.timezone)
    visits = []
    for n in range(60):
        patient = PatientFactory(site=site, subject_id=f"P-{n:03}", first_dose_date=today - timedelta(days=31))
        _db.session.add(TumourAssessment(patient_id=patient.id, date=today - timedelta(days=33), baseline=True))
        visits.append((patient, dose_event(patient, 2, today - timedelta(days=10))))
    _db.session.commit()
    return visits


@pytest.mark.parametrize("role", ["nurse", "coordinator", "admin"])
def test_it_answers_exactly_what_flask_answers(client, auth, site, overdue_today, answered, monkeypatch, role):
    user = UserFactory(role="admin") if role == "admin" else staff_for(site)[role]
    headers = {**auth.headers(user), "X-Request-ID": "req-1"}
    made = client.get(URL, headers=headers)  # derived by Flask and kept
    fast = client.get(URL, headers=headers)
    assert answered == ["SH01"]
    flask_only(monkeypatch)
    slow = client.get(URL, headers=headers)
    assert len(made.get_json()) == 50 and '"total": 60' in made.headers["X-Pagination"]
    for a in (fast, made):
        assert (a.status, sorted(a.headers.items()), a.data) == (slow.status, sorted(slow.headers.items()), slow.data)


@pytest.mark.parametrize("accept", ["gzip", "br", "identity"])
def test_compressed_answers_are_what_flask_compress_makes(client, auth, nurse, overdue_today, answered,
                                                         monkeypatch, accept):
    import brotli

    headers = {**auth.headers(nurse), "X-Request-ID": "req-1", "Accept-Encoding": accept}
    client.get(URL, headers=headers)
    fast = client.get(URL, headers=headers)
    assert answered == ["SH01"]
    flask_only(monkeypatch)
    slow = client.get(URL, headers=headers)
    decode = {"gzip": gzip.decompress, "br": brotli.decompress}.get(fast.headers.get("Content-Encoding"),
                                                                   lambda data: data)
    same = {**dict(slow.headers), "Content-Length": fast.headers["Content-Length"]}
    if "Date" in slow.headers:
        same["Date"] = fast.headers.get("Date")
    assert sorted(fast.headers.items()) == sorted(same.items())
    assert decode(fast.data) == decode(slow.data)


def test_a_visit_recorded_is_never_served_from_the_kept_list(client, auth, nurse, overdue_today, answered):
    patient, visit = overdue_today[0]
    client.get(URL, headers=auth.headers(nurse))
    assert str(visit.id) in {r["event_id"] for r in client.get(URL, headers=auth.headers(nurse)).get_json()}
    recorded = client.patch(f"/api/v1/patients/{patient.id}/events/{visit.id}", headers=auth.headers(nurse),
                            json={"status": "completed", "actual_date": visit.window_end.isoformat()})
    assert recorded.status_code == 200, recorded.get_json()
    after = client.get(URL, headers=auth.headers(nurse))
    assert str(visit.id) not in {r["event_id"] for r in after.get_json()}
    assert answered == ["SH01"]  # the answer after the change was derived anew by Flask


def test_refusals_and_other_pages_are_flasks_to_answer(client, auth, site, nurse, overdue_today, answered):
    client.get(URL, headers=auth.headers(nurse))
    stranger = UserFactory(role="nurse", sites=[SiteFactory(code="BJ09")])
    patient_user = UserFactory(role="patient")
    cases = [
        (URL, {}, 401),
        (URL, {"Authorization": "Bearer not-a-token"}, 401),
        (URL, {"Authorization": f"Bearer {auth.tokens(nurse)['refresh_token']}"}, 401),
        (URL, auth.headers(stranger), 404),  # out of scope, as a missing site
        ("/api/v1/sites/NOPE1/worklist", auth.headers(nurse), 404),
        (URL, auth.headers(patient_user), 403),
        (URL, {**auth.headers(nurse), "X-Request-ID": "bad id!"}, 422),
        (URL + "?page=2", auth.headers(nurse), 200),
    ]
    for url, headers, status in cases:
        assert client.get(url, headers=headers).status_code == status, (url, headers)
    assert answered == []


def test_it_is_not_installed_when_every_route_is_rate_limited(app):
    from flask import Flask

    from backend.api.worklist_fast_path import register_worklist_fast_path

    limited = Flask(__name__)  # a bare app, as in the calendar's test
    limited.config.update(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                          RATELIMIT_DEFAULT="100 per minute")
    register_worklist_fast_path(limited)
    assert not isinstance(limited.wsgi_app, WorklistFastPath)
    assert any(isinstance(layer, WorklistFastPath) for layer in wsgi_layers(app))


def test_a_failure_in_the_fast_path_is_answered_by_flask(client, auth, nurse, overdue_today, monkeypatch):
    expected = client.get(URL, headers=auth.headers(nurse)).get_json()

    def broken(*args, **kwargs):
        raise RuntimeError("the held connection broke")

    monkeypatch.setattr("backend.api.worklist_fast_path.signed_in", broken)
    answer = client.get(URL, headers=auth.headers(nurse))
    assert answer.status_code == 200 and answer.get_json() == expected
