"""Failed logins counted per account and client IP together, password changes throttled alike, e-mails first."""

from __future__ import annotations

import pytest

from mutiroes import create_app
from tests.conftest import bearer

OWNER_IP, ATTACKER_IP = "10.0.0.1", "10.66.0.1"


@pytest.fixture
def throttled(make_config):
    """A client of an app with small limits: 2 failures per account and IP, 4 per account from all IPs."""
    config = make_config(
        login_max_failures_per_account=2, login_max_failures_per_ip=50, login_max_failures_account_wide=4
    )
    return create_app(config).test_client()


def token(client, identifier_field, identifier, password, ip):
    return client.post(
        "/api/token/", json={identifier_field: identifier, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def test_failures_from_one_address_do_not_lock_the_account_from_another(throttled, make_user):
    owner = make_user()
    for _ in range(2):
        assert token(throttled, "email", owner["email"], "errada-demais-1", ATTACKER_IP).status_code == 401
    refused = token(throttled, "email", owner["email"], owner["password"], ATTACKER_IP)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # the owner, elsewhere, is not locked out
    assert token(throttled, "email", owner["email"], owner["password"], OWNER_IP).status_code == 200
    # the username names the same account: the same pair is throttled
    assert token(throttled, "username", owner["username"], owner["password"], ATTACKER_IP).status_code == 429


def test_an_identifier_without_an_account_is_throttled_the_same_way(throttled):
    for _ in range(2):
        assert token(throttled, "email", "ninguem@example.org", "errada-demais-1", ATTACKER_IP).status_code == 401
    assert token(throttled, "email", "ninguem@example.org", "errada-demais-1", ATTACKER_IP).status_code == 429


def test_past_the_account_wide_limit_only_addresses_it_logged_in_from_may_still_log_in(throttled, make_user):
    owner = make_user()
    assert token(throttled, "email", owner["email"], owner["password"], OWNER_IP).status_code == 200  # known now
    for attacker in ("10.66.0.1", "10.66.0.2"):  # a guess spread over addresses: 4 failures in all
        for _ in range(2):
            assert token(throttled, "email", owner["email"], "errada-demais-1", attacker).status_code == 401
    # a new address is refused, even with the right password, until the window ends
    assert token(throttled, "email", owner["email"], owner["password"], "10.66.0.3").status_code == 429
    assert token(throttled, "email", owner["email"], "errada-demais-1", "10.66.0.4").status_code == 429
    # the owner's own address still gets in at once with the right password
    assert token(throttled, "email", owner["email"], owner["password"], OWNER_IP).status_code == 200


def test_a_wrong_current_password_counts_as_a_failed_login(throttled, make_user):
    user = make_user()
    tokens = token(throttled, "email", user["email"], user["password"], OWNER_IP).get_json()
    change = {"old_password": "errada-demais-1", "new_password": "nova-senha-forte-9"}
    for _ in range(2):
        response = throttled.post(
            "/api/users/change-password/", json=change, headers=bearer(tokens), environ_base={"REMOTE_ADDR": OWNER_IP}
        )
        assert response.status_code == 400 and "old_password" in response.get_json()
    # past the limit even the right current password is a 429, and so is a login from that address
    right = {**change, "old_password": user["password"]}
    response = throttled.post(
        "/api/users/change-password/", json=right, headers=bearer(tokens), environ_base={"REMOTE_ADDR": OWNER_IP}
    )
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert token(throttled, "email", user["email"], user["password"], OWNER_IP).status_code == 429
    # the password is unchanged: another address still logs in with it
    assert token(throttled, "email", user["email"], user["password"], "10.0.0.2").status_code == 200


def test_a_username_cannot_contain_an_at_sign(client):
    body = {"username": "ana@praia", "email": "ana@example.org", "password": "rio-limpo-2026"}
    response = client.post("/api/users/register/", json={**body, "password_confirm": body["password"]})
    assert response.status_code == 400
    assert "@" in response.get_json()["username"][0]


def test_login_matches_an_email_before_a_username(client, make_user):
    # an older account whose username is someone else's e-mail
    make_user(username="bia@example.org", email="antiga@example.org", password="senha-da-antiga-1")
    bia = make_user(username="bia", email="bia@example.org", password="senha-da-bia-22")
    response = client.post("/api/token/", json={"username": "bia@example.org", "password": "senha-da-bia-22"})
    assert response.status_code == 200
    profile = client.get("/api/users/profile/", headers=bearer(response.get_json())).get_json()
    assert profile["user"]["username"] == bia["username"]
    wrong = client.post("/api/token/", json={"email": "bia@example.org", "password": "senha-da-antiga-1"})
    assert wrong.status_code == 401
