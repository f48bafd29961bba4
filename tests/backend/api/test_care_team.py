"""The care team (CONTRACT.md "Devices and reminders": `GET /me/care-team`; "Set-up": sites' `phone`, `hours`,
`out_of_hours`, `PATCH /sites/{code}`): in the patient's language, and in the contact-the-team message."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.models import AuditRecord
from backend.services.care_team import contact_message
from tests.factories import SiteFactory, StudyFactory, UserFactory, staff_for
from tests.factories_reminders import patient_with_account

HOURS = {"en": "Mon-Fri 08:00-17:00", "zh-CN": "周一至周五 08:00-17:00"}
OUT_OF_HOURS = {"en": "Call the hospital switchboard on +86 21 6417 0000.", "zh-CN": "请拨打医院总机 +86 21 6417 0000。"}


@pytest.fixture()
def site(db):
    return SiteFactory(code="SH01", name="Fudan Clinic", phone="+86 21 6417 5590", hours=HOURS,
                       out_of_hours=OUT_OF_HOURS)


@pytest.mark.parametrize("locale, hours, out_of_hours", [
    ("en", HOURS["en"], OUT_OF_HOURS["en"]),
    ("zh-CN", HOURS["zh-CN"], OUT_OF_HOURS["zh-CN"]),
])
def test_a_patient_reads_their_care_team_in_their_language(client, auth, site, locale, hours, out_of_hours):
    patient, user = patient_with_account(site, locale=locale)
    answer = client.get("/api/v1/me/care-team", headers=auth.headers(user))
    assert answer.status_code == 200
    assert answer.get_json() == {"site": "SH01", "name": "Fudan Clinic", "phone": "+86 21 6417 5590",
                                 "hours": hours, "out_of_hours": out_of_hours}


def test_a_text_missing_in_the_patients_language_falls_back_to_english(client, auth, db):
    site = SiteFactory(phone="+44 20 7000 0000", hours={"en": "9 to 5"}, out_of_hours={})
    _, user = patient_with_account(site, locale="zh-CN")
    team = client.get("/api/v1/me/care-team", headers=auth.headers(user)).get_json()
    assert (team["hours"], team["out_of_hours"]) == ("9 to 5", None)


def test_the_care_team_is_for_patients(client, auth, site):
    assert client.get("/api/v1/me/care-team", headers=auth.headers(staff_for(site)["nurse"])).status_code == 403
    assert client.get("/api/v1/me/care-team").status_code == 401


@pytest.mark.parametrize("locale, says", [
    ("en", "please call your care team today on +86 21 6417 5590 (Mon-Fri 08:00-17:00)"),
    ("zh-CN", "请于今天致电您的医护团队：+86 21 6417 5590（周一至周五 08:00-17:00）"),
])
def test_the_contact_your_care_team_message_gives_the_sites_number_and_hours(db, site, locale, says):
    patient, _ = patient_with_account(site, locale=locale)
    message = contact_message(patient)
    assert says in message and OUT_OF_HOURS[locale] in message


def test_without_a_phone_the_message_points_to_the_app(db):
    patient, _ = patient_with_account(SiteFactory(), locale="en")
    assert "their details are in Cadence" in contact_message(patient)


def test_sites_are_created_and_changed_with_their_care_team(client, auth, db):
    study = StudyFactory(code="STUDY-CT")
    admin = UserFactory(role="admin")
    created = client.post("/api/v1/sites", headers=auth.headers(admin), json={
        "code": "BJ01", "name": "Beijing", "study": "STUDY-CT", "timezone": "Asia/Shanghai", "country": "CN",
        "phone": "+86 10 0000 0000", "hours": "Mon-Fri 8-5", "out_of_hours": OUT_OF_HOURS})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["phone"], body["hours"], body["out_of_hours"]) == ("+86 10 0000 0000", {"en": "Mon-Fri 8-5"},
                                                                      OUT_OF_HOURS)
    coordinator = UserFactory(role="coordinator", studies=[study])
    changed = client.patch("/api/v1/sites/BJ01", headers=auth.headers(coordinator),
                           json={"hours": {"zh-CN": "周一至周五 8-5"}, "reason": "translated"})
    assert changed.status_code == 200
    assert changed.get_json()["hours"] == {"en": "Mon-Fri 8-5", "zh-CN": "周一至周五 8-5"}
    audit = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "sites")
                               .order_by(AuditRecord.id)).all()
    assert audit[-1].reason == "translated" and "hours" in audit[-1].changes
    cleared = client.patch("/api/v1/sites/BJ01", headers=auth.headers(admin), json={"phone": None, "out_of_hours": None})
    assert (cleared.get_json()["phone"], cleared.get_json()["out_of_hours"]) == (None, {})


@pytest.mark.parametrize("body, field", [
    ({"phone": "call us"}, "phone"),
    ({"hours": {"fr": "9h-17h"}}, "hours"),
    ({"hours": "x" * 501}, "hours"),
    ({"out_of_hours": "a\x00b"}, "out_of_hours"),
    ({"name": "renamed"}, "name"),
])
def test_care_team_fields_are_validated(client, auth, site, body, field):
    answer = client.patch("/api/v1/sites/SH01", headers=auth.headers(UserFactory(role="admin")), json=body)
    assert answer.status_code == 422 and field in answer.get_json()["errors"]["json"]


def test_sites_out_of_scope_are_not_found_and_nurses_may_not_change_them(client, auth, site):
    other = UserFactory(role="coordinator", studies=[StudyFactory()])
    assert client.patch("/api/v1/sites/SH01", headers=auth.headers(other), json={"phone": None}).status_code == 404
    nurse = staff_for(site)["nurse"]
    assert client.patch("/api/v1/sites/SH01", headers=auth.headers(nurse), json={"phone": None}).status_code == 403
