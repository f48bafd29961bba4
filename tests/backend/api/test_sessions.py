"""Sessions (CONTRACT.md "Authentication"): a sign-in's tokens live and die together; refresh tokens
rotate; a retired refresh token coming back is theft; sign out everywhere, also by an admin."""
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import sqlalchemy as sa

from backend.models import SecurityEvent, SignIn
from tests.factories import PASSWORD, UserFactory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, user) -> dict:
    answer = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 200
    return answer.get_json()


def refresh(client, refresh_token: str):
    return client.post("/api/v1/auth/refresh", headers=bearer(refresh_token))


def test_logout_ends_the_whole_sign_in_access_and_refresh(client):
    tokens = sign_in(client, UserFactory())
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401
    after = refresh(client, tokens["refresh_token"])
    assert after.status_code == 401 and after.get_json()["reason"] == "token_revoked"


def test_logout_with_the_refresh_token_ends_the_sign_in_too(client):
    tokens = sign_in(client, UserFactory())
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["refresh_token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_logout_ends_only_that_sign_in(client):
    user = UserFactory()
    phone, desk = sign_in(client, user), sign_in(client, user)
    client.post("/api/v1/auth/logout", headers=bearer(phone["access_token"]))
    assert client.get("/api/v1/me", headers=bearer(desk["access_token"])).status_code == 200


def test_each_refresh_rotates_and_the_new_refresh_token_works(client):
    tokens = sign_in(client, UserFactory())
    first = refresh(client, tokens["refresh_token"]).get_json()
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(second.get_json()["access_token"])).status_code == 200


def test_reusing_a_retired_refresh_token_is_theft_and_ends_the_sign_in(client, db):
    user = UserFactory()
    tokens = sign_in(client, user)
    rotated = refresh(client, tokens["refresh_token"]).get_json()
    replay = refresh(client, tokens["refresh_token"])  # the stolen copy comes back
    assert replay.status_code == 401 and replay.get_json()["reason"] == "token_revoked"
    # Both holders lose the sign-in: the rotated refresh token and every access token of it.
    assert refresh(client, rotated["refresh_token"]).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(rotated["access_token"])).status_code == 401
    kinds = db.session.scalars(sa.select(SecurityEvent.kind).where(SecurityEvent.user_id == user.id)).all()
    assert "refresh_reused" in kinds


def test_sign_out_everywhere_ends_every_sign_in_of_the_caller_only(client):
    user, colleague = UserFactory(), UserFactory()
    phone, desk, theirs = sign_in(client, user), sign_in(client, user), sign_in(client, colleague)
    assert client.post("/api/v1/auth/logout-all", headers=bearer(phone["access_token"])).status_code == 204
    for tokens in (phone, desk):
        assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401
        assert refresh(client, tokens["refresh_token"]).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(theirs["access_token"])).status_code == 200
    # Signing in again afterwards works: the account is not locked, its old sign-ins are over.
    assert client.get("/api/v1/me", headers=bearer(sign_in(client, user)["access_token"])).status_code == 200


def test_an_admin_ends_every_sign_in_of_an_account(client, auth, db):
    admin, nurse = UserFactory(role="admin"), UserFactory(role="nurse")
    tokens = sign_in(client, nurse)
    answer = client.post(f"/api/v1/users/{nurse.id}/sessions/revoke", headers=auth.headers(admin))
    assert answer.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert refresh(client, tokens["refresh_token"]).status_code == 401
    event = db.session.scalars(sa.select(SecurityEvent).where(SecurityEvent.kind == "sessions_revoked")).one()
    assert event.user_id == nurse.id and event.actor_id == admin.id


@pytest.mark.parametrize("role", ["coordinator", "nurse", "patient"])
def test_only_admins_end_other_peoples_sign_ins(client, auth, role):
    target = UserFactory()
    answer = client.post(f"/api/v1/users/{target.id}/sessions/revoke", headers=auth.headers(UserFactory(role=role)))
    assert answer.status_code == 403


def test_ending_the_sign_ins_of_no_such_account_is_404(client, auth):
    admin = UserFactory(role="admin")
    for raw in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        assert client.post(f"/api/v1/users/{raw}/sessions/revoke", headers=auth.headers(admin)).status_code == 404


def _sign_in_of(tokens) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]


def _forged(app, user, sign_in_id, **changes) -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": str(user.id), "role": user.role, "type": "access", "jti": "j-1", "sid": str(sign_in_id),
              "iat": now, "exp": now + timedelta(minutes=5), "fresh": False}
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")


@pytest.mark.parametrize("changes", [
    {"exp": None}, {"jti": None}, {"sid": None}, {"type": "session"}, {"type": "refresh_v2"},
    {"jti": ""}, {"sid": "not-a-sign-in"}, {"exp": "tomorrow"},
], ids=["no exp", "no jti", "no sign-in", "unknown type", "another unknown type", "empty jti", "bad sid",
        "exp not a number"])
@pytest.mark.parametrize("route", ["/api/v1/me", "/api/v1/auth/logout", "/api/v1/auth/refresh",
                                   "/api/v1/auth/logout-all"])
def test_tokens_missing_what_we_always_issue_are_refused_at_the_door(app, client, auth, changes, route):
    """A token signed with our key but without an expiry, an id or a sign-in, or of a type we never
    issue, is 401 on every route (never accepted, never a 500)."""
    user = UserFactory()
    token = _forged(app, user, _sign_in_of(auth.tokens(user)), **changes)
    method = client.get if route == "/api/v1/me" else client.post
    answer = method(route, headers=bearer(token))
    assert answer.status_code == 401
    assert answer.get_json()["code"] == 401


def test_a_well_formed_forged_token_of_a_live_sign_in_is_accepted(app, client, auth):
    """The control for the test above: only the missing claim makes the difference."""
    user = UserFactory()
    token = _forged(app, user, _sign_in_of(auth.tokens(user)))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_sign_ins_and_sign_outs_are_in_the_security_log_without_secrets(client, db):
    user = UserFactory()
    client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong password"})
    client.post("/api/v1/auth/login", json={"username": "nobody-at-all", "password": PASSWORD})
    tokens = sign_in(client, user)
    client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    events = db.session.scalars(sa.select(SecurityEvent).order_by(SecurityEvent.id)).all()
    assert [(e.kind, e.user_id) for e in events] == [
        ("sign_in_failed", user.id), ("sign_in_failed", None), ("sign_in", user.id), ("sign_out", user.id)]
    assert all(e.address == "127.0.0.1" for e in events)
    stored = repr([(e.detail, e.request_id) for e in events])
    for secret in ("wrong password", PASSWORD, "nobody-at-all", tokens["access_token"], tokens["refresh_token"]):
        assert secret not in stored


def test_the_app_cannot_rewrite_the_security_log(client, db):
    sign_in(client, UserFactory())
    with pytest.raises(sa.exc.DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE security_events SET kind = 'sign_out'"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignIn)) == 1
