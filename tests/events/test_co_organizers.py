"""Co-organizers: who chooses them, and that they may do everything the organizer does (events, participants,
check-in, exports, content, reports) but delete the event or change the co-organizers."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes.events.models import Event, EventCoOrganizer, EventParticipant
from mutiroes.models import db
from mutiroes.timeutil import utcnow


def co_organizer_rows(app, event_id: int) -> list[int]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(EventCoOrganizer.user_id)
            .where(EventCoOrganizer.event_id == event_id)
            .order_by(EventCoOrganizer.user_id)
        ).all()
        db.session.remove()
    return list(rows)


def test_the_organizer_adds_a_co_organizer_who_shows_in_the_list_and_the_detail(client, team):
    url = f"/api/events/{team.event_id}/organizers/"
    listed = client.get(url)
    assert listed.status_code == 200
    assert listed.get_json() == [
        {"id": team.co["id"], "username": team.co["username"], "name": "Cora Coorganizadora", "avatar": None}
    ]
    detail = client.get(f"/api/events/{team.event_id}/").get_json()
    assert detail["co_organizers"] == listed.get_json()
    assert detail["organizer"] == team.organizer["username"]


def test_authorization_matrix_of_adding_a_co_organizer(app, client, team, user_with_token):
    url = f"/api/events/{team.event_id}/organizers/"
    expected = {
        "anonymous": 401,
        "stranger": 403,
        "participant": 403,
        "co-organizer": 403,  # co-organizers do not change the co-organizers
        "organizer": 201,
        "staff": 201,
    }
    added = []
    for who, status in expected.items():
        newcomer, _ = user_with_token()
        response = client.post(url, json={"user_id": newcomer["id"]}, headers=team.callers[who])
        assert response.status_code == status, (who, response.get_json())
        if status == 201:
            assert response.get_json()["id"] == newcomer["id"]
            added.append(newcomer["id"])
    assert co_organizer_rows(app, team.event_id) == sorted([team.co["id"], *added])


def test_adding_refuses_unknown_people_the_organizer_and_twice_the_same_person(app, client, team):
    url = f"/api/events/{team.event_id}/organizers/"
    headers = team.organizer_headers
    assert client.post(url, json={"user_id": 999999}, headers=headers).get_json() == {
        "user_id": ["Usuário não encontrado."]
    }
    assert client.post(url, json={"user_id": team.organizer["id"]}, headers=headers).status_code == 409
    assert client.post(url, json={"user_id": team.co["id"]}, headers=headers).status_code == 409
    assert client.post(url, json={"user_id": "abc"}, headers=headers).status_code == 400
    assert client.post(url, json={}, headers=headers).status_code == 400
    assert co_organizer_rows(app, team.event_id) == [team.co["id"]]


def test_authorization_matrix_of_removing_a_co_organizer(app, client, team, user_with_token):
    other, _ = user_with_token()
    client.post(
        f"/api/events/{team.event_id}/organizers/", json={"user_id": other["id"]}, headers=team.organizer_headers
    )
    url = f"/api/events/{team.event_id}/organizers/{other['id']}/"
    for who in ("anonymous", "stranger", "participant", "co-organizer"):
        expected = 401 if who == "anonymous" else 403
        assert client.delete(url, headers=team.callers[who]).status_code == expected, who
    assert co_organizer_rows(app, team.event_id) == sorted([team.co["id"], other["id"]])
    assert client.delete(url, headers=team.staff_headers).status_code == 204
    assert client.delete(url, headers=team.organizer_headers).status_code == 404  # already gone
    # a co-organizer may step down themself
    assert (
        client.delete(f"/api/events/{team.event_id}/organizers/{team.co['id']}/", headers=team.co_headers).status_code
        == 204
    )
    assert co_organizer_rows(app, team.event_id) == []


def test_a_co_organizer_manages_the_event_participants_exports_and_content(client, team, make_event):
    event, headers = team.event_id, team.co_headers
    assert (
        client.patch(f"/api/events/{event}/", json={"title": "Mutirão da equipe"}, headers=headers).status_code == 200
    )
    detail = client.get(f"/api/events/{event}/", headers=headers).get_json()
    assert "check_in_code" in detail  # shown to the organizing team only
    assert "check_in_code" not in client.get(f"/api/events/{event}/", headers=team.participant_headers).get_json()
    assert client.get(f"/api/events/{event}/participants/", headers=headers).status_code == 200
    assert client.get(f"/api/events/{event}/participants.csv", headers=headers).status_code == 200
    url = f"/api/events/{event}/participants/{team.participation_id}/"
    assert client.get(url, headers=headers).status_code == 200
    resource = client.post(
        f"/api/events/{event}/resources/", json={"name": "Sacos", "quantity_needed": 30}, headers=headers
    )
    assert resource.status_code == 201
    comment = client.post(f"/api/events/{event}/comments/", json={"content": "Spam!"}, headers=team.participant_headers)
    cid = comment.get_json()["id"]
    assert client.delete(f"/api/events/{event}/comments/{cid}/", headers=headers).status_code == 204
    # but not delete the event
    assert client.delete(f"/api/events/{event}/", headers=headers).status_code == 403
    assert client.get(f"/api/events/{event}/").status_code == 200


def test_a_co_organizer_checks_someone_in_and_files_the_report(client, app, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    co, co_headers = user_with_token()
    volunteer, _volunteer_headers = user_with_token()
    started = make_event(organizer=organizer, start_date=utcnow() - dt.timedelta(minutes=30))
    client.post(f"/api/events/{started}/organizers/", json={"user_id": co["id"]}, headers=organizer_headers)
    with app.app_context():  # joined before the start
        db.session.add(EventParticipant(event_id=started, user_id=volunteer["id"], status="confirmed"))
        db.session.execute(sa.update(Event).where(Event.id == started).values(confirmed_count=1))
        db.session.commit()
        db.session.remove()
    checked = client.post(f"/api/events/{started}/check_in/", json={"user_id": volunteer["id"]}, headers=co_headers)
    assert checked.status_code == 200 and checked.get_json()["checked_in"] is True
    report = {"total_hours": 6, "trash_collected_kg": 40, "summary": "Limpamos o rio."}
    assert client.post(f"/api/events/{started}/report/", json=report, headers=co_headers).status_code == 201
    assert (
        client.patch(f"/api/events/{started}/report/", json={"summary": "Rio limpo."}, headers=co_headers).status_code
        == 200
    )


def test_drafts_and_private_events_exist_for_their_co_organizers(client, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    co, co_headers = user_with_token()
    _stranger, stranger_headers = user_with_token()
    draft = make_event(organizer=organizer, status="draft", title="Rascunho da equipe")
    client.post(f"/api/events/{draft}/organizers/", json={"user_id": co["id"]}, headers=organizer_headers)
    assert client.get(f"/api/events/{draft}/", headers=co_headers).status_code == 200
    assert client.get(f"/api/events/{draft}/", headers=stranger_headers).status_code == 404
    assert client.get(f"/api/events/{draft}/organizers/", headers=stranger_headers).status_code == 404
    listed = client.get("/api/events/?status=draft", headers=co_headers).get_json()
    assert [event["id"] for event in listed["results"]] == [draft]
    mine = client.get("/api/events/my_events/", headers=co_headers).get_json()
    assert [event["id"] for event in mine["organized"]] == [draft]
