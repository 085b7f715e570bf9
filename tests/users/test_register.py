import sqlalchemy as sa

from mutiroes.models import db
from mutiroes.users.models import User

VALID = {
    "username": "maria_silva",
    "email": "Maria@Example.org",
    "password": "plantando-ipes-7",
    "password_confirm": "plantando-ipes-7",
    "first_name": "Maria",
    "last_name": "Silva",
}


def users_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_register_creates_user_and_returns_contract_fields(client, app):
    response = client.post("/api/users/register/", json=VALID)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "username", "email", "first_name", "last_name", "date_joined", "email_verified"}
    assert body["username"] == "maria_silva"
    assert body["email_verified"] is False  # until the link of the welcome email is opened
    assert body["email"] == "maria@example.org"
    assert "password" not in body
    assert body["date_joined"].endswith("-03:00")
    with app.app_context():
        user = db.session.get(User, body["id"])
        assert user.password_hash.startswith("$argon2id$")
        assert "plantando" not in user.password_hash


def test_register_refuses_duplicate_username_and_email_case_insensitively(client, app):
    assert client.post("/api/users/register/", json=VALID).status_code == 201
    again = {**VALID, "username": "MARIA_SILVA", "email": "maria@EXAMPLE.org"}
    response = client.post("/api/users/register/", json=again)
    assert response.status_code == 400
    body = response.get_json()
    assert "username" in body and "email" in body
    assert users_count(app) == 1


def test_register_password_rules(client, app):
    cases = {
        "curta1": "password",
        "12345678901": "password",
        "maria_silva": "password",
    }
    for password, field in cases.items():
        response = client.post(
            "/api/users/register/", json={**VALID, "password": password, "password_confirm": password}
        )
        assert response.status_code == 400, password
        assert field in response.get_json()
    mismatch = client.post("/api/users/register/", json={**VALID, "password_confirm": "outra-senha-99"})
    assert mismatch.status_code == 400
    assert mismatch.get_json() == {"password_confirm": ["As senhas não conferem."]}
    assert users_count(app) == 0


def test_register_missing_fields_and_wrong_types(client, app):
    response = client.post("/api/users/register/", json={"username": 12, "email": "not-an-email"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["username"] == ["Informe um texto válido."]
    assert body["email"] == ["Informe um endereço de e-mail válido."]
    assert body["password"] == ["Este campo é obrigatório."]
    assert users_count(app) == 0


def test_register_cannot_set_server_owned_fields(client, app):
    for field, value in {
        "is_staff": True,
        "id": 999,
        "total_hours_volunteered": 1000,
        "total_events_participated": 50,
    }.items():
        response = client.post("/api/users/register/", json={**VALID, field: value})
        assert response.status_code == 400, field
        assert response.get_json() == {field: ["Campo desconhecido."]}
    assert users_count(app) == 0


def test_register_malformed_json_is_a_400_in_drf_shape(client, app):
    response = client.post("/api/users/register/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert list(body) == ["non_field_errors"]
    response = client.post("/api/users/register/", json=["a", "list"])
    assert response.status_code == 400
    assert "non_field_errors" in response.get_json()
    assert users_count(app) == 0


def test_register_oversized_body_is_413_and_writes_nothing(client, app):
    payload = b'{"username": "x", "bio": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    response = client.post("/api/users/register/", data=payload, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"detail": "O corpo da requisição é grande demais."}
    assert users_count(app) == 0


def test_a_stored_registration_is_answered_201_even_if_the_database_is_lost_right_after_the_commit(
    client, app, database_lost_after_commit
):
    with database_lost_after_commit() as lost:
        response = client.post("/api/users/register/", json=VALID)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["username"] == "maria_silva"
    assert lost["committed"] and "SELECT" not in lost["refused"]  # only the outbox's own mark came after it
    with app.app_context():
        assert db.session.scalar(sa.select(User.username).where(User.email == "maria@example.org")) == "maria_silva"
