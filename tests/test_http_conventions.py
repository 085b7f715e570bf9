"""Conventions every route follows: DRF error shapes, trailing slashes, CORS, OpenAPI."""

import pytest

from mutiroes import create_app


def test_unknown_path_is_404_json(client):
    response = client.get("/api/nao-existe/")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json() == {"detail": "Não encontrado."}


def test_wrong_method_is_405_json_with_allow(client):
    response = client.delete("/api/users/register/")
    assert response.status_code == 405
    assert response.get_json() == {"detail": "Método não permitido."}
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/api/events/categories", "/api/events/categories/", "/liveness", "/api/health"])
def test_routes_answer_with_and_without_trailing_slash_without_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 200


def test_post_without_trailing_slash_keeps_its_body(client):
    response = client.post(
        "/api/users/register",
        json={
            "username": "sem_barra",
            "email": "sem_barra@example.org",
            "password": "rio-limpo-2026",
            "password_confirm": "rio-limpo-2026",
        },
    )
    assert response.status_code == 201


def test_unexpected_errors_are_500_json_without_internals(make_config):
    app = create_app(make_config())

    @app.route("/api/_explode/")
    def explode():
        raise RuntimeError("secret internals: password=hunter2")

    response = app.test_client().get("/api/_explode/")
    assert response.status_code == 500
    assert response.get_json() == {"detail": "Erro interno do servidor."}
    assert b"hunter2" not in response.data and b"Traceback" not in response.data


def test_cors_allows_the_configured_origin_only(client):
    allowed = client.options(
        "/api/users/profile/",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert allowed.status_code in (200, 204)
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    other = client.get("/api/events/categories/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_openapi_document_and_docs_page(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/users/register/", "/api/token/", "/api/token/refresh/", "/api/users/profile/"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.data.lower()


def test_categories_are_seeded(client):
    names = {c["name"] for c in client.get("/api/events/categories/").get_json()}
    assert {"Limpeza", "Plantio", "Monitoramento", "Educação"} <= names
