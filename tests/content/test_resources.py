import sqlalchemy as sa

from mutiroes.content.models import EventResource, ResourcePledge
from mutiroes.events.models import Event
from mutiroes.models import db


def resources_url(event_id, resource_id=None):
    base = f"/api/events/{event_id}/resources/"
    return f"{base}{resource_id}/" if resource_id else base


def pledge_url(event_id, resource_id):
    return f"{resources_url(event_id, resource_id)}pledge/"


def add_resource(client, scene, **fields):
    body = {"name": "Sacos de lixo", "resource_type": "material", "quantity_needed": 10, "unit": "pacotes"}
    body.update(fields)
    response = client.post(resources_url(scene.event_id), json=body, headers=scene.organizer_headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pledges(app):
    with app.app_context():
        rows = db.session.execute(
            sa.select(ResourcePledge.resource_id, ResourcePledge.user_id, ResourcePledge.quantity).order_by(
                ResourcePledge.id
            )
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def provided(app, resource_id):
    with app.app_context():
        value = db.session.scalar(sa.select(EventResource.quantity_provided).where(EventResource.id == resource_id))
        db.session.remove()
    return value


def test_organizer_manages_resources_and_anyone_reads_them(client, scene):
    created = add_resource(client, scene, description="Reforçados, 100 L")
    assert created == {
        "id": created["id"],
        "name": "Sacos de lixo",
        "description": "Reforçados, 100 L",
        "resource_type": "material",
        "quantity_needed": 10,
        "quantity_provided": 0,
        "unit": "pacotes",
        "is_fully_provided": False,
    }
    second = add_resource(client, scene, name="Luvas", quantity_needed=5, resource_type="tool")
    assert [r["name"] for r in client.get(resources_url(scene.event_id)).get_json()] == ["Sacos de lixo", "Luvas"]

    patched = client.patch(
        resources_url(scene.event_id, second["id"]), json={"quantity_needed": 8}, headers=scene.organizer_headers
    )
    assert patched.status_code == 200 and patched.get_json()["quantity_needed"] == 8
    put = client.put(
        resources_url(scene.event_id, second["id"]),
        json={"name": "Luvas de raspa", "quantity_needed": 6},
        headers=scene.organizer_headers,
    )
    assert put.status_code == 200
    assert put.get_json()["name"] == "Luvas de raspa" and put.get_json()["resource_type"] == "other"
    assert (
        client.delete(resources_url(scene.event_id, second["id"]), headers=scene.organizer_headers).status_code == 204
    )
    assert [r["id"] for r in client.get(resources_url(scene.event_id)).get_json()] == [created["id"]]


def test_bad_resource_input_is_400(client, scene):
    for body in (
        {"name": "", "quantity_needed": 1},
        {"name": "Pás", "quantity_needed": 0},
        {"name": "Pás", "quantity_needed": "três"},
        {"name": "Pás", "quantity_needed": 3.5},
        {"name": "Pás", "quantity_needed": 3, "resource_type": "food"},
        {"name": "Pás", "quantity_needed": 3, "pledged_by": [1]},
        {"name": "Pás"},
    ):
        response = client.post(resources_url(scene.event_id), json=body, headers=scene.organizer_headers)
        assert response.status_code == 400, body
    assert client.get(resources_url(scene.event_id)).get_json() == []


def test_confirmed_participant_pledges_and_the_pledge_is_stored(app, client, scene):
    resource = add_resource(client, scene)
    response = client.post(
        pledge_url(scene.event_id, resource["id"]), json={"quantity": 4}, headers=scene.participant_headers
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["quantity"] == 4 and body["user_id"] == scene.participant["id"]
    assert body["resource"]["quantity_provided"] == 4 and body["resource"]["is_fully_provided"] is False
    assert body["created_at"]
    assert pledges(app) == [(resource["id"], scene.participant["id"], 4)]

    full = client.post(
        pledge_url(scene.event_id, resource["id"]), json={"quantity": 6}, headers=scene.participant_headers
    )
    assert full.status_code == 201 and full.get_json()["resource"]["is_fully_provided"] is True
    assert provided(app, resource["id"]) == 10


def test_a_pledge_of_zero_or_past_what_is_needed_is_refused_and_changes_nothing(app, client, scene):
    resource = add_resource(client, scene, quantity_needed=5)
    url = pledge_url(scene.event_id, resource["id"])
    assert client.post(url, json={"quantity": 3}, headers=scene.participant_headers).status_code == 201
    for quantity in (0, -1, "dois", 1.5, True, None):
        response = client.post(url, json={"quantity": quantity}, headers=scene.participant_headers)
        assert response.status_code == 400 and "quantity" in response.get_json()
    too_much = client.post(url, json={"quantity": 3}, headers=scene.participant_headers)
    assert too_much.status_code == 409
    assert set(too_much.get_json()) == {"detail"} and "2" in too_much.get_json()["detail"]
    assert provided(app, resource["id"]) == 3
    assert len(pledges(app)) == 1


def test_only_confirmed_participants_pledge(app, client, scene, user_with_token):
    resource = add_resource(client, scene)
    url = pledge_url(scene.event_id, resource["id"])
    for headers in (scene.organizer_headers, scene.stranger_headers):
        assert client.post(url, json={"quantity": 1}, headers=headers).status_code == 403
    assert client.post(url, json={"quantity": 1}).status_code == 401
    # one who left is no longer confirmed
    assert client.post(f"/api/events/{scene.event_id}/leave/", headers=scene.participant_headers).status_code == 200
    assert client.post(url, json={"quantity": 1}, headers=scene.participant_headers).status_code == 403
    assert provided(app, resource["id"]) == 0 and pledges(app) == []


def test_no_pledges_on_a_cancelled_event(app, client, scene):
    resource = add_resource(client, scene)
    with app.app_context():
        db.session.execute(sa.update(Event).where(Event.id == scene.event_id).values(status="cancelled"))
        db.session.commit()
        db.session.remove()
    response = client.post(
        pledge_url(scene.event_id, resource["id"]), json={"quantity": 1}, headers=scene.participant_headers
    )
    assert response.status_code == 409
    assert provided(app, resource["id"]) == 0


def test_the_need_cannot_drop_below_what_was_pledged(app, client, scene):
    resource = add_resource(client, scene, quantity_needed=5)
    client.post(pledge_url(scene.event_id, resource["id"]), json={"quantity": 4}, headers=scene.participant_headers)
    response = client.patch(
        resources_url(scene.event_id, resource["id"]), json={"quantity_needed": 3}, headers=scene.organizer_headers
    )
    assert response.status_code == 400 and "quantity_needed" in response.get_json()
    with app.app_context():
        assert db.session.get(EventResource, resource["id"]).quantity_needed == 5
        db.session.remove()
    ok = client.patch(
        resources_url(scene.event_id, resource["id"]), json={"quantity_needed": 4}, headers=scene.organizer_headers
    )
    assert ok.status_code == 200 and ok.get_json()["is_fully_provided"] is True


def test_deleting_a_resource_deletes_its_pledges(app, client, scene):
    resource = add_resource(client, scene)
    client.post(pledge_url(scene.event_id, resource["id"]), json={"quantity": 2}, headers=scene.participant_headers)
    assert (
        client.delete(resources_url(scene.event_id, resource["id"]), headers=scene.organizer_headers).status_code == 204
    )
    assert pledges(app) == []


def test_a_resource_is_addressed_through_its_own_event(client, scene, make_event):
    resource = add_resource(client, scene)
    other = make_event(organizer=scene.organizer)
    assert (
        client.patch(
            resources_url(other, resource["id"]), json={"unit": "x"}, headers=scene.organizer_headers
        ).status_code
        == 404
    )
    assert (
        client.post(
            pledge_url(other, resource["id"]), json={"quantity": 1}, headers=scene.participant_headers
        ).status_code
        == 404
    )


def test_resources_of_a_private_event_are_hidden(client, scene, make_event):
    private = make_event(organizer=scene.organizer, is_public=False)
    assert client.get(resources_url(private)).status_code == 404
    assert client.get(resources_url(private), headers=scene.organizer_headers).status_code == 200
