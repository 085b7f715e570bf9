"""Pledges under real concurrency: two gunicorn instances (two processes each) share the test PostgreSQL, and many
confirmed participants pledge at once; the resource's total never passes what it needs."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.content.models import EventResource, ResourcePledge
from mutiroes.models import db
from tests.events.test_concurrency import fire

PLEDGERS = 24


def totals(app, resource_id):
    with app.app_context():
        provided = db.session.scalar(sa.select(EventResource.quantity_provided).where(EventResource.id == resource_id))
        pledged = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(ResourcePledge.quantity), 0)).where(
                ResourcePledge.resource_id == resource_id
            )
        )
        rows = db.session.scalar(
            sa.select(sa.func.count()).select_from(ResourcePledge).where(ResourcePledge.resource_id == resource_id)
        )
        db.session.remove()
    return provided, int(pledged), rows


def test_simultaneous_pledges_through_two_replicas_never_exceed_the_need(
    app, client, live_servers, make_event, user_with_token
):
    organizer, organizer_headers = user_with_token()
    event_id = make_event(organizer=organizer, max_participants=PLEDGERS)
    people = []
    for _ in range(PLEDGERS):
        _user, headers = user_with_token()
        assert client.post(f"/api/events/{event_id}/join/", headers=headers).get_json()["status"] == "confirmed"
        people.append(headers)

    for needed, quantities in ((10, [1] * PLEDGERS), (25, [1 + i % 3 for i in range(PLEDGERS)])):
        resource = client.post(
            f"/api/events/{event_id}/resources/",
            json={"name": f"Enxadas {needed}", "quantity_needed": needed, "resource_type": "tool"},
            headers=organizer_headers,
        ).get_json()["id"]
        calls = [
            (
                "POST",
                f"{live_servers[i % 2]}/api/events/{event_id}/resources/{resource}/pledge/",
                headers,
                {"quantity": quantities[i]},
            )
            for i, headers in enumerate(people)
        ]
        statuses = fire(calls)
        assert set(statuses) <= {201, 409}
        accepted = sum(q for q, status in zip(quantities, statuses, strict=True) if status == 201)
        provided, pledged, rows = totals(app, resource)
        assert provided == pledged == accepted <= needed
        assert rows == statuses.count(201)
        if len(set(quantities)) == 1:  # unit pledges: exactly the need is taken, the rest refused
            assert provided == needed and statuses.count(409) == PLEDGERS - needed
        else:  # whatever is left is smaller than every refused pledge
            refused = [q for q, status in zip(quantities, statuses, strict=True) if status == 409]
            assert all(q > needed - provided for q in refused)
