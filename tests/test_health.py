from mutiroes import create_app


def test_liveness_checks_nothing_else(client):
    assert client.get("/liveness/").get_json() == {"status": "alive"}


def test_readiness_and_health_when_everything_is_up(client):
    ready = client.get("/readiness/")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"]["status"] == "up"
    assert ready.get_json()["checks"]["redis"]["status"] == "up"
    health = client.get("/api/health/")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "healthy"
    assert body["version"] and body["replica"]


def test_readiness_names_the_failing_check_when_redis_is_down(make_config):
    app = create_app(make_config(redis_url="redis://127.0.0.1:1/0"))
    client = app.test_client()
    ready = client.get("/readiness/")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"]
    assert ready.get_json()["checks"]["redis"]["status"] == "down"
    # health is still 200: only the database makes it 503
    assert client.get("/health/").status_code == 200
    assert client.get("/liveness/").status_code == 200


def test_health_is_503_when_the_database_is_down(make_config):
    app = create_app(make_config(database_url="postgresql+psycopg2://nobody@127.0.0.1:1/none"))
    client = app.test_client()
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["status"] == "down"
    assert client.get("/readiness/").status_code == 503
    assert client.get("/liveness/").status_code == 200
