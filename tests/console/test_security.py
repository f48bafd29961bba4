"""The console's guards, through Flask's test client: staff only, CSRF on every form, scope as the API
(404 for another site's patient), sessions that end, and a Content-Security-Policy without inline scripts."""
from __future__ import annotations

import re

import pytest

from backend.extensions import db
from tests.factories import PASSWORD, PatientFactory, SiteFactory, UserFactory

HTTPS = "https://localhost"


def csrf(client, path="/console/sign-in") -> str:
    page = client.get(path, base_url=HTTPS)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, user, password=PASSWORD):
    return client.post("/console/sign-in", base_url=HTTPS,
                       data={"csrf_token": csrf(client), "username": user.username, "password": password})


@pytest.fixture()
def ward(db):
    site, other = SiteFactory(code="SH01"), SiteFactory(code="SH02")
    return {"site": site, "patient": PatientFactory(site=site), "other_patient": PatientFactory(site=other),
            "nurse": UserFactory(role="nurse", sites=[site]), "other_nurse": UserFactory(role="nurse", sites=[other]),
            "patient_user": UserFactory(role="patient")}


def test_the_root_redirects_to_the_console_and_the_console_to_sign_in(client):
    assert client.get("/").headers["Location"].endswith("/console/")
    answer = client.get("/console/sites/SH01", base_url=HTTPS)
    assert answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]


def test_sign_in_sets_a_secure_httponly_lax_session_cookie(client, ward):
    answer = sign_in(client, ward["nurse"])
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_a_patient_account_is_refused_with_a_clear_page(client, ward):
    answer = sign_in(client, ward["patient_user"])
    assert answer.status_code == 403
    assert "This console is for site staff" in answer.get_data(as_text=True)
    assert client.get("/console/sites/SH01", base_url=HTTPS).status_code == 302


def test_wrong_credentials_are_refused_without_saying_which(client, ward):
    answer = sign_in(client, ward["nurse"], password="wrong")
    assert answer.status_code == 401 and "Invalid username or password." in answer.get_data(as_text=True)


def test_a_form_without_the_csrf_token_is_refused(client, ward):
    sign_in(client, ward["nurse"])
    answer = client.post("/console/sign-out", base_url=HTTPS)
    assert answer.status_code == 400
    answer = client.post("/console/sign-in", base_url=HTTPS, data={"username": ward["nurse"].username,
                                                                    "password": PASSWORD})
    assert answer.status_code == 400
    assert client.get("/console/sites/SH01", base_url=HTTPS).status_code == 200  # still signed in


def test_a_nurse_of_another_site_gets_404_for_the_patient_like_a_missing_one(client, ward):
    sign_in(client, ward["other_nurse"])
    out_of_scope = client.get(f"/console/patients/{ward['patient'].id}", base_url=HTTPS)
    missing = client.get("/console/patients/00000000-0000-0000-0000-000000000000", base_url=HTTPS)
    assert out_of_scope.status_code == missing.status_code == 404
    assert client.get("/console/sites/SH01", base_url=HTTPS).status_code == 404
    assert client.get(f"/console/patients/{ward['other_patient'].id}", base_url=HTTPS).status_code == 200


def _main(answer) -> str:
    return re.search(r"<main.*</main>", answer.get_data(as_text=True), re.S).group(0)


@pytest.mark.parametrize("signed_in", [True, False])
def test_an_unknown_console_address_is_the_consoles_html_404_the_same_as_out_of_scope(client, ward, signed_in):
    if signed_in:
        sign_in(client, ward["other_nurse"])
    unknown = client.get("/console/no-such-page/42", base_url=HTTPS)
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    assert "Content-Security-Policy" in unknown.headers
    assert "There is nothing here, or it is not in your sites or studies." in unknown.get_data(as_text=True)
    if signed_in:
        out_of_scope = client.get(f"/console/patients/{ward['patient'].id}", base_url=HTTPS)
        assert out_of_scope.status_code == 404 and _main(out_of_scope) == _main(unknown)
        assert "Sign out" in unknown.get_data(as_text=True)  # the menu of a signed-in page
    # The API keeps the contract's JSON 404.
    api = client.get("/api/v1/no-such-thing", base_url=HTTPS)
    assert api.status_code == 404 and api.get_json()["reason"] == "not_found"


def test_pages_send_a_csp_without_inline_scripts(client, ward):
    sign_in(client, ward["nurse"])
    answer = client.get("/console/sites/SH01", base_url=HTTPS)
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = answer.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert not re.search(r"\son[a-z]+=", html)


def test_signing_out_revokes_the_session_even_for_a_copied_cookie(client, ward, app):
    sign_in(client, ward["nurse"])
    copy = app.test_client()
    cookie = client.get_cookie("cadence_console", domain="localhost")
    copy.set_cookie("cadence_console", cookie.value, domain="localhost")
    assert copy.get("/console/sites/SH01", base_url=HTTPS).status_code == 200
    token = csrf(client, "/console/sites/SH01")
    assert client.post("/console/sign-out", base_url=HTTPS, data={"csrf_token": token}).status_code == 302
    assert copy.get("/console/sites/SH01", base_url=HTTPS).status_code == 302


def test_the_session_ends_when_the_account_is_disabled(client, ward):
    sign_in(client, ward["nurse"])
    assert client.get("/console/sites/SH01", base_url=HTTPS).status_code == 200
    ward["nurse"].is_active = False
    db.session.commit()
    answer = client.get("/console/sites/SH01", base_url=HTTPS)
    assert answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]


def test_the_study_page_is_for_coordinators(client, ward):
    sign_in(client, ward["nurse"])
    assert client.get(f"/console/studies/{ward['site'].study.code}", base_url=HTTPS).status_code == 403
