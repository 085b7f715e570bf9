"""Hours that cannot exceed what a person could have given, and report numbers that cannot exceed what an event's
people could have done: the rules themselves, then the jobs and endpoints that apply them on real PostgreSQL/Redis."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from rq import Queue

from mutiroes import jobs
from mutiroes.events.models import Event, EventParticipant
from mutiroes.impact import rules
from mutiroes.impact.models import EventReport
from mutiroes.jobs.outbox import OutboxJob
from mutiroes.models import db
from mutiroes.timeutil import server_tz, utcnow
from tests.conftest import bearer
from tests.events.conftest import event_payload

SP = ZoneInfo("America/Sao_Paulo")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2027, 3, day, hour, minute, tzinfo=SP).astimezone(dt.UTC)


# --- the rules -------------------------------------------------------------------------------------------------


def test_hours_count_at_most_12_of_each_calendar_day_in_the_server_zone():
    assert rules.day_capped_hours(at(1, 8), at(1, 11, 30), SP) == 3.5
    assert rules.day_capped_hours(at(1, 6), at(1, 23), SP) == 12  # 17 h in one day
    # 20:00 to 10:00 next day: 4 h + 10 h
    assert rules.day_capped_hours(at(1, 20), at(2, 10), SP) == 14
    # 14 whole days, 00:00 to 00:00: 12 h each
    assert rules.day_capped_hours(at(1, 0), at(15, 0), SP) == 14 * 12
    assert rules.days_spanned(at(1, 8), at(1, 12), SP) == 1
    assert rules.days_spanned(at(1, 20), at(2, 10), SP) == 2
    assert rules.days_spanned(at(1, 0), at(15, 0), SP) == 14  # ends at midnight: the 15th is not touched
    # the day boundary is São Paulo's, not UTC's: 22:00-23:59 local is one day though it crosses UTC midnight
    assert rules.days_spanned(at(1, 22), at(1, 23, 59), SP) == 1


def test_a_participation_earns_from_its_check_in_or_the_start_to_the_end_and_unattested_ones_at_most_4_hours():
    start, end = at(1, 8), at(1, 18)
    hours = {"start": start, "end": end, "tz": SP}
    assert rules.participation_hours(**hours, check_in_time=at(1, 7, 15), method="organizer") == 10
    assert rules.participation_hours(**hours, check_in_time=at(1, 13, 30), method="code") == 4.5
    assert rules.participation_hours(**hours, check_in_time=at(1, 7, 15), method="self") == 4
    assert rules.participation_hours(**hours, check_in_time=at(1, 16), method="self") == 2
    assert rules.participation_hours(**hours, check_in_time=None, method=None) == 4
    assert rules.participation_hours(**hours, check_in_time=at(1, 18, 1), method="code") == 0
    assert rules.participation_hours(**hours, check_in_time=at(1, 8), method="code", share=2.5) == 2.5
    assert rules.participation_hours(start=at(1, 8), end=at(1, 8, 1), tz=SP, check_in_time=None, method="self") == 0.02


def test_report_limits_scale_with_the_people_checked_in_and_the_days_up_to_an_absolute_cap():
    one = rules.report_limits(people=0, days=1)  # nobody checked in: the organizer counts as one person
    assert one == {
        "trash_collected_kg": 50,
        "recyclable_material_kg": 50,
        "trees_planted": 200,
        "area_cleaned_m2": 5000,
        "total_hours": 12,
    }
    assert rules.report_limits(people=20, days=2)["trash_collected_kg"] == 2000
    assert rules.report_limits(people=100_000, days=15)["trash_collected_kg"] == 100_000
    errors = rules.implausible({"trash_collected_kg": 51, "trees_planted": 200, "summary": "x"}, people=1, days=1)
    assert list(errors) == ["trash_collected_kg"]
    assert "50 kg por pessoa por dia" in errors["trash_collected_kg"][0]


# --- events may last at most 14 days ---------------------------------------------------------------------------


def test_an_event_longer_than_14_days_is_refused_on_end_date(client, auth_headers):
    start = utcnow().replace(microsecond=0) + dt.timedelta(minutes=1)
    year = event_payload(start_date=start.isoformat(), end_date=(start + dt.timedelta(days=365)).isoformat())
    response = client.post("/api/events/", json=year, headers=auth_headers)
    assert response.status_code == 400 and list(response.get_json()) == ["end_date"]
    longest = event_payload(start_date=start.isoformat(), end_date=(start + dt.timedelta(days=14)).isoformat())
    created = client.post("/api/events/", json=longest, headers=auth_headers)
    assert created.status_code == 201
    url = f"/api/events/{created.get_json()['id']}/"
    later = (start + dt.timedelta(days=14, seconds=1)).isoformat()
    assert list(client.patch(url, json={"end_date": later}, headers=auth_headers).get_json()) == ["end_date"]
    assert client.patch(url, json={"title": "Ainda 14 dias"}, headers=auth_headers).status_code == 200


# --- check-ins record who vouched for them ---------------------------------------------------------------------


def test_a_check_in_records_whether_the_organizer_the_code_or_nobody_vouched_for_it(
    client, app, make_event, user_with_token
):
    organizer, organizer_headers = user_with_token()
    soon = utcnow() + dt.timedelta(minutes=30)
    open_event = make_event(organizer=organizer, start_date=soon)
    coded = make_event(organizer=organizer, start_date=soon, require_check_in_code=True)
    people = [user_with_token() for _ in range(3)]
    for event_id in (open_event, coded):
        for _person, headers in people:
            assert client.post(f"/api/events/{event_id}/join/", headers=headers).status_code == 201
    (ana, ana_headers), (bia, bia_headers), (caio, _caio_headers) = people
    with app.app_context():
        code = db.session.get(Event, coded).check_in_code
        db.session.remove()
    assert client.post(f"/api/events/{open_event}/check_in/", headers=ana_headers).status_code == 200
    assert client.post(f"/api/events/{coded}/check_in/", json={"code": code}, headers=bia_headers).status_code == 200
    by_organizer = client.post(
        f"/api/events/{coded}/check_in/", json={"user_id": caio["id"]}, headers=organizer_headers
    )
    assert by_organizer.status_code == 200
    with app.app_context():
        methods = dict(
            db.session.execute(
                sa.select(EventParticipant.user_id, EventParticipant.check_in_method).where(
                    EventParticipant.checked_in.is_(True)
                )
            ).all()
        )
        db.session.remove()
    assert methods == {ana["id"]: "self", bia["id"]: "code", caio["id"]: "organizer"}


# --- the statistics job ----------------------------------------------------------------------------------------


@pytest.fixture
def long_day(make_user, make_event, join, login):
    """A 10-hour event yesterday (08:00-18:00 on the server's wall clock: over, and within one calendar day at
    whatever hour the test runs); Ana checked in by herself, Bia with the code, Caio by the organizer two hours
    late, Duda (unverified) by herself."""
    olga = make_user(username="olga")
    ana, bia, caio = make_user(username="ana"), make_user(username="bia"), make_user(username="caio")
    duda = make_user(username="duda", verified=False)
    yesterday = utcnow().astimezone(server_tz()).date() - dt.timedelta(days=1)
    start = dt.datetime.combine(yesterday, dt.time(8), tzinfo=server_tz()).astimezone(dt.UTC)
    end = start + dt.timedelta(hours=10)
    event_id = make_event(organizer=olga, start_date=start, end_date=end, status="completed", max_participants=20)
    join(event_id, ana["id"], checked_in=True, method="self")
    join(event_id, bia["id"], checked_in=True, method="code")
    join(event_id, caio["id"], checked_in=True, method="organizer", check_in_time=start + dt.timedelta(hours=2))
    join(event_id, duda["id"], checked_in=True, method="self")
    return {
        "event": event_id,
        "olga": olga,
        "ana": ana,
        "bia": bia,
        "caio": caio,
        "duda": duda,
        "headers": bearer(login(olga)),
        "start": start,
        "end": end,
    }


def test_hours_follow_check_in_time_and_who_vouched_and_only_verified_accounts_are_credited(
    client, long_day, login, work, hours_of, user_numbers, badge_codes
):
    s = long_day
    ana, bia, caio, duda, olga = (s[k]["id"] for k in ("ana", "bia", "caio", "duda", "olga"))
    # a report with no hours: each person earns what their own check-in allows
    assert client.post(f"/api/events/{s['event']}/report/", json={}, headers=s["headers"]).status_code == 201
    work()
    assert hours_of(s["event"]) == {ana: 4.0, bia: 10.0, caio: 8.0, duda: 4.0}
    assert user_numbers(ana, bia, caio, duda) == {ana: (1, 4.0), bia: (1, 10.0), caio: (1, 8.0), duda: (0, 0.0)}
    assert badge_codes(duda, bia, olga) == {
        duda: set(),
        bia: {"first_mutirao", "hours_10"},
        olga: {"first_organized", "first_report"},
    }
    board = client.get("/api/users/leaderboard/").get_json()
    assert [(row["username"], row["total_hours"]) for row in board] == [("bia", 10.0), ("caio", 8.0), ("ana", 4.0)]
    assert client.get("/api/impact/summary/").get_json()["volunteer_hours"] == 22.0
    # Duda's own history and rank credit nothing until the address is verified
    duda_headers = bearer(login(s["duda"]))
    [item] = client.get("/api/users/history/", headers=duda_headers).get_json()["results"]
    assert (item["checked_in"], item["hours"]) == (True, 0.0)
    assert client.get("/api/users/rank/", headers=duda_headers).get_json()["total_hours"] == 0.0


def test_a_report_filed_during_the_event_credits_nothing_until_the_end(
    client, app, make_user, make_event, join, login, work, hours_of, user_numbers, badge_codes, rq_connection
):
    olga, ana = make_user(username="olga"), make_user(username="ana")
    start = utcnow() - dt.timedelta(hours=3)
    end = utcnow() + dt.timedelta(hours=1)
    event_id = make_event(organizer=olga, start_date=start, end_date=end, status="completed")
    join(event_id, ana["id"], checked_in=True, method="code")
    headers = bearer(login(olga))
    assert (
        client.post(f"/api/events/{event_id}/report/", json={"trash_collected_kg": 20}, headers=headers).status_code
        == 201
    )
    work()
    assert hours_of(event_id) == {ana["id"]: 0.0}
    assert user_numbers(ana["id"])[ana["id"]] == (0, 0.0)
    assert badge_codes(ana["id"], olga["id"]) == {ana["id"]: set(), olga["id"]: set()}
    # marked completed early, its numbers still wait for the end, in the summary and in the monthly report
    assert client.get("/api/impact/summary/").get_json()["trash_collected_kg"] == 0.0
    local_start = start.astimezone(server_tz())
    with app.app_context():
        monthly = jobs.run_now("generate_monthly_impact_report", year=local_start.year, month=local_start.month)
        db.session.remove()
    assert (monthly["events_with_report"], monthly["trash_collected_kg"], monthly["volunteer_hours"]) == (0, 0.0, 0.0)
    # the statistics asked to run again at the end: an outbox row due then, held in RQ's schedule
    with app.app_context():
        [again] = db.session.scalars(
            sa.select(OutboxJob).where(
                OutboxJob.name == "process_event_report_statistics", OutboxJob.run_at.is_not(None)
            )
        ).all()
        assert again.run_at == end and again.kwargs == {"event_id": event_id}
        assert db.session.scalar(sa.select(EventReport.hours_credited_at)) is None
        db.session.remove()
    assert again.id in Queue("default", connection=rq_connection).scheduled_job_registry.get_job_ids()

    # the event ends (moved into the past here); the clean-up step finds it uncredited, the job credits 2.5 h
    with app.app_context():
        db.session.execute(
            sa.update(Event).where(Event.id == event_id).values(end_date=start + dt.timedelta(hours=2, minutes=30))
        )
        db.session.commit()
        assert jobs.run_now("cleanup_expired_events")["ended_reports_credited"] == 1
        db.session.remove()
    work()
    assert hours_of(event_id) == {ana["id"]: 2.5}
    assert user_numbers(ana["id"])[ana["id"]][0] == 1
    assert badge_codes(olga["id"])[olga["id"]] == {"first_organized", "first_report"}
    assert client.get("/api/impact/summary/").get_json()["trash_collected_kg"] == 20.0
    with app.app_context():
        monthly = jobs.run_now("generate_monthly_impact_report", year=local_start.year, month=local_start.month)
        db.session.remove()
    assert (monthly["events_with_report"], monthly["trash_collected_kg"], monthly["volunteer_hours"]) == (1, 20.0, 2.5)
    with app.app_context():
        assert db.session.scalar(sa.select(EventReport.hours_credited_at)) is not None
        assert jobs.run_now("cleanup_expired_events")["ended_reports_credited"] == 0
        db.session.remove()


def test_report_numbers_above_what_the_checked_in_people_could_do_are_400_on_the_field(client, app, long_day, work):
    url, headers = f"/api/events/{long_day['event']}/report/", long_day["headers"]
    # 4 people checked in, 1 day
    for body, field in (
        ({"trash_collected_kg": 1e12}, "trash_collected_kg"),
        ({"trash_collected_kg": 200.5}, "trash_collected_kg"),
        ({"recyclable_material_kg": 201}, "recyclable_material_kg"),
        ({"trees_planted": 801}, "trees_planted"),
        ({"area_cleaned_m2": 20_001}, "area_cleaned_m2"),
        ({"total_hours": 48.5}, "total_hours"),
        ({"total_participants": 21}, "total_participants"),
    ):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 400 and list(response.get_json()) == [field], body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventReport)) == 0
        db.session.remove()
    most = {
        "trash_collected_kg": 200,
        "recyclable_material_kg": 200,
        "trees_planted": 800,
        "area_cleaned_m2": 20_000,
        "total_hours": 48,
        "total_participants": 20,
    }
    assert client.post(url, json=most, headers=headers).status_code == 201
    assert client.patch(url, json={"trash_collected_kg": 1e12}, headers=headers).status_code == 400
    assert client.get(url).get_json()["trash_collected_kg"] == 200.0
