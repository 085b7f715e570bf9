"""Joining, leaving, the waitlist, approval by the organizer, participant management and check-in."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from mutiroes.events.models import Event, EventParticipant
from mutiroes.models import db
from mutiroes.timeutil import utcnow


def join(client, event_id, headers, **body):
    return client.post(f"/api/events/{event_id}/join/", json=body or None, headers=headers)


def test_a_stored_join_is_answered_201_even_if_the_database_is_lost_right_after_the_commit(
    client, app, make_event, user_with_token, database_lost_after_commit
):
    event_id = make_event(max_participants=1)
    _first, first_headers = user_with_token()
    assert join(client, event_id, first_headers).status_code == 201
    user, headers = user_with_token()
    with database_lost_after_commit() as lost:
        response = join(client, event_id, headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["waitlist_position"], body["user_id"]) == ("waitlisted", 1, user["id"])
    assert lost["committed"] and "SELECT" not in lost["refused"]
    with app.app_context():
        stored = db.session.scalars(sa.select(EventParticipant).where(EventParticipant.event_id == event_id)).all()
        assert sorted(p.status for p in stored) == ["confirmed", "waitlisted"]


def test_join_confirms_while_spots_remain_then_waitlists(client, make_event, user_with_token):
    event_id = make_event(max_participants=1)
    _first, first_headers = user_with_token()
    response = join(
        client,
        event_id,
        first_headers,
        emergency_contact="Carlos",
        emergency_phone="+55 11 98888-7777",
        experience_level="advanced",
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "confirmed"
    assert body["waitlist_position"] is None
    assert body["experience_level"] == "advanced"
    assert body["event"] == event_id
    positions = []
    for _ in range(2):
        _user, headers = user_with_token()
        response = join(client, event_id, headers)
        assert response.status_code == 201
        assert response.get_json()["status"] == "waitlisted"
        positions.append(response.get_json()["waitlist_position"])
    assert positions == [1, 2]


def test_join_when_full_without_waitlist_is_409_and_writes_nothing(client, make_event, user_with_token, participations):
    event_id = make_event(max_participants=1, waitlist_enabled=False)
    first, first_headers = user_with_token()
    _second, second_headers = user_with_token()
    assert join(client, event_id, first_headers).status_code == 201
    response = join(client, event_id, second_headers)
    assert response.status_code == 409
    assert response.get_json() == {"detail": "O evento está lotado."}
    assert participations(event_id) == {first["id"]: "confirmed"}


def test_join_conflicts(client, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    _volunteer, headers = user_with_token()
    open_event = make_event(organizer=organizer)
    assert join(client, open_event, headers).status_code == 201
    assert join(client, open_event, headers).status_code == 409
    closed = make_event(
        start_date=utcnow() + dt.timedelta(days=1), registration_deadline=utcnow() - dt.timedelta(hours=1)
    )
    assert join(client, closed, headers).status_code == 409
    assert join(client, make_event(status="cancelled"), headers).status_code == 409
    started = make_event(
        start_date=utcnow() - dt.timedelta(minutes=10), registration_deadline=utcnow() - dt.timedelta(hours=1)
    )
    assert join(client, started, headers).status_code == 409
    assert join(client, 4040, headers).status_code == 404
    assert client.post(f"/api/events/{open_event}/join/").status_code == 401


def test_join_refuses_bad_details(client, make_event, user_with_token, participations):
    event_id = make_event()
    _user, headers = user_with_token()
    for body in ({"experience_level": "expert"}, {"emergency_phone": "abc"}, {"status": "confirmed"}):
        response = join(client, event_id, headers, **body)
        assert response.status_code == 400
    assert participations(event_id) == {}


def test_age_limits_apply_and_need_a_birth_date(client, make_event, user_with_token, participations):
    event_id = make_event(min_age=18)
    _young, young_headers = user_with_token(birth_date=dt.date.today().replace(year=dt.date.today().year - 15))
    _unknown, unknown_headers = user_with_token()
    adult, adult_headers = user_with_token(birth_date=dt.date(1990, 5, 1))
    assert join(client, event_id, young_headers).status_code == 409
    response = join(client, event_id, unknown_headers)
    assert response.status_code == 409
    assert response.get_json() == {
        "detail": "Este evento tem faixa etária: informe sua data de nascimento no perfil para se inscrever."
    }
    assert join(client, event_id, adult_headers).status_code == 201
    assert participations(event_id) == {adult["id"]: "confirmed"}
    # without an age range, no birth date is needed
    assert join(client, make_event(), unknown_headers).status_code == 201


def test_requires_approval_makes_pending_until_the_organizer_decides(
    client, make_event, user_with_token, participations
):
    organizer, organizer_headers = user_with_token()
    event_id = make_event(organizer=organizer, requires_approval=True, max_participants=1)
    people = [user_with_token() for _ in range(3)]
    pids = []
    for _user, headers in people:
        response = join(client, event_id, headers)
        assert response.get_json()["status"] == "pending"
        pids.append(response.get_json()["id"])
    assert client.get(f"/api/events/{event_id}/").get_json()["participants_count"] == 0
    url = f"/api/events/{event_id}/participants"
    response = client.patch(f"{url}/{pids[0]}/", json={"status": "confirmed"}, headers=organizer_headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "confirmed"
    response = client.patch(f"{url}/{pids[1]}/", json={"status": "confirmed"}, headers=organizer_headers)
    assert response.status_code == 409  # full
    response = client.patch(f"{url}/{pids[2]}/", json={"status": "rejected"}, headers=organizer_headers)
    assert response.get_json()["status"] == "rejected"
    # a participant cannot set a status, and a rejected person cannot just join again
    response = client.patch(f"{url}/{pids[1]}/", json={"status": "confirmed"}, headers=people[1][1])
    assert response.status_code == 403
    assert join(client, event_id, people[2][1]).status_code == 409
    assert participations(event_id) == {
        people[0][0]["id"]: "confirmed",
        people[1][0]["id"]: "pending",
        people[2][0]["id"]: "rejected",
    }


def test_leave_promotes_the_earliest_waitlisted_and_renumbers(client, make_event, user_with_token, participations):
    event_id = make_event(max_participants=2)
    people = [user_with_token() for _ in range(5)]
    for _user, headers in people:
        join(client, event_id, headers)
    # confirmed: 0, 1; waitlisted: 2, 3, 4
    response = client.post(f"/api/events/{event_id}/leave/", headers=people[3][1])  # a waitlisted one leaves
    assert response.status_code == 200
    assert response.get_json() == {"detail": "Inscrição cancelada."}
    client.post(f"/api/events/{event_id}/leave/", headers=people[0][1])  # a confirmed one: 2 is promoted
    statuses = participations(event_id)
    assert [statuses[user["id"]] for user, _ in people] == [
        "cancelled",
        "confirmed",
        "confirmed",
        "cancelled",
        "waitlisted",
    ]
    mine = join(client, event_id, people[3][1])  # rejoining reuses the row and goes to the back of the line
    assert mine.get_json()["status"] == "waitlisted"
    assert mine.get_json()["waitlist_position"] == 2
    own_pid = client.get(f"/api/events/{event_id}/participants/", headers=people[4][1])
    assert own_pid.status_code == 403
    client.post(f"/api/events/{event_id}/leave/", headers=people[1][1])  # the chain continues: 4 is promoted
    statuses = participations(event_id)
    assert statuses[people[4][0]["id"]] == "confirmed"
    assert statuses[people[3][0]["id"]] == "waitlisted"
    assert len(statuses) == 5  # one row per user and event


def test_leave_when_not_joined_is_404(client, make_event, user_with_token):
    event_id = make_event()
    _user, headers = user_with_token()
    assert client.post(f"/api/events/{event_id}/leave/", headers=headers).status_code == 404
    join(client, event_id, headers)
    assert client.post(f"/api/events/{event_id}/leave/", headers=headers).status_code == 200
    assert client.post(f"/api/events/{event_id}/leave/", headers=headers).status_code == 404


def test_participants_list_is_the_organizers(client, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    staff, staff_headers = user_with_token(is_staff=True)
    event_id = make_event(organizer=organizer)
    volunteer, headers = user_with_token()
    other, other_headers = user_with_token()
    pid = join(client, event_id, headers, emergency_contact="Dona Maria").get_json()["id"]
    join(client, event_id, other_headers)
    page = client.get(f"/api/events/{event_id}/participants/", headers=organizer_headers).get_json()
    assert page["count"] == 2
    assert page["results"][0]["emergency_contact"] == "Dona Maria"
    assert client.get(f"/api/events/{event_id}/participants/", headers=staff_headers).status_code == 200
    assert client.get(f"/api/events/{event_id}/participants/", headers=headers).status_code == 403
    assert (
        client.get(f"/api/events/{event_id}/participants/?status=confirmed", headers=organizer_headers).get_json()[
            "count"
        ]
        == 2
    )
    # own participation: read and edit the emergency fields; someone else's → 403
    assert client.get(f"/api/events/{event_id}/participants/{pid}/", headers=headers).status_code == 200
    assert client.get(f"/api/events/{event_id}/participants/{pid}/", headers=other_headers).status_code == 403
    response = client.patch(
        f"/api/events/{event_id}/participants/{pid}/", json={"emergency_phone": "11 3333-4444"}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["emergency_phone"] == "11 3333-4444"
    response = client.patch(
        f"/api/events/{event_id}/participants/{pid}/", json={"special_needs": "x"}, headers=other_headers
    )
    assert response.status_code == 403
    assert client.delete(f"/api/events/{event_id}/participants/{pid}/", headers=headers).status_code == 403
    assert client.delete(f"/api/events/{event_id}/participants/{pid}/", headers=organizer_headers).status_code == 204
    assert client.get(f"/api/events/{event_id}/").get_json()["participants_count"] == 1
    assert client.get(f"/api/events/{event_id}/participants/{pid}/", headers=organizer_headers).status_code == 404


# --- check-in ----------------------------------------------------------------------------------------------------


@pytest.fixture
def running_event(make_event, user_with_token, client):
    """An event starting in `minutes` (negative: already started) with one confirmed participant."""

    def build(minutes: float, **fields):
        organizer, organizer_headers = user_with_token()
        volunteer, headers = user_with_token()
        start = utcnow() + dt.timedelta(minutes=minutes)
        # registration still open so the volunteer can join through the API
        event_id = make_event(
            organizer=organizer,
            start_date=start,
            end_date=start + dt.timedelta(hours=2),
            registration_deadline=min(start, utcnow() + dt.timedelta(minutes=1)),
            **fields,
        )
        return event_id, (organizer, organizer_headers), (volunteer, headers)

    return build


def _join_directly(app, event_id, user_id):
    with app.app_context():
        db.session.add(EventParticipant(event_id=event_id, user_id=user_id, status="confirmed"))
        db.session.get(Event, event_id).confirmed_count += 1
        db.session.commit()
        db.session.remove()


def test_check_in_window(app, client, running_event):
    for minutes, expected in ((30, 200), (90, 409), (-60, 200), (-150, 409)):
        event_id, _organizer, (volunteer, headers) = running_event(minutes)
        _join_directly(app, event_id, volunteer["id"])
        response = client.post(f"/api/events/{event_id}/check_in/", headers=headers)
        assert response.status_code == expected, (minutes, response.get_json())
        if expected == 200:
            body = response.get_json()
            assert body["checked_in"] is True
            assert body["check_in_time"] is not None
            again = client.post(f"/api/events/{event_id}/check_in/", headers=headers)
            assert again.status_code == 409
            assert client.post(f"/api/events/{event_id}/leave/", headers=headers).status_code == 409


def test_check_in_with_code(app, client, running_event):
    event_id, (_organizer, organizer_headers), (volunteer, headers) = running_event(10, require_check_in_code=True)
    _join_directly(app, event_id, volunteer["id"])
    code = client.get(f"/api/events/{event_id}/", headers=organizer_headers).get_json()["check_in_code"]
    assert client.post(f"/api/events/{event_id}/check_in/", headers=headers).status_code == 403
    response = client.post(f"/api/events/{event_id}/check_in/", json={"code": "ERRADO"}, headers=headers)
    assert response.status_code == 403
    response = client.post(f"/api/events/{event_id}/check_in/", json={"code": code.lower()}, headers=headers)
    assert response.status_code == 200


def test_organizer_checks_in_a_participant_by_user_id(app, client, running_event, user_with_token):
    event_id, (_organizer, organizer_headers), (volunteer, headers) = running_event(-30, require_check_in_code=True)
    _join_directly(app, event_id, volunteer["id"])
    outsider, outsider_headers = user_with_token()
    response = client.post(
        f"/api/events/{event_id}/check_in/", json={"user_id": volunteer["id"]}, headers=outsider_headers
    )
    assert response.status_code == 403
    response = client.post(
        f"/api/events/{event_id}/check_in/", json={"user_id": outsider["id"]}, headers=organizer_headers
    )
    assert response.status_code == 404  # not a confirmed participant
    response = client.post(
        f"/api/events/{event_id}/check_in/", json={"user_id": volunteer["id"]}, headers=organizer_headers
    )
    assert response.status_code == 200
    assert response.get_json()["user_id"] == volunteer["id"]
    stats = client.get(f"/api/events/{event_id}/stats/").get_json()
    assert stats["checked_in_participants"] == 1


def test_check_in_needs_a_confirmed_participation(client, make_event, user_with_token):
    event_id = make_event(requires_approval=True, start_date=utcnow() + dt.timedelta(minutes=20))
    _user, headers = user_with_token()
    assert join(client, event_id, headers).get_json()["status"] == "pending"
    assert client.post(f"/api/events/{event_id}/check_in/", headers=headers).status_code == 404


def test_the_organizer_may_join_their_own_event_confirmed_without_approval_taking_a_spot(
    client, make_event, user_with_token, participations
):
    organizer, organizer_headers = user_with_token()
    event_id = make_event(organizer=organizer, requires_approval=True, max_participants=2)
    response = join(client, event_id, organizer_headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "confirmed"
    detail = client.get(f"/api/events/{event_id}/", headers=organizer_headers).get_json()
    assert (detail["participants_count"], detail["available_spots"], detail["user_participating"]) == (1, 1, True)
    assert join(client, event_id, organizer_headers).status_code == 409  # already joined
    _volunteer, headers = user_with_token()
    assert join(client, event_id, headers).get_json()["status"] == "pending"  # everyone else still needs approval
    assert participations(event_id)[organizer["id"]] == "confirmed"
    assert client.post(f"/api/events/{event_id}/leave/", headers=organizer_headers).status_code == 200
    assert client.get(f"/api/events/{event_id}/").get_json()["participants_count"] == 0
