"""The account endpoints on the embedded mode's SQLite (jobs on threads of the process, emails to the SMTP sink):
verification, reset, export and erasure work there too."""

from __future__ import annotations

import re

from flask_migrate import upgrade

from mutiroes import create_app, seed
from tests.jobs.conftest import mail_environ


def token_of(message, path: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"/{path}\?token=([A-Za-z0-9_\-]+)", text).group(1)


def test_verify_reset_export_and_erase_on_sqlite(make_config, tmp_path, smtp_sink, sink):
    environ = {
        **mail_environ(smtp_sink),
        "MUTIROES_DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "MUTIROES_REDIS_URL": "",
    }
    app = create_app(make_config(environ=environ))
    with app.app_context():
        upgrade()
        seed.seed_demo()
    client = app.test_client()
    password = "rio-limpo-2026"
    body = {"username": "lia", "email": "lia@example.org", "password": password, "password_confirm": password}
    assert client.post("/api/users/register/", json=body).status_code == 201
    [welcome] = sink.wait_for(1)
    assert (
        client.post("/api/users/verify-email/", json={"token": token_of(welcome, "verificar-email")}).status_code == 200
    )

    assert client.post("/api/users/password-reset/", json={"email": "lia@example.org"}).status_code == 202
    [_welcome, reset] = sink.wait_for(2)
    new = {"new_password": "mangue-vivo-2027", "new_password_confirm": "mangue-vivo-2027"}
    answer = client.post(
        "/api/users/password-reset/confirm/", json={"token": token_of(reset, "redefinir-senha"), **new}
    )
    assert answer.status_code == 200
    tokens = client.post("/api/token/", json={"email": "lia@example.org", "password": "mangue-vivo-2027"}).get_json()
    headers = {"Authorization": f"Bearer {tokens['access']}"}

    event_id = client.get("/api/events/?city=santos").get_json()["results"][0]["id"]
    assert client.post(f"/api/events/{event_id}/join/", headers=headers).status_code == 201
    assert (
        client.post(f"/api/events/{event_id}/comments/", json={"content": "Vou!"}, headers=headers).status_code == 201
    )
    exported = client.get("/api/users/profile/export/", headers=headers).get_json()
    assert exported["profile"]["user"]["email_verified"] is True
    assert [c["content"] for c in exported["comments"]] == ["Vou!"] and len(exported["participations"]) == 1

    erased = client.delete("/api/users/profile/", json={"password": "mangue-vivo-2027"}, headers=headers)
    assert erased.status_code == 204
    assert client.get("/api/users/profile/", headers=headers).status_code == 401
    assert client.get(f"/api/events/{event_id}/comments/").get_json()["count"] == 0
    assert client.get(f"/api/events/{event_id}/").get_json()["participants_count"] == 0
