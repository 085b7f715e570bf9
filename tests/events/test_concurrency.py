"""Capacity and one-participation-per-user under real concurrency: two gunicorn instances (two processes each)
share the test PostgreSQL, and requests are released together from many threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from mutiroes.events.models import Event, EventParticipant
from mutiroes.models import db
from tests.conftest import bearer

JOINERS = 30
CAPACITY = 5
ROUNDS = 3


def fire(calls):
    """Run every (method, url, headers, json) at once; returns the status codes in order."""
    barrier = threading.Barrier(len(calls))

    def one(call):
        method, url, headers, body = call
        barrier.wait(timeout=30)
        return requests.request(method, url, headers=headers, json=body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


@pytest.fixture
def tokens(make_user, login):
    """n fresh users with live tokens: [(user, headers)]."""

    def build(n):
        people = []
        for _ in range(n):
            user = make_user()
            people.append((user, bearer(login(user))))
        return people

    return build


def counts(app, event_id):
    with app.app_context():
        rows = dict(
            db.session.execute(
                sa.select(EventParticipant.status, sa.func.count())
                .where(EventParticipant.event_id == event_id)
                .group_by(EventParticipant.status)
            ).all()
        )
        confirmed_count = db.session.scalar(sa.select(Event.confirmed_count).where(Event.id == event_id))
        db.session.remove()
    return rows, confirmed_count


@pytest.mark.parametrize("waitlist_enabled", [True, False])
def test_simultaneous_joins_through_two_replicas_never_overbook(
    app, live_servers, make_event, tokens, waitlist_enabled
):
    people = tokens(JOINERS)
    for _round in range(ROUNDS):
        event_id = make_event(max_participants=CAPACITY, waitlist_enabled=waitlist_enabled)
        calls = [
            ("POST", f"{live_servers[i % 2]}/api/events/{event_id}/join/", headers, None)
            for i, (_user, headers) in enumerate(people)
        ]
        statuses = fire(calls)
        rows, confirmed_count = counts(app, event_id)
        assert rows.get("confirmed") == CAPACITY
        assert confirmed_count == CAPACITY
        if waitlist_enabled:
            assert statuses.count(201) == JOINERS
            assert rows.get("waitlisted") == JOINERS - CAPACITY
        else:
            assert statuses.count(201) == CAPACITY
            assert statuses.count(409) == JOINERS - CAPACITY
            assert "waitlisted" not in rows


def test_one_user_joining_many_times_at_once_gets_one_participation(app, live_servers, make_event, tokens):
    [(user, headers)] = tokens(1)
    for _round in range(ROUNDS):
        event_id = make_event(max_participants=CAPACITY)
        calls = [("POST", f"{live_servers[i % 2]}/api/events/{event_id}/join/", headers, None) for i in range(12)]
        statuses = fire(calls)
        assert statuses.count(201) == 1
        assert statuses.count(409) == 11
        rows, confirmed_count = counts(app, event_id)
        assert rows == {"confirmed": 1}
        assert confirmed_count == 1


def test_simultaneous_confirmations_by_the_organizer_respect_capacity(app, live_servers, make_event, tokens):
    people = tokens(12)
    organizer, organizer_headers = tokens(1)[0]
    event_id = make_event(organizer=organizer, max_participants=3, requires_approval=True)
    pids = []
    for _user, headers in people:
        response = requests.post(f"{live_servers[0]}/api/events/{event_id}/join/", headers=headers, timeout=10)
        assert response.json()["status"] == "pending"
        pids.append(response.json()["id"])
    calls = [
        (
            "PATCH",
            f"{live_servers[i % 2]}/api/events/{event_id}/participants/{pid}/",
            organizer_headers,
            {"status": "confirmed"},
        )
        for i, pid in enumerate(pids)
    ]
    statuses = fire(calls)
    assert statuses.count(200) == 3
    assert statuses.count(409) == 9
    rows, confirmed_count = counts(app, event_id)
    assert rows == {"confirmed": 3, "pending": 9}
    assert confirmed_count == 3


def test_simultaneous_leaves_promote_each_waitlisted_person_once(app, live_servers, make_event, tokens):
    people = tokens(CAPACITY + 8)
    event_id = make_event(max_participants=CAPACITY)
    for _user, headers in people:  # in order: the first five are confirmed, the rest waitlisted
        requests.post(f"{live_servers[0]}/api/events/{event_id}/join/", headers=headers, timeout=10)
    leavers = people[:CAPACITY]
    calls = [
        ("POST", f"{live_servers[i % 2]}/api/events/{event_id}/leave/", headers, None)
        for i, (_user, headers) in enumerate(leavers)
    ]
    assert fire(calls) == [200] * CAPACITY
    rows, confirmed_count = counts(app, event_id)
    assert rows == {"cancelled": CAPACITY, "confirmed": CAPACITY, "waitlisted": 8 - CAPACITY}
    assert confirmed_count == CAPACITY
    with app.app_context():
        promoted = set(
            db.session.scalars(
                sa.select(EventParticipant.user_id).where(
                    EventParticipant.event_id == event_id, EventParticipant.status == "confirmed"
                )
            )
        )
        db.session.remove()
    # the earliest waitlisted people got the spots, in order
    assert promoted == {user["id"] for user, _headers in people[CAPACITY : 2 * CAPACITY]}
