"""Content that one person could use against an event: endless replies, comment floods, pledges left behind."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes import create_app
from mutiroes.content.models import EventComment
from mutiroes.models import db
from tests.content.test_resources import add_resource, pledge_url, pledges, provided, resources_url


def add_replies(app, event_id: int, parent_id: int, user_id: int, count: int) -> None:
    with app.app_context():
        db.session.add_all(
            EventComment(event_id=event_id, user_id=user_id, parent_id=parent_id, content=f"Resposta {n}")
            for n in range(count)
        )
        db.session.commit()
        db.session.remove()


def test_a_comment_embeds_its_latest_replies_and_the_rest_are_paginated(app, client, scene):
    comment = client.post(
        f"/api/events/{scene.event_id}/comments/", json={"content": "Quem leva água?"}, headers=scene.organizer_headers
    ).get_json()
    add_replies(app, scene.event_id, comment["id"], scene.participant["id"], 250)
    detail = client.get(f"/api/events/{scene.event_id}/").get_json()
    embedded = detail["comments"][0]
    assert embedded["replies_count"] == 250
    assert [r["content"] for r in embedded["replies"]] == ["Resposta 247", "Resposta 248", "Resposta 249"]
    listed = client.get(f"/api/events/{scene.event_id}/comments/").get_json()["results"][0]
    assert listed["replies_count"] == 250 and len(listed["replies"]) == 3

    url = f"/api/events/{scene.event_id}/comments/{comment['id']}/replies/"
    first = client.get(url).get_json()
    assert first["count"] == 250 and len(first["results"]) == 20
    assert first["results"][0]["content"] == "Resposta 0" and first["results"][0]["parent"] == comment["id"]
    last = client.get(f"{url}?page=3&page_size=100").get_json()
    assert [r["content"] for r in last["results"]][-1] == "Resposta 249" and last["next"] is None
    assert client.get(f"{url}?page=abc").get_json() == {"detail": "Página inválida."}


def test_replies_of_an_event_the_caller_may_not_see_are_404(client, scene, make_event):
    hidden = make_event(organizer=scene.organizer, status="draft")
    comment = client.post(
        f"/api/events/{hidden}/comments/", json={"content": "Rascunho"}, headers=scene.organizer_headers
    ).get_json()
    for headers in ({}, scene.participant_headers):
        response = client.get(f"/api/events/{hidden}/comments/{comment['id']}/replies/", headers=headers)
        assert response.status_code == 404
    other = client.get(f"/api/events/{scene.event_id}/comments/{comment['id']}/replies/")
    assert other.status_code == 404  # the comment belongs to another event


def test_comment_creation_is_rate_limited_per_person_on_every_replica(app, client, scene, make_config):
    # a second app instance shares the test Redis, as another replica would
    other_replica = create_app(make_config()).test_client()
    url = f"/api/events/{scene.event_id}/comments/"
    statuses = [
        (client if n % 2 else other_replica).post(url, json={"content": f"Oi {n}"}, headers=scene.participant_headers)
        for n in range(11)
    ]
    assert [r.status_code for r in statuses[:10]] == [201] * 10
    refused = statuses[10]
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert set(refused.get_json()) == {"detail"}
    # someone else is not limited by it
    assert client.post(url, json={"content": "Eu também"}, headers=scene.organizer_headers).status_code == 201
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventComment)) == 11
        db.session.remove()


def test_leaving_releases_the_pledges_and_rejoining_starts_from_none(app, client, scene):
    shovels = add_resource(client, scene, quantity_needed=10)
    gloves = add_resource(client, scene, name="Luvas", quantity_needed=5)
    for resource, quantity in ((shovels, 4), (gloves, 5), (shovels, 2)):
        url = pledge_url(scene.event_id, resource["id"])
        assert client.post(url, json={"quantity": quantity}, headers=scene.participant_headers).status_code == 201
    assert (provided(app, shovels["id"]), provided(app, gloves["id"])) == (6, 5)
    assert client.post(f"/api/events/{scene.event_id}/leave/", headers=scene.participant_headers).status_code == 200
    assert (provided(app, shovels["id"]), provided(app, gloves["id"])) == (0, 0)
    assert pledges(app) == []
    listed = client.get(resources_url(scene.event_id)).get_json()
    assert [r["is_fully_provided"] for r in listed] == [False, False]


def test_a_rejected_or_removed_participant_gives_back_what_they_pledged(app, client, scene, user_with_token):
    resource = add_resource(client, scene, quantity_needed=10)
    other, other_headers = user_with_token()
    joined = client.post(f"/api/events/{scene.event_id}/join/", headers=other_headers).get_json()
    url = pledge_url(scene.event_id, resource["id"])
    client.post(url, json={"quantity": 3}, headers=scene.participant_headers)
    client.post(url, json={"quantity": 4}, headers=other_headers)
    assert provided(app, resource["id"]) == 7
    participants = f"/api/events/{scene.event_id}/participants/"
    rejected = client.patch(
        f"{participants}{joined['id']}/", json={"status": "rejected"}, headers=scene.organizer_headers
    )
    assert rejected.status_code == 200
    assert provided(app, resource["id"]) == 3
    assert pledges(app) == [(resource["id"], scene.participant["id"], 3)]
    mine = client.get(participants, headers=scene.organizer_headers).get_json()["results"]
    pid = next(p["id"] for p in mine if p["user_id"] == scene.participant["id"])
    assert client.delete(f"{participants}{pid}/", headers=scene.organizer_headers).status_code == 204
    assert provided(app, resource["id"]) == 0 and pledges(app) == []


def test_the_organizer_removes_a_pledge_and_its_author_may_withdraw_it(app, client, scene, user_with_token):
    resource = add_resource(client, scene, quantity_needed=10)
    url = pledge_url(scene.event_id, resource["id"])
    first = client.post(url, json={"quantity": 3}, headers=scene.participant_headers).get_json()
    second = client.post(url, json={"quantity": 5}, headers=scene.participant_headers).get_json()
    listed = client.get(f"{resources_url(scene.event_id, resource['id'])}pledges/")
    assert listed.status_code == 200
    assert [(p["id"], p["quantity"], p["user_id"]) for p in listed.get_json()] == [
        (first["id"], 3, scene.participant["id"]),
        (second["id"], 5, scene.participant["id"]),
    ]
    pledge = f"{resources_url(scene.event_id, resource['id'])}pledges/{first['id']}/"
    assert client.delete(pledge, headers=scene.stranger_headers).status_code == 403
    assert client.delete(pledge).status_code == 401
    assert client.delete(pledge, headers=scene.organizer_headers).status_code == 204
    assert provided(app, resource["id"]) == 5
    assert client.delete(pledge, headers=scene.organizer_headers).status_code == 404  # given back once
    own = f"{resources_url(scene.event_id, resource['id'])}pledges/{second['id']}/"
    assert client.delete(own, headers=scene.participant_headers).status_code == 204
    assert provided(app, resource["id"]) == 0 and pledges(app) == []
    # a pledge is addressed through its own resource
    other = add_resource(client, scene, name="Rastelos")
    again = client.post(url, json={"quantity": 1}, headers=scene.participant_headers).get_json()
    wrong = f"{resources_url(scene.event_id, other['id'])}pledges/{again['id']}/"
    assert client.delete(wrong, headers=scene.organizer_headers).status_code == 404
