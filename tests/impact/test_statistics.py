"""Verified hours, counters and badges from a scenario with checked-in and absent participants; and the endpoints
that read them: history, stats, badges, public profile, leaderboard, rank, impact summary and monthly report."""

from __future__ import annotations

import datetime as dt

import pytest

from mutiroes import jobs
from mutiroes.impact.service import previous_month
from mutiroes.models import db
from mutiroes.timeutil import server_tz, utcnow
from tests.conftest import bearer

LIMPEZA, PLANTIO = 1, 2


@pytest.fixture
def scenario(client, app, make_event, make_user, login, join, work):
    """Organizer Olga; three finished Limpeza events of 4 h; Ana checked in at all three, Bruno at the first only,
    Carla confirmed but absent, Davi cancelled. Reports filed over HTTP; a worker runs the jobs."""
    olga = make_user(username="olga")
    ana, bruno = make_user(username="ana", first_name="Ana"), make_user(username="bruno")
    carla, davi = make_user(username="carla"), make_user(username="davi", is_public_profile=False)
    today = utcnow().astimezone(server_tz()).date()

    def at_nine(days: int) -> dt.datetime:
        # from 09:00 on the server's wall clock: each event within one calendar day whatever the hour the test runs
        return dt.datetime.combine(today - dt.timedelta(days=days), dt.time(9), tzinfo=server_tz()).astimezone(dt.UTC)

    events = [
        make_event(
            organizer=olga,
            category_id=LIMPEZA,
            start_date=at_nine(days),
            end_date=at_nine(days) + dt.timedelta(hours=4),
            status="completed",
            title=f"Limpeza {days}",
        )
        for days in (3, 2, 1)
    ]
    first = events[0]
    join(first, bruno["id"], checked_in=True)
    join(first, carla["id"])
    join(first, davi["id"], status="cancelled")
    for event_id in events:
        join(event_id, ana["id"], checked_in=True)
    headers = bearer(login(olga))
    for event_id in events:
        assert (
            client.post(f"/api/events/{event_id}/report/", json={"trash_collected_kg": 10}, headers=headers).status_code
            == 201
        )
    work()
    return {
        "olga": olga,
        "ana": ana,
        "bruno": bruno,
        "carla": carla,
        "davi": davi,
        "events": events,
        "olga_headers": headers,
    }


def test_hours_counters_and_badges_from_checked_in_attendance_only(scenario, hours_of, user_numbers, badge_codes):
    s = scenario
    olga, ana, bruno, carla, davi = (s[k]["id"] for k in ("olga", "ana", "bruno", "carla", "davi"))
    assert hours_of(s["events"][0]) == {ana: 4.0, bruno: 4.0, carla: 0.0, davi: 0.0}
    assert user_numbers(ana, bruno, carla, davi, olga) == {
        ana: (3, 12.0),
        bruno: (1, 4.0),
        carla: (0, 0.0),
        davi: (0, 0.0),
        olga: (0, 0.0),
    }
    assert badge_codes(ana, bruno, carla, davi, olga) == {
        ana: {"first_mutirao", "hours_10", f"category_{LIMPEZA}"},
        bruno: {"first_mutirao"},
        carla: set(),
        davi: set(),
        olga: {"first_organized", "first_report"},
    }


def test_rerunning_every_job_changes_nothing(scenario, jobs_app, work, hours_of, user_numbers, badge_codes):
    ids = [scenario[k]["id"] for k in ("olga", "ana", "bruno", "carla")]
    before = (hours_of(scenario["events"][0]), user_numbers(*ids), badge_codes(*ids))
    with jobs_app.app_context():
        for event_id in scenario["events"]:
            jobs.request("process_event_report_statistics", event_id=event_id)
        for user_id in ids:
            jobs.request("update_user_statistics", user_id=user_id)
            jobs.request("check_and_award_badges", user_id=user_id)
        db.session.commit()
        assert jobs.run_now("check_and_award_badges", user_id=scenario["ana"]["id"]) == []
        db.session.remove()
    work()
    assert (hours_of(scenario["events"][0]), user_numbers(*ids), badge_codes(*ids)) == before


def test_a_stated_total_caps_the_hours_and_an_update_recomputes(client, scenario, work, hours_of, user_numbers):
    s = scenario
    first, ana, bruno = s["events"][0], s["ana"]["id"], s["bruno"]["id"]
    # 5 volunteer-hours for the 2 people checked in: 2.5 each, less than the 4-hour duration
    response = client.patch(f"/api/events/{first}/report/", json={"total_hours": 5}, headers=s["olga_headers"])
    assert response.status_code == 200
    work()
    assert hours_of(first)[ana] == hours_of(first)[bruno] == 2.5
    assert user_numbers(ana, bruno) == {ana: (3, 10.5), bruno: (1, 2.5)}
    # a total above duration × people does not raise anyone past the duration
    response = client.patch(f"/api/events/{first}/report/", json={"total_hours": 20}, headers=s["olga_headers"])
    assert response.status_code == 200
    work()
    assert hours_of(first)[ana] == 4.0
    # and one above 12 h per person checked in and day of the event is refused
    response = client.patch(f"/api/events/{first}/report/", json={"total_hours": 25}, headers=s["olga_headers"])
    assert response.status_code == 400 and list(response.get_json()) == ["total_hours"]


