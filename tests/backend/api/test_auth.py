"""Sign-in, refresh and sign-out (CONTRACT.md "Authentication")."""
from tests.factories import PASSWORD, PatientFactory, UserFactory


def login(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_answers_tokens_and_the_user(client):
    user = UserFactory(role="nurse")
    answer = login(client, user.username)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"]
    assert body["user"] == {"id": str(user.id), "username": user.username, "role": "nurse"}


def test_wrong_username_and_wrong_password_answer_the_same(client):
    user = UserFactory()
    wrong_password = login(client, user.username, "not the password")
    unknown_user = login(client, "nobody-here", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.get_json() == unknown_user.get_json()
    assert wrong_password.get_json()["reason"] == "invalid_credentials"


def test_a_throttled_username_answers_like_a_wrong_password(client):
    """Five wrong guesses a minute for one username from one address: the sixth try, even with the
    right password, is answered exactly as a wrong password (no 429 that says "this account exists")."""
    user = UserFactory()
    wrong = login(client, user.username, "wrong")
    for _ in range(4):
        assert login(client, user.username, "wrong").status_code == 401
    blocked = login(client, user.username, PASSWORD)
    assert blocked.status_code == 401
    assert blocked.get_json() == wrong.get_json()
    # Another username from the same address is not blocked by this user's limit.
    assert login(client, UserFactory().username).status_code == 200


def test_a_stranger_cannot_lock_a_nurse_out_from_another_address(client):
    """The throttle counts one username from one address: guesses from elsewhere do not block the
    nurse signing in from the ward."""
    nurse = UserFactory(role="nurse")
    for _ in range(10):
        client.post("/api/v1/auth/login", json={"username": nurse.username, "password": "guess"},
                    environ_base={"REMOTE_ADDR": "203.0.113.9"})
    answer = client.post("/api/v1/auth/login", json={"username": nurse.username, "password": PASSWORD},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert answer.status_code == 200


def test_one_address_is_limited_across_usernames(app, client):
    """The per-address limit still holds (here lowered to 3 a minute): 429 with Retry-After."""
    app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "3 per minute"
    try:
        answers = [client.post("/api/v1/auth/login", json={"username": f"someone{i}", "password": "x"},
                               environ_base={"REMOTE_ADDR": "192.0.2.44"}) for i in range(4)]
    finally:
        app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "1000 per minute"
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[-1].get_json()["reason"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_usernames_are_case_insensitive_at_sign_in(client):
    user = UserFactory(username="Nurse.Li")
    assert login(client, "nurse.li").status_code == 200
    assert login(client, "NURSE.LI").get_json()["user"]["id"] == str(user.id)


def test_unknown_fields_in_the_body_are_rejected(client):
    answer = client.post("/api/v1/auth/login", json={"username": "a", "password": "b", "remember": True})
    assert answer.status_code == 422
    assert "remember" in answer.get_json()["errors"]["json"]


def test_refresh_gives_a_new_access_token_and_rotates_the_refresh_token(client):
    user = UserFactory()
    tokens = login(client, user.username).get_json()
    answer = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert answer.status_code == 200
    assert set(answer.get_json()) == {"access_token", "expires_in", "refresh_token"}
    assert answer.get_json()["refresh_token"] != tokens["refresh_token"]
    # An access token is not a refresh token.
    refused = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert refused.status_code == 401


def test_logout_revokes_the_token_for_good(client):
    user = UserFactory()
    tokens = login(client, user.username).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    answer = client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["reason"] == "token_revoked"


def test_a_revoked_token_stays_revoked_when_redis_forgets(client, app):
    """Redis is a cache of the blocklist; the database copy survives a Redis restart."""
    import redis

    user = UserFactory()
    tokens = login(client, user.username).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client.post("/api/v1/auth/logout", headers=headers)
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_me_for_a_patient_carries_the_patient_id(client, auth):
    account = UserFactory(role="patient")
    patient = PatientFactory(user_id=account.id)
    body = client.get("/api/v1/me", headers=auth.headers(account)).get_json()
    assert body["role"] == "patient"
    assert body["patient_id"] == str(patient.id)


def test_errors_use_the_one_shape(client):
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert set(answer.get_json()) == {"code", "status", "message", "reason"}
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.get_json()["reason"] == "not_found"
    garbage = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert garbage.status_code == 401 and garbage.get_json()["reason"] == "invalid_token"


def test_a_body_that_is_not_json_is_422(client):
    answer = client.post("/api/v1/auth/login", data="{bad json", content_type="application/json")
    assert answer.status_code == 422
    assert answer.get_json()["reason"] == "invalid_json"
