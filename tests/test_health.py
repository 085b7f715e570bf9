import time

import redis as redis_lib
from sqlalchemy import event

from mutiroes import create_app
from mutiroes.models import db
from mutiroes.platform import health


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


def test_readiness_is_degraded_not_failing_when_redis_is_down(make_config):
    # every replica shares Redis and serves without it: failing readiness would take them all out of nginx at once
    app = create_app(make_config(redis_url="redis://127.0.0.1:1/0"))
    client = app.test_client()
    ready = client.get("/readiness/")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "degraded"
    assert ready.get_json()["checks"]["redis"]["status"] == "down"
    assert ready.get_json()["checks"]["database"]["status"] == "up"
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


def test_liveness_touches_neither_the_database_nor_redis(make_config):
    # both dependencies unreachable: anything liveness tried would fail or wait
    app = create_app(
        make_config(
            database_url="postgresql+psycopg2://nobody@127.0.0.1:1/none",
            redis_url="redis://127.0.0.1:1/0",
            service_name="mutiroes-liveness",
        )
    )
    attempts = []
    with app.app_context():
        event.listen(db.engine, "do_connect", lambda *args: attempts.append("connect"))
    client = app.test_client()
    started = time.monotonic()
    for path in ("/liveness/", "/api/liveness/", "/liveness"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.get_json() == {"status": "alive"}
    assert time.monotonic() - started < 0.5
    assert attempts == []
    assert "mutiroes_breakers" not in app.extensions  # not even a breaker was built, so no Redis command either


def test_readiness_pings_redis_at_most_once_per_interval_per_process(make_config, redis_server):
    probe = redis_lib.Redis.from_url(redis_server.url)

    def pings() -> int:
        return int(probe.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))

    client = create_app(make_config(service_name="mutiroes-readiness")).test_client()
    # the first answer opens the connection (redis-py adds a health-check PING of its own to a new connection)
    assert client.get("/readiness/").status_code == 200
    before = pings()
    started = time.monotonic()
    for _ in range(30):
        assert client.get("/readiness/").status_code == 200
    elapsed = time.monotonic() - started
    # at most one ping per interval the loop outlasted
    during = pings() - before
    assert during <= int(elapsed / health.REDIS_READINESS_TTL_SECONDS) + 1
    time.sleep(health.REDIS_READINESS_TTL_SECONDS)
    assert client.get("/readiness/").status_code == 200
    assert client.get("/readiness/").status_code == 200
    assert pings() - before - during == 1  # the cached answer expired: Redis is asked again, once
