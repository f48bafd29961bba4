"""Accounts (CONTRACT.md "Set-up"): one password rule for every role and every way in; usernames are
case-insensitive; a coordinator learns nothing about sites and studies outside theirs."""
import pytest

from tests.factories import SiteFactory, StudyFactory, UserFactory

GOOD = "a long and odd passphrase"


def create(client, auth, caller, **body):
    return client.post("/api/v1/users", json={"username": "someone", "password": GOOD, "role": "nurse", **body},
                       headers=auth.headers(caller))


@pytest.mark.parametrize("role", ["admin", "coordinator", "nurse", "patient"])
@pytest.mark.parametrize(("password", "why"), [
    ("eleven-char", "shorter than 12 characters"),
    ("someone-2026-x", "contains the username"),
    ("SOMEONE12345", "the username with digits"),
    ("password1234", "common"),
    ("Welcome2024!", "common, whatever the case"),
    ("qwertyuiop123", "a keyboard walk"),
])
def test_every_role_gets_the_same_password_rule(client, auth, role, password, why):
    answer = create(client, auth, UserFactory(role="admin"), role=role, password=password)
    assert answer.status_code == 422, why
    assert "password" in answer.get_json()["errors"]["json"]


def test_a_good_password_is_accepted_for_every_role(client, auth):
    admin = UserFactory(role="admin")
    for number, role in enumerate(["admin", "coordinator", "nurse", "patient"]):
        assert create(client, auth, admin, username=f"user-{number}", role=role).status_code == 201


def test_the_command_line_follows_the_same_rule(runner):
    weak = runner.invoke(args=["users", "create", "--role", "admin", "--username", "boss", "--password", "password1234"])
    assert weak.exit_code != 0 and "too common" in weak.output
    short = runner.invoke(args=["users", "create", "--role", "admin", "--username", "boss", "--password", "short"])
    assert short.exit_code != 0 and "12 characters" in short.output


def test_usernames_are_case_insensitive_and_unique(client, auth):
    admin = UserFactory(role="admin")
    assert create(client, auth, admin, username="Nurse.Wang").status_code == 201
    again = create(client, auth, admin, username="nurse.wang")
    assert again.status_code == 409 and again.get_json()["reason"] == "duplicate_username"


def test_the_database_refuses_two_usernames_differing_only_by_case(db):
    import sqlalchemy as sa

    UserFactory(username="Admin2")
    with pytest.raises(sa.exc.IntegrityError, match="uq_users_username_lower"):
        UserFactory(username="admin2")
    db.session.rollback()


def test_a_coordinator_cannot_tell_a_site_of_another_study_from_no_site(client, auth):
    mine = StudyFactory(code="MINE")
    SiteFactory(code="THEIRS01", study=StudyFactory(code="THEIRS"))
    coordinator = UserFactory(role="coordinator", studies=[mine])
    theirs = create(client, auth, coordinator, sites=["THEIRS01"]).get_json()
    missing = create(client, auth, coordinator, sites=["NONE01"]).get_json()
    assert theirs["code"] == missing["code"] == 422
    assert theirs["message"].replace("THEIRS01", "X") == missing["message"].replace("NONE01", "X")
    other_study = create(client, auth, coordinator, role="nurse", studies=["THEIRS"]).get_json()
    no_study = create(client, auth, coordinator, role="nurse", studies=["NOSTUDY"]).get_json()
    assert other_study["message"].replace("THEIRS", "X") == no_study["message"].replace("NOSTUDY", "X")


def test_a_coordinator_cannot_learn_that_admin_exists(client, auth):
    mine = StudyFactory(code="MINE")
    coordinator = UserFactory(role="coordinator", studies=[mine])
    absent = create(client, auth, coordinator, username="admin", role="nurse").get_json()
    UserFactory(role="admin", username="admin")
    present = create(client, auth, coordinator, username="admin", role="nurse").get_json()
    assert absent == present and absent["code"] == 409
