"""The calendar's fast path in front of Flask (backend/api/calendar_fast_path.py): it answers only a
current If-None-Match or a cached text, with exactly the Flask path's status, headers and body, after
the same checks; every other request reaches Flask untouched."""
from __future__ import annotations

import gzip
import time

import jwt
import pytest

from backend.api.calendar_fast_path import CalendarFastPath
from tests.factories import SiteFactory, UserFactory


@pytest.fixture()
def answered(monkeypatch):
    """The requests the fast path answered (the others went to Flask)."""
    seen: list[str] = []
    answer = CalendarFastPath._answer

    def spy(self, environ, raw_id):
        result = answer(self, environ, raw_id)
        if result is not None:
            seen.append(result[0])
        return result

    monkeypatch.setattr(CalendarFastPath, "_answer", spy)
    return seen


def url(patient):
    return f"/api/v1/patients/{patient.id}/calendar"


def flask_only(monkeypatch):
    monkeypatch.setattr(CalendarFastPath, "_answer", lambda self, environ, raw_id: None)


@pytest.mark.parametrize("who", ["nurse", "patient"])
def test_it_answers_exactly_what_flask_answers(client, auth, nurse, patient_and_user, answered, monkeypatch, who):
    patient, user = patient_and_user
    headers = {**auth.headers(nurse if who == "nurse" else user), "X-Request-ID": "req-1"}
    made = client.get(url(patient), headers=headers)  # made by Flask and cached
    etag = made.headers["ETag"]
    fast = [client.get(url(patient), headers=headers),
            client.get(url(patient), headers={**headers, "If-None-Match": etag})]
    assert answered == ["200 OK", "304 NOT MODIFIED"]
    flask_only(monkeypatch)
    slow = [client.get(url(patient), headers=headers),
            client.get(url(patient), headers={**headers, "If-None-Match": etag})]
    for a, b in zip(fast, slow):
        assert (a.status, sorted(a.headers.items()), a.data) == (b.status, sorted(b.headers.items()), b.data)


@pytest.mark.parametrize("accept", ["gzip", "br", "gzip, br", "br;q=0.5, gzip;q=1.0", "identity"])
def test_compressed_answers_are_what_flask_compress_makes(client, auth, nurse, patient_and_user, answered,
                                                         monkeypatch, accept):
    patient, _ = patient_and_user
    headers = {**auth.headers(nurse), "X-Request-ID": "req-1", "Accept-Encoding": accept}
    client.get(url(patient), headers=headers)
    fast = [client.get(url(patient), headers=headers) for _ in range(2)]  # compressed once, then kept
    assert answered == ["200 OK", "200 OK"]
    flask_only(monkeypatch)
    slow = client.get(url(patient), headers=headers)
    for a in fast:
        same = {**dict(slow.headers), "Content-Length": str(len(a.data))}
        if "Date" in slow.headers:  # the time it was answered
            same["Date"] = a.headers.get("Date")
        assert sorted(a.headers.items()) == sorted(same.items())
        assert decoded(a) == decoded(slow)


def decoded(answer) -> bytes:
    import brotli

    encoding = answer.headers.get("Content-Encoding")
    return {"gzip": gzip.decompress, "br": brotli.decompress}.get(encoding, lambda data: data)(answer.data)


def test_a_fresh_request_id_is_given_when_none_is_sent(client, auth, nurse, patient_and_user, answered):
    patient, _ = patient_and_user
    headers = auth.headers(nurse)
    etag = client.get(url(patient), headers=headers).headers["ETag"]
    ids = {client.get(url(patient), headers={**headers, "If-None-Match": etag}).headers["X-Request-ID"]
           for _ in range(2)}
    assert answered == ["304 NOT MODIFIED"] * 2 and len(ids) == 2


def test_refusals_are_flasks_to_answer(client, auth, site, nurse, patient_and_user, answered, app):
    patient, user = patient_and_user
    headers = auth.headers(user)
    etag = client.get(url(patient), headers=headers).headers["ETag"]
    current = {"If-None-Match": etag}
    stranger = UserFactory(role="nurse", sites=[SiteFactory()])
    tokens = auth.tokens(user)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    cases = [
        ({}, 401),  # no token
        ({"Authorization": "Bearer not-a-token"}, 401),
        ({"Authorization": f"Bearer {tokens['refresh_token']}"}, 401),  # a refresh token
        ({"Authorization": f"Bearer {expired}"}, 401),
        ({**auth.headers(stranger)}, 404),  # out of scope
        ({**headers, "X-Request-ID": "bad id!"}, 422),
    ]
    for extra, status in cases:
        answer = client.get(url(patient), headers={**current, **extra})
        assert answer.status_code == status, extra
    assert answered == []


def test_a_query_string_or_a_body_goes_to_flask(client, auth, nurse, patient_and_user, answered):
    patient, _ = patient_and_user
    headers = auth.headers(nurse)
    client.get(url(patient) + "?kind=dose", headers=headers)
    assert client.get(url(patient) + "?kind=dose", headers=headers).status_code == 200
    hostile = client.get(url(patient), headers=headers, data='{"a": "\\u0000"}', content_type="application/json")
    assert hostile.status_code == 422 and hostile.get_json()["reason"] == "nul_byte"  # backend.guards
    assert answered == []


def test_it_is_not_installed_when_every_route_is_rate_limited(app):
    from flask import Flask

    from backend.api.calendar_fast_path import register_calendar_fast_path

    # A bare app: a second Cadence app would change the limits of the one extension both share.
    limited = Flask(__name__)
    limited.config.update(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                          RATELIMIT_DEFAULT="100 per minute")
    register_calendar_fast_path(limited)
    assert not any(isinstance(layer, CalendarFastPath) for layer in wsgi_layers(limited))
    assert any(isinstance(layer, CalendarFastPath) for layer in wsgi_layers(app))


def wsgi_layers(app):
    """The WSGI callables in front of Flask's own, outermost first."""
    wsgi = app.wsgi_app
    while wsgi is not None:
        yield wsgi
        wsgi = getattr(wsgi, "wsgi_app", None)


def test_a_failure_in_the_fast_path_is_answered_by_flask(client, auth, nurse, patient_and_user, monkeypatch):
    patient, _ = patient_and_user
    headers = auth.headers(nurse)
    etag = client.get(url(patient), headers=headers).headers["ETag"]

    def broken(*args, **kwargs):
        raise RuntimeError("the held connection broke")

    monkeypatch.setattr("backend.api.calendar_fast_path.signed_in", broken)
    assert client.get(url(patient), headers={**headers, "If-None-Match": etag}).status_code == 304
    assert client.get(url(patient), headers=headers).status_code == 200
