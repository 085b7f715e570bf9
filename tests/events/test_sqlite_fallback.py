"""The embedded mode's database: the same queries on SQLite through the Python twins of our SQL functions."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from mutiroes import create_app, seed
from mutiroes.events.sqlfunctions import bounding_box, distance_km

SANTOS = (-23.9608, -46.3336)


@pytest.fixture
def sqlite_client(make_config, tmp_path):
    config = make_config(
        environ={"MUTIROES_DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}", "MUTIROES_REDIS_URL": ""}
    )
    app = create_app(config)
    with app.app_context():
        upgrade()
        seed.seed_demo()
        seed.seed_demo()  # idempotent
    return app.test_client()


def test_demo_events_nearby_search_and_join_on_sqlite(sqlite_client):
    client = sqlite_client
    listing = client.get("/api/events/?ordering=start_date").get_json()
    assert listing["count"] == 4
    assert {e["city"] for e in listing["results"]} == {"Santos", "São Paulo", "Recife", "Belo Horizonte"}
    nearby = client.get(f"/api/events/nearby/?latitude={SANTOS[0]}&longitude={SANTOS[1]}&radius=100").get_json()
    assert [e["city"] for e in nearby] == ["Santos", "São Paulo"]
    assert nearby[0]["distance_km"] < nearby[1]["distance_km"]
    radius = client.get(f"/api/events/?latitude={SANTOS[0]}&longitude={SANTOS[1]}&radius=5").get_json()
    assert [e["city"] for e in radius["results"]] == ["Santos"]
    search = client.get("/api/events/?search=AGUA CAPIBARIBE").get_json()
    assert search["count"] == 0  # the phrase, not the words
    assert [e["city"] for e in client.get("/api/events/?search=água").get_json()["results"]] == ["Recife"]
    assert client.get("/api/events/?city=sao paulo").get_json()["count"] == 1

    tokens = client.post(
        "/api/token/", json={"email": "voluntario@demo.mutiroes.org.br", "password": seed.DEMO_PASSWORD}
    ).get_json()
    event_id = nearby[0]["id"]
    assert client.get("/api/events/?city=santos").get_json()["results"][0]["participants_count"] == 0
    joined = client.post(f"/api/events/{event_id}/join/", headers={"Authorization": f"Bearer {tokens['access']}"})
    assert joined.status_code == 201
    assert client.get(f"/api/events/{event_id}/").get_json()["participants_count"] == 1
    # the in-process list cache was invalidated by the join
    assert client.get("/api/events/?city=santos").get_json()["results"][0]["participants_count"] == 1


def test_haversine_and_bounding_box():
    # São Paulo (Sé) to Rio de Janeiro (Centro): about 361 km along a great circle
    assert distance_km(-23.5505, -46.6333, -22.9068, -43.1729) == pytest.approx(361, abs=3)
    assert distance_km(0, 179.9, 0, -179.9) == pytest.approx(22.24, abs=0.05)  # across the antimeridian
    min_lat, max_lat, min_lng, max_lng = bounding_box(-23.5, -46.6, 10)
    assert min_lat < -23.5 < max_lat and min_lng < -46.6 < max_lng
    assert distance_km(-23.5, -46.6, max_lat, -46.6) == pytest.approx(10, abs=0.01)
    assert bounding_box(0, 179.95, 20)[2:] == (-180.0, 180.0)  # wraps: the whole longitude range