def test_badges_catalogue_earned_and_no_way_to_claim(client, scenario, login):
    catalogue = client.get("/api/users/badges/").get_json()
    codes_by_name = {b["name"]: b for b in catalogue}
    assert len(catalogue) == 8 + 4  # the fixed badges and one per seeded category
    assert {"id", "name", "description", "icon", "color", "badge_type", "min_events", "min_hours"} <= set(catalogue[0])
    assert codes_by_name["Guardião da limpeza"]["min_events"] == 3
    headers = bearer(login(scenario["ana"]))
    earned = client.get("/api/users/badges/earned/", headers=headers).get_json()
    assert sorted(e["badge"]["name"] for e in earned) == [
        "10 horas de voluntariado",
        "Guardião da limpeza",
        "Primeiro mutirão",
    ]
    assert client.get("/api/users/badges/earned/").status_code == 401
    for path in ("/api/users/badges/", "/api/users/badges/earned/"):
        response = client.post(path, json={"badge": catalogue[-1]["id"]}, headers=headers)
        assert response.status_code == 405
    assert len(client.get("/api/users/badges/earned/", headers=headers).get_json()) == 3


def test_history_stats_and_public_profile(client, scenario, login):
    headers = bearer(login(scenario["bruno"]))
    history = client.get("/api/users/history/", headers=headers).get_json()
    assert history["count"] == 1
    [item] = history["results"]
    assert item["event"]["id"] == scenario["events"][0] and item["event"]["category"]["name"] == "Limpeza"
    assert (item["status"], item["checked_in"], item["hours"]) == ("confirmed", True, 4.0)
    assert client.get("/api/users/history/").status_code == 401

    ana_headers = bearer(login(scenario["ana"]))
    stats = client.get("/api/users/stats/", headers=ana_headers).get_json()
    assert stats["total_events_participated"] == 3 and stats["total_hours_volunteered"] == 12.0
    assert stats["badges_earned"] == 3 and stats["events_organized"] == 0
    assert stats["favorite_categories"] == [{"id": LIMPEZA, "name": "Limpeza", "events": 3}]
    organizer_stats = client.get("/api/users/stats/", headers=scenario["olga_headers"]).get_json()
    assert organizer_stats["events_organized"] == 3

    public = client.get("/api/users/profile/ana/").get_json()
    assert public["total_hours_volunteered"] == 12.0
    assert len(public["badges"]) == 3 and len(public["history"]) == 3
    assert "email" not in public and "check_in_code" not in str(public)
    client.patch("/api/users/profile/", json={"show_participation_history": False}, headers=ana_headers)
    hidden = client.get("/api/users/profile/ana/").get_json()
    assert "history" not in hidden and len(hidden["badges"]) == 3


def test_leaderboard_and_rank_count_public_profiles_by_verified_hours(
    client, app, scenario, login, make_event, join, work
):
    board = client.get("/api/users/leaderboard/").get_json()
    assert [(r["rank"], r["username"], r["total_hours"], r["total_events"]) for r in board] == [
        (1, "ana", 12.0, 3),
        (2, "bruno", 4.0, 1),
    ]
    assert "email" not in board[0]
    assert client.get(f"/api/users/leaderboard/?category={PLANTIO}").get_json() == []
    assert client.get("/api/users/leaderboard/?period=year").status_code == 400
    assert client.get("/api/users/leaderboard/?category=999").status_code == 400
    assert client.get("/api/users/leaderboard/?category=abc").status_code == 400

    assert client.get("/api/users/rank/", headers=bearer(login(scenario["bruno"]))).get_json() == {
        "rank": 2,
        "total_hours": 4.0,
        "total_events": 1,
    }
    assert client.get("/api/users/rank/", headers=bearer(login(scenario["carla"]))).get_json() == {
        "rank": 3,
        "total_hours": 0.0,
        "total_events": 0,
    }
    assert client.get("/api/users/rank/").status_code == 401


def test_impact_summary_totals_completed_events(client, scenario):
    assert client.get("/api/impact/summary/").get_json() == {
        "events_completed": 3,
        "volunteers": 2,
        "volunteer_hours": 16.0,
        "trash_collected_kg": 30.0,
        "recyclable_material_kg": 0.0,
        "trees_planted": 0,
        "area_cleaned_m2": 0.0,
    }


def test_monthly_report_is_stored_and_served(client, jobs_app, scenario):
    # the month of the scenario's first event (09:00 three local days ago): "now minus 3 days 6 hours" named the
    # month before it from midnight to 06:00 on the 4th of a month, with every event in this one
    first_day = utcnow().astimezone(server_tz()).date() - dt.timedelta(days=3)
    year, month = first_day.year, first_day.month
    url = f"/api/impact/monthly/?year={year}&month={month}"
    assert client.get(url).status_code == 404
    with jobs_app.app_context():
        first = jobs.run_now("generate_monthly_impact_report", year=year, month=month)
        again = jobs.run_now("generate_monthly_impact_report", year=year, month=month)
        db.session.remove()
    assert first == again
    body = client.get(url).get_json()
    assert (body["year"], body["month"]) == (year, month)
    # the scenario's events may straddle a month boundary; the report counts those that started in this month
    assert body["events_held"] == body["events_with_report"] >= 1
    assert body["trash_collected_kg"] == 10.0 * body["events_held"]
    assert body["categories"][0]["name"] == "Limpeza" and body["volunteers"] >= 1

    for bad in ("month=13&year=2026", "month=0&year=2026", "year=abc&month=1", "year=99999&month=1"):
        response = client.get(f"/api/impact/monthly/?{bad}")
        assert response.status_code == 400, bad
    assert client.get("/api/impact/monthly/?year=2001&month=1").status_code == 404

    with jobs_app.app_context():
        produced = jobs.run_now("generate_monthly_impact_report")  # no arguments: the previous month
        db.session.remove()
    assert (produced["year"], produced["month"]) == _previous(jobs_app)
    assert client.get("/api/impact/monthly/").status_code == 200


def _previous(app):
    with app.app_context():
        return previous_month()
