"""Every write endpoint of the content domain, called with an unrelated user's token: refused, nothing changed."""

import pytest

from tests import images
from tests.content.conftest import upload


@pytest.fixture
def world(app, client, scene, make_event, clean_media):
    """Content on a public event and on the organizer's private event, made by their rightful owners."""

    def populate(event_id, author_headers):
        comment = client.post(
            f"/api/events/{event_id}/comments/", json={"content": "comentário"}, headers=author_headers
        ).get_json()["id"]
        reply = client.post(
            f"/api/events/{event_id}/comments/",
            json={"content": "resposta", "parent": comment},
            headers=scene.organizer_headers,
        ).get_json()["id"]
        photo = upload(client, f"/api/events/{event_id}/photos/", author_headers, images.png_bytes()).get_json()["id"]
        cover = upload(
            client,
            f"/api/events/{event_id}/cover/",
            scene.organizer_headers,
            images.png_bytes(),
            field="cover_image",
            method="put",
        )
        assert cover.status_code == 200
        resource = client.post(
            f"/api/events/{event_id}/resources/",
            json={"name": "Pás", "quantity_needed": 5},
            headers=scene.organizer_headers,
        ).get_json()["id"]
        return {"event": event_id, "comment": comment, "reply": reply, "photo": photo, "resource": resource}

    public = populate(scene.event_id, scene.participant_headers)
    pledged = client.post(
        f"/api/events/{scene.event_id}/resources/{public['resource']}/pledge/",
        json={"quantity": 2},
        headers=scene.participant_headers,
    )
    assert pledged.status_code == 201
    private_event = make_event(organizer=scene.organizer, is_public=False)
    private = populate(private_event, scene.organizer_headers)
    return {"public": public, "private": private}


def write_calls(ids):
    e = f"/api/events/{ids['event']}"
    resource = f"{e}/resources/{ids['resource']}/"
    return [
        ("PATCH", f"{e}/comments/{ids['comment']}/", {"content": "invasão"}),
        ("DELETE", f"{e}/comments/{ids['comment']}/", None),
        ("PATCH", f"{e}/comments/{ids['reply']}/", {"content": "invasão"}),
        ("DELETE", f"{e}/comments/{ids['reply']}/", None),
        ("UPLOAD POST", f"{e}/photos/", "photo"),
        ("DELETE", f"{e}/photos/{ids['photo']}/", None),
        ("UPLOAD PUT", f"{e}/cover/", "cover_image"),
        ("POST", f"{e}/resources/", {"name": "Invasão", "quantity_needed": 1}),
        ("PUT", resource, {"name": "Invasão", "quantity_needed": 99}),
        ("PATCH", resource, {"quantity_needed": 99}),
        ("DELETE", resource, None),
        ("POST", f"{resource}pledge/", {"quantity": 1}),
    ]


def call(client, headers, method, url, body):
    if method.startswith("UPLOAD"):
        verb = method.split()[1].lower()
        return upload(client, url, headers, images.png_bytes(), field=body, method=verb)
    return client.open(url, method=method, json=body, headers=headers)


@pytest.mark.parametrize(("visibility", "expected"), [("public", 403), ("private", 404)])
def test_an_unrelated_user_changes_nothing(app, client, scene, world, content_state, visibility, expected):
    ids = world[visibility]
    before = content_state()
    assert before["files"] and before["pledges"]
    calls = write_calls(ids)
    if visibility == "private":  # on an event they cannot see, even commenting and replying are refused
        calls += [
            ("POST", f"/api/events/{ids['event']}/comments/", {"content": "oi"}),
            ("POST", f"/api/events/{ids['event']}/comments/", {"content": "oi", "parent": ids["comment"]}),
        ]
    for method, url, body in calls:
        response = call(client, scene.stranger_headers, method, url, body)
        assert response.status_code == expected, (method, url, response.get_json())
        assert set(response.get_json()) == {"detail"}
        assert content_state() == before, (method, url)
    csv_response = client.get(f"/api/events/{ids['event']}/participants.csv", headers=scene.stranger_headers)
    assert csv_response.status_code == expected


def test_a_participant_cannot_manage_what_is_the_organizers(client, scene, world, content_state):
    ids = world["public"]
    before = content_state()
    e = f"/api/events/{ids['event']}"
    resource = f"{e}/resources/{ids['resource']}/"
    for method, url, body in [
        ("PATCH", f"{e}/comments/{ids['reply']}/", {"content": "editando o organizador"}),
        ("DELETE", f"{e}/comments/{ids['reply']}/", None),
        ("UPLOAD PUT", f"{e}/cover/", "cover_image"),
        ("POST", f"{e}/resources/", {"name": "Invasão", "quantity_needed": 1}),
        ("PATCH", resource, {"quantity_needed": 99}),
        ("DELETE", resource, None),
    ]:
        response = call(client, scene.participant_headers, method, url, body)
        assert response.status_code == 403, (method, url)
        assert content_state() == before


def test_anonymous_writes_are_401_and_change_nothing(client, scene, world, content_state):
    before = content_state()
    for method, url, body in write_calls(world["public"]):
        assert call(client, {}, method, url, body).status_code == 401, (method, url)
    assert content_state() == before
