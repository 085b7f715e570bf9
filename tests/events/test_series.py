"""Series: repeating an event at the next dates, without its participants, all sharing series_id."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from mutiroes.content.models import EventResource
from mutiroes.events import series
from mutiroes.events.models import Event, EventCoOrganizer, EventParticipant
from mutiroes.models import db
from mutiroes.timeutil import utcnow

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def test_weekly_copies_keep_the_local_time_and_everything_but_the_participants(app, client, team):
    client.post(
        f"/api/events/{team.event_id}/resources/",
        json={"name": "Luvas", "quantity_needed": 10},
        headers=team.organizer_headers,
    )
    original = client.get(f"/api/events/{team.event_id}/", headers=team.organizer_headers).get_json()
    response = client.post(
        f"/api/events/{team.event_id}/repeat/", json={"frequency": "weekly", "count": 3}, headers=team.co_headers
    )
    assert response.status_code == 201, response.get_json()
    copies = response.get_json()
    assert len(copies) == 3
    start = dt.datetime.fromisoformat(original["start_date"])
    for week, copy in enumerate(copies, start=1):
        assert dt.datetime.fromisoformat(copy["start_date"]) == start + dt.timedelta(weeks=week)
        assert copy["title"] == original["title"] and copy["max_participants"] == original["max_participants"]
        assert copy["participants_count"] == 0 and copy["status"] == "published"
        assert copy["series_id"] == team.event_id
    assert client.get(f"/api/events/{team.event_id}/").get_json()["series_id"] == team.event_id

    listed = client.get(f"/api/events/?series={team.event_id}&ordering=start_date").get_json()
    assert [event["id"] for event in listed["results"]] == [team.event_id, *(copy["id"] for copy in copies)]
    copy_ids = [copy["id"] for copy in copies]
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(EventParticipant).where(EventParticipant.event_id.in_(copy_ids))
            )
            == 0
        )
        resources = db.session.execute(
            sa.select(EventResource.event_id, EventResource.name, EventResource.quantity_provided).where(
                EventResource.event_id.in_(copy_ids)
            )
        ).all()
        assert sorted(resources) == [(copy_id, "Luvas", 0) for copy_id in copy_ids]
        co_organizers = db.session.execute(
            sa.select(EventCoOrganizer.event_id, EventCoOrganizer.user_id).where(
                EventCoOrganizer.event_id.in_(copy_ids)
            )
        ).all()
        assert sorted(co_organizers) == [(copy_id, team.co["id"]) for copy_id in copy_ids]
        codes = set(db.session.scalars(sa.select(Event.check_in_code).where(Event.series_id == team.event_id)))
        assert len(codes) == 4  # every event of the series has its own check-in code
        db.session.remove()

    # repeating a copy adds to the same series
    more = client.post(
        f"/api/events/{copies[-1]['id']}/repeat/",
        json={"frequency": "biweekly", "count": 1},
        headers=team.organizer_headers,
    ).get_json()
    assert more[0]["series_id"] == team.event_id
    assert dt.datetime.fromisoformat(more[0]["start_date"]) == start + dt.timedelta(weeks=5)


def test_monthly_dates_follow_the_calendar_and_never_fall_in_the_past(app):
    with app.app_context():
        end_of_january = dt.datetime(2031, 1, 31, 8, 0, tzinfo=SAO_PAULO).astimezone(dt.UTC)
        starts = series.next_starts(end_of_january, "monthly", 3, now=end_of_january)
        assert [s.astimezone(SAO_PAULO).date() for s in starts] == [
            dt.date(2031, 2, 28),
            dt.date(2031, 3, 31),
            dt.date(2031, 4, 30),
        ]
        assert {s.astimezone(SAO_PAULO).hour for s in starts} == {8}
        # an event three weeks ago: its weekly rhythm continues from today
        past = utcnow() - dt.timedelta(weeks=3, hours=1)
        upcoming = series.next_starts(past, "weekly", 2, now=utcnow())
        assert upcoming == [past + dt.timedelta(weeks=4), past + dt.timedelta(weeks=5)]


def test_authorization_matrix_and_validation_of_repeat(app, client, team):
    url = f"/api/events/{team.event_id}/repeat/"
    body = {"frequency": "monthly", "count": 1}
    expected = {
        "anonymous": 401,
        "stranger": 403,
        "participant": 403,
        "co-organizer": 201,
        "organizer": 201,
        "staff": 201,
    }
    for who, status in expected.items():
        assert client.post(url, json=body, headers=team.callers[who]).status_code == status, who
    for bad in (
        {"frequency": "daily", "count": 1},
        {"frequency": "weekly", "count": 0},
        {"frequency": "weekly", "count": 53},
        {"frequency": "weekly"},
        {"frequency": "weekly", "count": "2", "extra": 1},
    ):
        assert client.post(url, json=bad, headers=team.organizer_headers).status_code == 400, bad
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1 + 3
        db.session.remove()
