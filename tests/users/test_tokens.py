import pytest

from mutiroes import create_app
from tests.conftest import bearer


def test_login_with_email_or_username(client, make_user):
    user = make_user()
    by_email = client.post("/api/token/", json={"email": user["email"].upper(), "password": user["password"]})
    assert by_email.status_code == 200
    assert set(by_email.get_json()) == {"access", "refresh"}
    by_username = client.post("/api/token/", json={"username": user["username"], "password": user["password"]})
    assert by_username.status_code == 200
    profile = client.get("/api/users/profile/", headers=bearer(by_username.get_json()))
    assert profile.status_code == 200
    assert profile.get_json()["user"]["username"] == user["username"]


def test_wrong_email_and_wrong_password_give_the_same_401(client, make_user):
    user = make_user()
    wrong_password = client.post("/api/token/", json={"email": user["email"], "password": "nao-e-essa-123"})
    wrong_email = client.post("/api/token/", json={"email": "ninguem@example.org", "password": user["password"]})
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.get_json() == wrong_email.get_json()
    assert wrong_password.get_json()["detail"]


def test_refresh_rotates_and_the_old_refresh_token_stops_working(client, make_user, login):
    tokens = login(make_user())
    rotated = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert rotated.status_code == 200
    new = rotated.get_json()
    assert new["refresh"] != tokens["refresh"]
    assert client.get("/api/users/profile/", headers=bearer(new)).status_code == 200
    second = client.post("/api/token/refresh/", json={"refresh": new["refresh"]})
    assert second.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_login(client, make_user, login):
    user = make_user()
    tokens = login(user)
    other_login = login(user)
    new = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}).get_json()
    reuse = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert reuse.status_code == 401
    assert reuse.get_json()["code"] == "token_reused"
    # every token of that login is dead: the fresh access and the fresh refresh
    assert client.get("/api/users/profile/", headers=bearer(new)).status_code == 401
    assert client.post("/api/token/refresh/", json={"refresh": new["refresh"]}).status_code == 401
    assert client.get("/api/users/profile/", headers=bearer(tokens)).status_code == 401
    # another login of the same account is not affected
    assert client.get("/api/users/profile/", headers=bearer(other_login)).status_code == 200


def test_garbage_and_access_tokens_are_not_refresh_tokens(client, make_user, login):
    tokens = login(make_user())
    for value in ("garbage", tokens["access"], ""):
        response = client.post("/api/token/refresh/", json={"refresh": value})
        assert response.status_code in (400, 401)
        assert "detail" in response.get_json() or "refresh" in response.get_json()


def test_logout_is_seen_by_a_second_app_instance_sharing_database_and_redis(client, make_user, login, make_config):
    tokens = login(make_user())
    other_replica = create_app(make_config()).test_client()
    assert other_replica.get("/api/users/profile/", headers=bearer(tokens)).status_code == 200
    response = client.post("/api/token/logout/", json={"refresh": tokens["refresh"]}, headers=bearer(tokens))
    assert response.status_code == 204
    assert other_replica.get("/api/users/profile/", headers=bearer(tokens)).status_code == 401
    assert other_replica.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}).status_code == 401
    # and after a restart of the app: a brand-new instance still refuses it
    restarted = create_app(make_config()).test_client()
    assert restarted.get("/api/users/profile/", headers=bearer(tokens)).status_code == 401


def test_revocation_survives_a_redis_restart(client, make_user, login, redis_server):
    tokens = login(make_user())
    client.post("/api/token/logout/", json={"refresh": tokens["refresh"]}, headers=bearer(tokens))
    redis_server.stop()
    redis_server.start()
    assert client.get("/api/users/profile/", headers=bearer(tokens)).status_code == 401


def test_logout_requires_a_valid_refresh_token_of_the_caller(client, make_user, login):
    mine = login(make_user())
    theirs = login(make_user())
    response = client.post("/api/token/logout/", json={"refresh": theirs["refresh"]}, headers=bearer(mine))
    assert response.status_code == 400
    assert "refresh" in response.get_json()
    # nothing was revoked
    assert client.get("/api/users/profile/", headers=bearer(mine)).status_code == 200
    assert client.get("/api/users/profile/", headers=bearer(theirs)).status_code == 200


def test_missing_and_malformed_authorization_are_401_in_drf_shape(client):
    missing = client.get("/api/users/profile/")
    assert missing.status_code == 401
    assert set(missing.get_json()) == {"detail"}
    bad = client.get("/api/users/profile/", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401
    assert bad.get_json()["code"] == "token_not_valid"


def test_tokens_signed_with_another_key_are_refused(client, make_config, make_user):
    user = make_user()
    foreign = create_app(make_config(secret_key="x" * 48)).test_client()
    tokens = foreign.post("/api/token/", json={"email": user["email"], "password": user["password"]}).get_json()
    assert client.get("/api/users/profile/", headers=bearer(tokens)).status_code == 401


@pytest.mark.parametrize("limit_kind", ["account", "ip"])
def test_login_throttling_answers_429_with_retry_after(limit_kind, make_config, make_user):
    config = make_config(login_max_failures_per_account=3, login_max_failures_per_ip=5)
    throttled_app = create_app(config)
    client = throttled_app.test_client()
    user = make_user()
    attempts = 0
    while True:
        attempts += 1
        if limit_kind == "account":
            body = {"email": user["email"], "password": "errada-demais-1"}
        else:  # a different account each time, same client IP
            body = {"email": f"ninguem{attempts}@example.org", "password": "errada-demais-1"}
        response = client.post("/api/token/", json=body)
        if response.status_code == 429:
            break
        assert response.status_code == 401
        assert attempts <= 10
    assert attempts == (4 if limit_kind == "account" else 6)
    assert int(response.headers["Retry-After"]) > 0
    assert set(response.get_json()) == {"detail"}
    # even the right password is refused while the account (or IP) is throttled
    right = client.post("/api/token/", json={"email": user["email"], "password": user["password"]})
    assert right.status_code == 429
    # another client IP is not throttled for another account
    other = make_user()
    elsewhere = client.post(
        "/api/token/",
        json={"email": other["email"], "password": other["password"]},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert elsewhere.status_code == 200


def test_throttling_is_shared_between_replicas_through_redis(make_config, make_user):
    config = make_config(login_max_failures_per_account=2)
    first, second = create_app(config).test_client(), create_app(config).test_client()
    user = make_user()
    bad = {"email": user["email"], "password": "errada-demais-1"}
    assert first.post("/api/token/", json=bad).status_code == 401
    assert second.post("/api/token/", json=bad).status_code == 401
    assert first.post("/api/token/", json=bad).status_code == 429
    assert second.post("/api/token/", json=bad).status_code == 429
