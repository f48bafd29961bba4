"""Set-up of studies, sites and users (CONTRACT.md "Set-up")."""
import pytest

from tests.factories import StudyFactory, UserFactory


def test_admin_creates_a_study_with_contract_defaults(client, auth):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/studies", json={"code": "INET-1L", "title": "First line"}, headers=auth.headers(admin))
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["assessment_schedule"] == {"interval_days": 42, "window_days": 7, "phases": None}
    assert body["pfs_missed_rule"] == "visits"


def test_a_duplicate_study_code_is_a_conflict(client, auth):
    admin = UserFactory(role="admin")
    StudyFactory(code="DUP")
    answer = client.post("/api/v1/studies", json={"code": "DUP", "title": "x"}, headers=auth.headers(admin))
    assert answer.status_code == 409
    assert answer.get_json()["reason"] == "duplicate_study"


@pytest.mark.parametrize("field, value", [
    ("timezone", "Mars/Olympus_Mons"),
    ("timezone", "CST"),
    # In the tz database but not a place (issue 10): IANA Area/Location and UTC only.
    ("timezone", "Factory"),
    ("timezone", "localtime"),
    ("timezone", "EST5EDT"),
    ("timezone", "Etc/GMT+5"),
    ("timezone", "US/Eastern"),
    ("timezone", "GMT"),
    ("country", "cn"),
    ("country", "XX"),
    ("study", "NO-SUCH-STUDY"),
])
def test_a_site_with_a_bad_zone_country_or_study_is_422_naming_the_field(client, auth, field, value):
    admin = UserFactory(role="admin")
    StudyFactory(code="S")
    body = {"code": "S01", "name": "Site", "study": "S", "timezone": "Asia/Shanghai", "country": "CN"}
    body[field] = value
    answer = client.post("/api/v1/sites", json=body, headers=auth.headers(admin))
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/Argentina/Buenos_Aires", "Europe/London"])
def test_a_site_accepts_area_location_zones_and_utc(client, auth, zone):
    StudyFactory(code="S")
    body = {"code": "S01", "name": "Site", "study": "S", "timezone": zone, "country": "CN"}
    assert client.post("/api/v1/sites", json=body, headers=auth.headers(UserFactory(role="admin"))).status_code == 201


def test_a_coordinator_creates_sites_only_in_their_studies(client, auth):
    mine = StudyFactory(code="MINE")
    StudyFactory(code="THEIRS")
    coordinator = UserFactory(role="coordinator", studies=[mine])
    body = {"code": "S01", "name": "Site", "study": "MINE", "timezone": "Europe/London", "country": "GB"}
    assert client.post("/api/v1/sites", json=body, headers=auth.headers(coordinator)).status_code == 201
    body.update(code="S02", study="THEIRS")
    assert client.post("/api/v1/sites", json=body, headers=auth.headers(coordinator)).status_code == 422


def test_users_are_created_without_their_password_in_the_answer(client, auth):
    admin = UserFactory(role="admin")
    StudyFactory(code="ST")
    answer = client.post("/api/v1/users", json={"username": "coord1", "password": "long enough pw", "role": "coordinator",
                                                "studies": ["ST"]}, headers=auth.headers(admin))
    assert answer.status_code == 201
    body = answer.get_json()
    assert "password" not in body and "password_hash" not in body
    assert body["studies"] == ["ST"]
    again = client.post("/api/v1/users", json={"username": "coord1", "password": "long enough pw", "role": "nurse"},
                        headers=auth.headers(admin))
    assert again.status_code == 409


def test_a_coordinator_cannot_create_an_admin(client, auth):
    coordinator = UserFactory(role="coordinator")
    answer = client.post("/api/v1/users", json={"username": "sneaky", "password": "long enough pw", "role": "admin"},
                         headers=auth.headers(coordinator))
    assert answer.status_code == 403


def test_the_first_admin_is_made_from_the_command_line(runner, client):
    result = runner.invoke(args=["users", "create", "--role", "admin", "--username", "root", "--password", "s3cret-passw0rd"])
    assert result.exit_code == 0, result.output
    answer = client.post("/api/v1/auth/login", json={"username": "root", "password": "s3cret-passw0rd"})
    assert answer.status_code == 200 and answer.get_json()["user"]["role"] == "admin"


def test_demo_load_is_idempotent(runner, db):
    from backend.models import AuditRecord

    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "cadence-demo-2026" in first.output
    count = db.session.query(AuditRecord).count()
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0
    assert db.session.query(AuditRecord).count() == count


@pytest.mark.parametrize("settings, field", [
    pytest.param({"colour": "blue"}, "settings", id="unknown setting"),
    pytest.param({"regimen_overrides": {"INET-PAC": {"agents": {"paclitaxel": {"dose": -5}}}}}, "settings",
                 id="a dose the regimen rules refuse"),
    pytest.param({"survey": {"interval_days": 7, "window_days": 9}}, "settings", id="survey window past the next survey"),
    pytest.param({"planning_horizon_days": 0}, "settings", id="no planning horizon"),
    pytest.param({"symptom_panel": [999]}, "settings", id="PRO-CTCAE term that does not exist"),
    pytest.param({"alert_rules": {"composite_grade_at_least": 5}}, "settings", id="composite grades run 0..3"),
    pytest.param({"alert_escalation_hours": -1}, "settings", id="negative escalation limit"),
    pytest.param({"reminder_policy": {"quiet_hours": "late"}}, "settings", id="unreadable quiet hours"),
])
def test_study_settings_are_checked_when_the_study_is_set_up(client, auth, settings, field):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/studies", json={"code": "CHK", "title": "Checked", "settings": settings},
                         headers=auth.headers(admin))
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]["json"]


def test_a_sound_protocol_with_phases_and_policies_is_accepted(client, auth):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/studies", json={
        "code": "OK1", "title": "Phased",
        "assessment_schedule": {"interval_days": 42, "window_days": 7, "phases": [[336, 42], [None, 84]]},
        "settings": {"symptom_panel": [9, 10, 16], "alert_rules": {"rise_at_least": None},
                     "regimen_overrides": {"INET-PAC": {"agents": {"paclitaxel": {"dose": 90}}}}}},
        headers=auth.headers(admin))
    assert answer.status_code == 201, answer.get_json()
