"""Password reset and email verification: links sent through the outbox and the real SMTP sink, stored hashed, single
use, expiring, throttled; a reset ends every login; verifying credits what the account had earned."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.jobs.outbox import OutboxJob
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import AccountToken, User
from tests.conftest import bearer
from tests.jobs.conftest import register

FRONTEND = "https://mutiroes.example.org"
RESET_ANSWER = "Se houver uma conta com este e-mail, enviamos um link para redefinir a senha. Ele vale por 1 hora."


def link_in(message, path: str) -> str:
    """The token of the ``<frontend>/<path>?token=…`` link, which the text and the HTML part both carry."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    pattern = re.escape(f"{FRONTEND}/{path}?token=") + r"([A-Za-z0-9_\-]+)"
    [token] = set(re.findall(pattern, text))
    assert f'href="{FRONTEND}/{path}?token={token}"' in html
    return token


def login_status(client, email: str, password: str) -> int:
    return client.post("/api/token/", json={"email": email, "password": password}).status_code


def user_row(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        db.session.remove()
    return user


@pytest.fixture
def ana(make_user, jobs_client, work, sink):
    """A verified account whose welcome email has gone out (and was cleared from the sink)."""
    user = make_user(username="ana_reset", email="ana.reset@example.org", first_name="Ana")
    work()
    sink.wait_for(1)
    sink.clear()
    return user


def ask_reset(client, email: str, ip: str = "10.1.1.1"):
    return client.post("/api/users/password-reset/", json={"email": email}, environ_base={"REMOTE_ADDR": ip})


def test_a_reset_answers_the_same_for_any_address_and_mails_a_hashed_single_use_link(
    jobs_client, jobs_app, ana, work, sink
):
    known = ask_reset(jobs_client, "ANA.reset@example.org")
    unknown = ask_reset(jobs_client, "ninguem@example.org")
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.get_json() == unknown.get_json() == {"detail": RESET_ANSWER}
    work()
    [message] = sink.wait_for(1)
    assert len(sink.wait_for(2, timeout=1)) == 1  # nothing for the unknown address
    assert message["To"] == "ana.reset@example.org"
    assert message["Subject"] == "Redefina sua senha do Mutirões"
    token = link_in(message, "redefinir-senha")
    assert "1 hora" in message.get_body(preferencelist=("plain",)).get_content()

    with jobs_app.app_context():
        [row] = db.session.scalars(sa.select(AccountToken)).all()
        # only the digest is stored, and the job was given the row's id, never the token
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert dt.timedelta(minutes=59) < row.expires_at - utcnow() <= dt.timedelta(hours=1)
        kwargs = [job.kwargs for job in db.session.scalars(sa.select(OutboxJob)) if job.name == "send_account_link"]
        assert kwargs == [{"token_id": row.id}]
        assert token not in str(db.session.execute(sa.text("SELECT * FROM outbox_jobs")).all())
        db.session.remove()


def test_the_reset_link_sets_the_password_once_and_ends_every_login(jobs_client, jobs_app, ana, work, sink, make_user):
    before = jobs_client.post("/api/token/", json={"email": ana["email"], "password": ana["password"]}).get_json()
    unverified = make_user(username="bia_reset", verified=False)
    ask_reset(jobs_client, ana["email"])
    ask_reset(jobs_client, unverified["email"])
    work()
    messages = {m["To"]: m for m in sink.wait_for(3)}
    token = link_in(messages[ana["email"]], "redefinir-senha")

    body = {"token": token, "new_password": "mangue-vivo-2027", "new_password_confirm": "mangue-vivo-2027"}
    done = jobs_client.post("/api/users/password-reset/confirm/", json=body)
    assert done.status_code == 200 and "detail" in done.get_json()
    assert jobs_client.get("/api/users/profile/", headers=bearer(before)).status_code == 401
    assert jobs_client.post("/api/token/refresh/", json={"refresh": before["refresh"]}).status_code == 401
    assert login_status(jobs_client, ana["email"], ana["password"]) == 401
    assert login_status(jobs_client, ana["email"], "mangue-vivo-2027") == 200

    other_password = {"new_password": "outra-senha-99", "new_password_confirm": "outra-senha-99"}
    again = jobs_client.post("/api/users/password-reset/confirm/", json={**body, **other_password})
    assert again.status_code == 400 and list(again.get_json()) == ["token"]
    assert login_status(jobs_client, ana["email"], "mangue-vivo-2027") == 200

    # the link proved the person reads the address: an unverified account is verified by it
    other = link_in(messages[unverified["email"]], "redefinir-senha")
    assert not user_row(jobs_app, unverified["id"]).email_verified
    assert jobs_client.post("/api/users/password-reset/confirm/", json={**body, "token": other}).status_code == 200
    assert user_row(jobs_app, unverified["id"]).email_verified


def test_an_expired_unknown_or_superseded_reset_token_is_400_on_token(jobs_client, jobs_app, ana, work, sink):
    ask_reset(jobs_client, ana["email"])
    ask_reset(jobs_client, ana["email"])
    work()
    first, second = (link_in(m, "redefinir-senha") for m in sink.wait_for(2))
    body = {"new_password": "mangue-vivo-2027", "new_password_confirm": "mangue-vivo-2027"}
    for token in ("", "nao-existe", "x" * 300):
        response = jobs_client.post("/api/users/password-reset/confirm/", json={**body, "token": token})
        assert response.status_code == 400 and list(response.get_json()) == ["token"], token

    with jobs_app.app_context():
        db.session.execute(
            sa.update(AccountToken)
            .where(AccountToken.token_hash == hashlib.sha256(first.encode()).hexdigest())
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
    expired = jobs_client.post("/api/users/password-reset/confirm/", json={**body, "token": first})
    assert expired.status_code == 400 and list(expired.get_json()) == ["token"]
    assert jobs_client.post("/api/users/password-reset/confirm/", json={**body, "token": second}).status_code == 200


def test_the_new_password_follows_the_registration_rules_and_a_refusal_keeps_the_link(jobs_client, ana, work, sink):
    ask_reset(jobs_client, ana["email"])
    work()
    token = link_in(sink.wait_for(1)[0], "redefinir-senha")
    url = "/api/users/password-reset/confirm/"
    for password, field in (
        ("curta", "new_password"),
        ("1234567890", "new_password"),
        ("ana_reset", "new_password"),
        ("ana.reset@example.org", "new_password"),
    ):
        response = jobs_client.post(
            url, json={"token": token, "new_password": password, "new_password_confirm": password}
        )
        assert response.status_code == 400 and list(response.get_json()) == [field], password
    mismatch = {"token": token, "new_password": "mangue-vivo-2027", "new_password_confirm": "mangue-vivo-2028"}
    assert list(jobs_client.post(url, json=mismatch).get_json()) == ["new_password_confirm"]
    assert jobs_client.post(url, json={"token": token}).status_code == 400
    ok = {"token": token, "new_password": "mangue-vivo-2027", "new_password_confirm": "mangue-vivo-2027"}
    assert jobs_client.post(url, json=ok).status_code == 200


def test_reset_requests_are_throttled_per_address_and_per_ip(jobs_client, ana, work, sink):
    for _ in range(3):
        assert ask_reset(jobs_client, ana["email"], ip="10.2.0.1").status_code == 202
    limited = ask_reset(jobs_client, ana["email"], ip="10.2.0.2")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # the same limit for an address without an account: the 429 tells nothing about who exists
    for _ in range(3):
        assert ask_reset(jobs_client, "fantasma@example.org", ip="10.2.0.3").status_code == 202
    assert ask_reset(jobs_client, "fantasma@example.org", ip="10.2.0.3").status_code == 429
    # one IP may ask for 10 addresses an hour
    for n in range(10):
        assert ask_reset(jobs_client, f"pessoa{n}@example.org", ip="10.2.0.9").status_code == 202
    assert ask_reset(jobs_client, "pessoa-11@example.org", ip="10.2.0.9").status_code == 429
    work()
    assert len(sink.wait_for(4, timeout=2)) == 3


def test_a_reset_email_job_run_twice_mails_one_link_that_works(jobs_client, jobs_app, ana, work, sink):
    ask_reset(jobs_client, ana["email"])
    work()
    with jobs_app.app_context():
        token_id = db.session.scalar(sa.select(AccountToken.id))
        assert jobs.run_now("send_account_link", token_id=token_id) == "skipped: already delivered"
        db.session.remove()
    [message] = sink.wait_for(2, timeout=1)
    body = {"token": link_in(message, "redefinir-senha"), "new_password": "mangue-vivo-2027"}
    body["new_password_confirm"] = body["new_password"]
    assert jobs_client.post("/api/users/password-reset/confirm/", json=body).status_code == 200


def test_changing_the_password_spends_the_reset_links_in_the_mailbox(jobs_client, ana, work, sink):
    ask_reset(jobs_client, ana["email"])
    work()
    token = link_in(sink.wait_for(1)[0], "redefinir-senha")
    headers = bearer(
        jobs_client.post("/api/token/", json={"email": ana["email"], "password": ana["password"]}).get_json()
    )
    changed = jobs_client.post(
        "/api/users/change-password/",
        json={"old_password": ana["password"], "new_password": "restinga-2027"},
        headers=headers,
    )
    assert changed.status_code == 200
    body = {"token": token, "new_password": "mangue-vivo-2027", "new_password_confirm": "mangue-vivo-2027"}
    assert jobs_client.post("/api/users/password-reset/confirm/", json=body).status_code == 400


# --- verification ----------------------------------------------------------------------------------------------


def test_the_welcome_email_carries_a_single_use_verification_link(jobs_client, jobs_app, work, sink):
    created = register(jobs_client, "caio_verifica", first_name="Caio")
    assert created.status_code == 201 and created.get_json()["email_verified"] is False
    work()
    [welcome] = sink.wait_for(1)
    assert welcome["Subject"] == "Boas-vindas ao Mutirões!"
    token = link_in(welcome, "verificar-email")
    assert "7 dias" in welcome.get_body(preferencelist=("plain",)).get_content()

    verified = jobs_client.post("/api/users/verify-email/", json={"token": token})
    assert verified.status_code == 200 and "detail" in verified.get_json()
    assert user_row(jobs_app, created.get_json()["id"]).email_verified
    again = jobs_client.post("/api/users/verify-email/", json={"token": token})
    assert again.status_code == 400 and list(again.get_json()) == ["token"]
    for bad in ({"token": "nada"}, {"token": ""}, {}):
        response = jobs_client.post("/api/users/verify-email/", json=bad)
        assert response.status_code == 400 and "token" in response.get_json()

    headers = bearer(
        jobs_client.post("/api/token/", json={"username": "caio_verifica", "password": "rio-limpo-2026"}).get_json()
    )
    profile = jobs_client.get("/api/users/profile/", headers=headers).get_json()
    assert profile["user"]["email_verified"] is True
    resend = jobs_client.post("/api/users/verify-email/resend/", headers=headers)
    assert resend.status_code == 409


def test_a_verification_link_can_be_asked_for_again_throttled(jobs_client, jobs_app, make_user, login, work, sink):
    user = make_user(username="duda_verifica", verified=False)
    work()
    welcome_token = link_in(sink.wait_for(1)[0], "verificar-email")
    sink.clear()
    headers = bearer(login(user))
    assert jobs_client.post("/api/users/verify-email/resend/").status_code == 401
    for _ in range(3):
        response = jobs_client.post("/api/users/verify-email/resend/", headers=headers)
        assert response.status_code == 202 and "detail" in response.get_json()
    limited = jobs_client.post("/api/users/verify-email/resend/", headers=headers)
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    work()
    messages = sink.wait_for(3)
    assert [m["Subject"] for m in messages] == ["Confirme seu e-mail no Mutirões"] * 3
    tokens = [link_in(m, "verificar-email") for m in messages]
    assert len(set(tokens)) == 3

    assert jobs_client.post("/api/users/verify-email/", json={"token": tokens[1]}).status_code == 200
    # once verified, every other link is spent
    for token in (welcome_token, tokens[0], tokens[2]):
        assert jobs_client.post("/api/users/verify-email/", json={"token": token}).status_code == 400
    assert user_row(jobs_app, user["id"]).email_verified


def test_no_link_goes_to_an_inactive_account_and_old_links_are_purged(jobs_client, jobs_app, ana, work, sink):
    with jobs_app.app_context():
        db.session.execute(sa.update(User).where(User.id == ana["id"]).values(is_active=False))
        db.session.commit()
        db.session.remove()
    assert ask_reset(jobs_client, ana["email"]).get_json() == {"detail": RESET_ANSWER}
    work()
    assert sink.wait_for(1, timeout=1) == []

    with jobs_app.app_context():
        now = utcnow()
        old, fresh = now - dt.timedelta(days=8), now - dt.timedelta(days=1)
        # spent long ago, expired long ago, never sent and old; and one that expired yesterday (kept a while)
        rows = ((old, old, old), (None, old, old), (None, None, old), (None, fresh, fresh))
        for n, (used_at, expires_at, created_at) in enumerate(rows):
            db.session.add(
                AccountToken(
                    user_id=ana["id"],
                    purpose="password_reset",
                    email=ana["email"],
                    token_hash=None if expires_at is None else f"{n:064x}",
                    created_at=created_at,
                    expires_at=expires_at,
                    used_at=used_at,
                )
            )
        db.session.commit()
        assert jobs.run_now("cleanup_expired_events")["old_account_tokens"] == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountToken)) == 1
        db.session.remove()
