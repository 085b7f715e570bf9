"""Creating, reading, changing and deleting events: rules, permissions, visibility, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from mutiroes.events.models import Event
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from tests.events.conftest import event_payload, iso


def event_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
        db.session.remove()
    return count


def test_create_makes_the_caller_organizer_and_applies_defaults(client, user_with_token):
    organizer, headers = user_with_token(first_name="Ana", last_name="Souza")
    response = client.post("/api/events/", json=event_payload(is_staff=True, confirmed_count=50), headers=headers)
    assert response.status_code == 400  # unknown fields are refused
    assert set(response.get_json()) == {"is_staff", "confirmed_count"}

    # read-only fields of event-detail are ignored, as DRF does: they set nothing
    payload = event_payload(organizer="outra", organizer_id=999, participants_count=50)
    response = client.post("/api/events/", json=payload, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["organizer"] == organizer["username"]
    assert body["organizer_id"] == organizer["id"]
    assert body["organizer_name"] == "Ana Souza"
    assert body["status"] == "published"
    assert body["waitlist_enabled"] is True
    assert body["require_check_in_code"] is False
    assert body["registration_deadline"] == body["start_date"]
    assert body["participants_count"] == 0
    assert body["available_spots"] == 20
    assert body["is_active"] is True
    assert body["is_registration_open"] is True
    assert len(body["check_in_code"]) == 6
    assert body["category"]["name"] == "Limpeza"


def test_create_needs_a_token(client, app):
    assert client.post("/api/events/", json=event_payload()).status_code == 401
    assert event_count(app) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": 91}, "latitude"),
        ({"longitude": -180.5}, "longitude"),
        ({"latitude": "norte"}, "latitude"),
        ({"category": 999}, "category"),
        ({"category": "um"}, "category"),
        ({"max_participants": 0}, "max_participants"),
        ({"max_participants": 100001}, "max_participants"),
        ({"state": "XX"}, "state"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"status": "arquivado"}, "status"),
        ({"start_date": "amanhã"}, "start_date"),
        ({"start_date": "9999-12-31T23:59:00"}, "start_date"),
        ({"description": "nulo\x00aqui"}, "description"),
        ({"min_age": 18, "max_age": 16}, "max_age"),
    ],
)
def test_create_refuses_bad_fields_and_writes_nothing(client, app, user_with_token, changes, field):
    _organizer, headers = user_with_token()
    response = client.post("/api/events/", json=event_payload(**changes), headers=headers)
    assert response.status_code == 400
    assert field in response.get_json()
    assert isinstance(response.get_json()[field], list)
    assert event_count(app) == 0


def test_create_refuses_impossible_dates(client, app, user_with_token):
    _organizer, headers = user_with_token()
    start = utcnow() + dt.timedelta(days=2)
    cases = {
        "end_date": {"start_date": iso(start), "end_date": iso(start - dt.timedelta(hours=1))},
        "registration_deadline": {
            "start_date": iso(start),
            "end_date": iso(start + dt.timedelta(hours=2)),
            "registration_deadline": iso(start + dt.timedelta(hours=1)),
        },
    }
    for field, dates in cases.items():
        response = client.post("/api/events/", json=event_payload(**dates), headers=headers)
        assert response.status_code == 400
        assert field in response.get_json()
    past = utcnow() - dt.timedelta(hours=1)
    response = client.post(
        "/api/events/",
        json=event_payload(start_date=iso(past), end_date=iso(past + dt.timedelta(hours=3))),
        headers=headers,
    )
    assert response.status_code == 400
    assert response.get_json()["start_date"] == ["O evento não pode começar no passado."]
    assert event_count(app) == 0


def test_naive_datetimes_are_read_in_the_server_time_zone(client, user_with_token):
    _organizer, headers = user_with_token()
    year = utcnow().year + 1
    response = client.post(
        "/api/events/",
        json=event_payload(start_date=f"{year}-03-10T08:00", end_date=f"{year}-03-10T12:00"),
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["start_date"] == f"{year}-03-10T08:00:00-03:00"


def test_non_numeric_and_unknown_ids(client):
    response = client.get("/api/events/abc/")
    assert response.status_code == 404  # as DRF's router: the URL matches nothing
    assert response.get_json() == {"detail": "Não encontrado."}
    assert client.get("/api/events/12345/").status_code == 404
    assert client.get("/api/events/99999999999999/").status_code == 404


def test_drafts_and_private_events_exist_only_for_their_organizer(client, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    _other, other_headers = user_with_token()
    staff, staff_headers = user_with_token(is_staff=True)
    draft = make_event(organizer=organizer, status="draft")
    private = make_event(organizer=organizer, is_public=False)
    for event_id in (draft, private):
        assert client.get(f"/api/events/{event_id}/").status_code == 404
        assert client.get(f"/api/events/{event_id}/", headers=other_headers).status_code == 404
        assert client.get(f"/api/events/{event_id}/stats/", headers=other_headers).status_code == 404
        assert client.post(f"/api/events/{event_id}/join/", headers=other_headers).status_code == 404
        assert client.get(f"/api/events/{event_id}/", headers=organizer_headers).status_code == 200
        assert client.get(f"/api/events/{event_id}/", headers=staff_headers).status_code == 200


def test_check_in_code_is_shown_to_the_organizer_only(client, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    _other, other_headers = user_with_token()
    event_id = make_event(organizer=organizer)
    assert "check_in_code" in client.get(f"/api/events/{event_id}/", headers=organizer_headers).get_json()
    assert "check_in_code" not in client.get(f"/api/events/{event_id}/", headers=other_headers).get_json()
    assert "check_in_code" not in client.get(f"/api/events/{event_id}/").get_json()


def test_detail_shows_participants_without_private_fields(client, make_event, user_with_token):
    organizer, _ = user_with_token()
    volunteer, volunteer_headers = user_with_token(first_name="Bia")
    event_id = make_event(organizer=organizer)
    client.post(
        f"/api/events/{event_id}/join/",
        json={"emergency_contact": "Mãe", "emergency_phone": "(11) 99999-0000", "special_needs": "nenhuma"},
        headers=volunteer_headers,
    )
    body = client.get(f"/api/events/{event_id}/", headers=volunteer_headers).get_json()
    assert body["user_participating"] is True
    assert body["participants"] == [
        {"id": 1, "user_name": "Bia", "user_avatar": None, "status": "confirmed", "checked_in": False}
    ]
    assert client.get(f"/api/events/{event_id}/").get_json()["user_participating"] is False


def test_only_the_organizer_or_staff_change_or_delete(client, app, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    _other, other_headers = user_with_token()
    _staff, staff_headers = user_with_token(is_staff=True)
    event_id = make_event(organizer=organizer)
    assert client.patch(f"/api/events/{event_id}/", json={"title": "Meu"}).status_code == 401
    response = client.patch(f"/api/events/{event_id}/", json={"title": "Meu"}, headers=other_headers)
    assert response.status_code == 403
    assert client.delete(f"/api/events/{event_id}/", headers=other_headers).status_code == 403
    response = client.patch(f"/api/events/{event_id}/", json={"title": "Novo título"}, headers=organizer_headers)
    assert response.status_code == 200
    assert response.get_json()["title"] == "Novo título"
    response = client.patch(f"/api/events/{event_id}/", json={"title": "Pela equipe"}, headers=staff_headers)
    assert response.status_code == 200
    assert client.delete(f"/api/events/{event_id}/", headers=staff_headers).status_code == 204
    assert event_count(app) == 0


def test_put_needs_every_required_field_and_patch_validates_the_merged_event(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer)
    response = client.put(f"/api/events/{event_id}/", json={"title": "Só o título"}, headers=headers)
    assert response.status_code == 400
    assert "start_date" in response.get_json()
    response = client.put(f"/api/events/{event_id}/", json=event_payload(title="Trocado"), headers=headers)
    assert response.status_code == 200
    assert response.get_json()["title"] == "Trocado"
    detail = response.get_json()
    too_early = iso(dt.datetime.fromisoformat(detail["start_date"]) - dt.timedelta(hours=1))
    response = client.patch(f"/api/events/{event_id}/", json={"end_date": too_early}, headers=headers)
    assert response.status_code == 400
    assert "end_date" in response.get_json()


def test_capacity_cannot_drop_below_the_confirmed_participants(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer, max_participants=5)
    for _ in range(3):
        _volunteer, volunteer_headers = user_with_token()
        assert client.post(f"/api/events/{event_id}/join/", headers=volunteer_headers).status_code == 201
    response = client.patch(f"/api/events/{event_id}/", json={"max_participants": 2}, headers=headers)
    assert response.status_code == 400
    assert "max_participants" in response.get_json()
    response = client.patch(f"/api/events/{event_id}/", json={"max_participants": 3}, headers=headers)
    assert response.status_code == 200


def test_raising_capacity_promotes_the_waitlist(client, make_event, user_with_token, participations):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer, max_participants=1)
    people = [user_with_token() for _ in range(3)]
    for _user, volunteer_headers in people:
        client.post(f"/api/events/{event_id}/join/", headers=volunteer_headers)
    assert client.patch(f"/api/events/{event_id}/", json={"max_participants": 2}, headers=headers).status_code == 200
    statuses = participations(event_id)
    assert [statuses[user["id"]] for user, _ in people] == ["confirmed", "confirmed", "waitlisted"]


# the change and cancellation emails are tested through the real SMTP sink in tests/impact/test_event_emails.py


def test_stats_and_my_events(client, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    event_id = make_event(organizer=organizer, max_participants=1)
    other_event = make_event()
    volunteer, volunteer_headers = user_with_token()
    _second, second_headers = user_with_token()
    client.post(f"/api/events/{event_id}/join/", headers=volunteer_headers)
    client.post(f"/api/events/{event_id}/join/", headers=second_headers)
    client.post(f"/api/events/{other_event}/join/", headers=volunteer_headers)
    stats = client.get(f"/api/events/{event_id}/stats/").get_json()
    assert stats["total_participants"] == stats["confirmed_participants"] == 1
    assert stats["waitlisted_participants"] == 1
    assert stats["available_spots"] == 0
    mine = client.get("/api/events/my_events/", headers=volunteer_headers).get_json()
    assert {e["id"] for e in mine["participating"]} == {event_id, other_event}
    assert mine["organized"] == []
    organized = client.get("/api/events/my_events/", headers=organizer_headers).get_json()["organized"]
    assert [e["id"] for e in organized] == [event_id]
    assert client.get("/api/events/my_events/").status_code == 401


def test_static_paths_beside_ids_answer_405_for_other_methods(client, user_with_token):
    _user, headers = user_with_token()
    for path in ("/api/events/categories/", "/api/events/nearby/", "/api/events/my_events/"):
        response = client.put(path, json={}, headers=headers)
        assert response.status_code == 405
        assert "GET" in response.headers["Allow"]
