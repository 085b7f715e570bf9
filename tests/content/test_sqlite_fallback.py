"""The content domain on the embedded mode's SQLite: same rules, including the pledge's conditional UPDATE."""

from __future__ import annotations

from mutiroes import seed
from tests import images
from tests.content.conftest import upload
from tests.events.test_sqlite_fallback import sqlite_client  # noqa: F401 - the embedded app's client fixture


def headers_for(client, email):
    tokens = client.post("/api/token/", json={"email": email, "password": seed.DEMO_PASSWORD}).get_json()
    return {"Authorization": f"Bearer {tokens['access']}"}


def test_comments_photos_resources_and_pledges_on_sqlite(sqlite_client):  # noqa: F811
    client = sqlite_client
    organizer = headers_for(client, "organizadora@demo.mutiroes.org.br")
    volunteer = headers_for(client, "voluntario@demo.mutiroes.org.br")
    event_id = client.get("/api/events/?city=santos").get_json()["results"][0]["id"]
    assert client.post(f"/api/events/{event_id}/join/", headers=volunteer).status_code == 201
    base = f"/api/events/{event_id}"

    top = client.post(f"{base}/comments/", json={"content": "Levo sacos."}, headers=volunteer).get_json()["id"]
    reply = client.post(f"{base}/comments/", json={"content": "Obrigada!", "parent": top}, headers=organizer)
    assert reply.status_code == 201
    nested = client.post(
        f"{base}/comments/", json={"content": "x", "parent": reply.get_json()["id"]}, headers=volunteer
    )
    assert nested.status_code == 400

    photo = upload(client, f"{base}/photos/", volunteer, images.png_bytes())
    assert photo.status_code == 201

    resource = client.post(
        f"{base}/resources/", json={"name": "Luvas", "quantity_needed": 3}, headers=organizer
    ).get_json()["id"]
    pledge_url = f"{base}/resources/{resource}/pledge/"
    assert client.post(pledge_url, json={"quantity": 2}, headers=volunteer).status_code == 201
    assert client.post(pledge_url, json={"quantity": 2}, headers=volunteer).status_code == 409

    stats = client.get(f"{base}/stats/").get_json()
    assert (stats["comments_count"], stats["photos_count"], stats["resources_count"]) == (2, 1, 1)
    detail = client.get(f"{base}/").get_json()
    assert detail["resources"][0]["quantity_provided"] == 2 and len(detail["comments"][0]["replies"]) == 1
    assert client.get(f"{base}/ical/").mimetype == "text/calendar"

    assert client.delete(f"{base}/comments/{top}/", headers=organizer).status_code == 204
    assert client.get(f"{base}/comments/").get_json()["count"] == 0
    assert client.get(f"{base}/stats/").get_json()["comments_count"] == 0  # the reply went with its parent
    assert client.delete(f"{base}/", headers=organizer).status_code == 204
