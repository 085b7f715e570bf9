"""The post-event report: who may read and write it, when, and what it refuses."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from mutiroes.impact.models import EventReport
from mutiroes.models import db
from mutiroes.timeutil import utcnow

REPORT = {
    "total_hours": 12,
    "trash_collected_kg": 45.5,  # one person (nobody checked in): at most 50 kg
    "trees_planted": 0,
    "area_cleaned_m2": 1200,
    "recyclable_material_kg": 30.25,
    "summary": "Limpamos 2 km de praia.",
}


def stored_reports(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                EventReport.event_id, EventReport.total_hours, EventReport.trash_collected_kg, EventReport.summary
            )
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


@pytest.fixture
def past_event(make_event, user_with_token):
    organizer, headers = user_with_token(first_name="Olga", last_name="Reis")
    event_id = make_event(organizer=organizer, start_date=utcnow() - dt.timedelta(hours=4), title="Praia do Forte")
    return event_id, organizer, headers


def test_report_is_filed_once_by_the_organizer_and_read_by_anyone(client, app, past_event):
    event_id, organizer, headers = past_event
    url = f"/api/events/{event_id}/report/"
    assert client.get(url).status_code == 404
    created = client.post(url, json=REPORT, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["event"] == event_id and body["event_title"] == "Praia do Forte"
    assert body["created_by"] == organizer["id"] and body["created_by_name"] == "Olga Reis"
    assert body["trash_collected_kg"] == 45.5 and body["total_hours"] == 12.0
    assert body["total_participants"] == 0  # not given: the number checked in
    assert client.get(url).get_json() == body
    assert client.get(url.rstrip("/")).status_code == 200

    again = client.post(url, json=REPORT, headers=headers)
    assert again.status_code == 409 and "detail" in again.get_json()

    patched = client.patch(url, json={"trees_planted": 14, "total_hours": None}, headers=headers)
    assert patched.status_code == 200
    assert (patched.get_json()["trees_planted"], patched.get_json()["total_hours"]) == (14, None)
    replaced = client.put(url, json={"summary": "Relatório refeito."}, headers=headers)
    assert replaced.status_code == 200
    assert replaced.get_json()["trash_collected_kg"] == 0.0 and replaced.get_json()["trees_planted"] == 0
    assert stored_reports(app) == [(event_id, None, 0.0, "Relatório refeito.")]


def test_report_before_the_start_or_on_a_cancelled_event_is_409(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    upcoming = make_event(organizer=organizer)
    cancelled = make_event(organizer=organizer, start_date=utcnow() - dt.timedelta(hours=5), status="cancelled")
    for event_id in (upcoming, cancelled):
        response = client.post(f"/api/events/{event_id}/report/", json=REPORT, headers=headers)
        assert response.status_code == 409
    assert client.patch(f"/api/events/{upcoming}/report/", json={}, headers=headers).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"trash_collected_kg": -1}, "trash_collected_kg"),
        ({"total_hours": -0.5}, "total_hours"),
        ({"trees_planted": -3}, "trees_planted"),
        ({"total_participants": -1}, "total_participants"),
        ({"area_cleaned_m2": "muito"}, "area_cleaned_m2"),
        ({"trees_planted": 2.5}, "trees_planted"),
        ({"recyclable_material_kg": 1e300}, "recyclable_material_kg"),
        ({"summary": "x" * 10001}, "summary"),
        ({"trees_planted": "2,5"}, "trees_planted"),
        ({"trash_collected_kg": "nan"}, "trash_collected_kg"),
        ({"created_by_id": 7}, "created_by_id"),
        ({"hours": 3}, "hours"),
    ],
)
def test_bad_numbers_and_unknown_fields_are_400_and_store_nothing(client, app, past_event, body, field):
    event_id, _organizer, headers = past_event
    response = client.post(f"/api/events/{event_id}/report/", json=body, headers=headers)
    assert response.status_code == 400
    assert field in response.get_json()
    assert stored_reports(app) == []


def test_the_web_form_files_the_report_with_numeric_strings(client, app, past_event):
    # the frontend sends form values as strings, as DRF accepts them
    event_id, _organizer, headers = past_event
    # within what one person (nobody checked in) could have done: at most 12 h and 50 kg
    form = {"total_participants": "7", "total_hours": "11.5", "trash_collected_kg": "45.5", "trees_planted": "3"}
    response = client.post(f"/api/events/{event_id}/report/", json={**form, "summary": "Ok"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["total_participants"], body["total_hours"], body["trees_planted"]) == (7, 11.5, 3)
    assert stored_reports(app) == [(event_id, 11.5, 45.5, "Ok")]


def test_the_report_put_back_as_it_was_got_is_saved_and_its_read_only_fields_set_nothing(client, app, past_event):
    event_id, organizer, headers = past_event
    url = f"/api/events/{event_id}/report/"
    client.post(url, json=REPORT, headers=headers)
    got = client.get(url).get_json()
    sent_back = {**got, "summary": "Limpamos 3 km.", "id": 999, "event": 4040, "created_by": 1234}
    sent_back.update(event_title="Outro", created_by_name="Outra", created_at="2000-01-01T00:00:00-03:00")
    response = client.put(url, json=sent_back, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["summary"] == "Limpamos 3 km."
    assert (body["id"], body["event"], body["created_by"]) == (got["id"], event_id, organizer["id"])
    assert (body["event_title"], body["created_at"]) == ("Praia do Forte", got["created_at"])
    assert stored_reports(app) == [(event_id, 12.0, 45.5, "Limpamos 3 km.")]
    patched = client.patch(url, json={**body, "trees_planted": "4"}, headers=headers)
    assert patched.status_code == 200 and patched.get_json()["trees_planted"] == 4


def test_patch_with_a_negative_number_changes_nothing(client, app, past_event):
    event_id, _organizer, headers = past_event
    url = f"/api/events/{event_id}/report/"
    client.post(url, json=REPORT, headers=headers)
    assert client.patch(url, json={"trash_collected_kg": -5}, headers=headers).status_code == 400
    assert client.put(url, json={**REPORT, "total_hours": -1}, headers=headers).status_code == 400
    assert stored_reports(app) == [(event_id, 12.0, 45.5, "Limpamos 2 km de praia.")]


def test_authorization_matrix_of_the_report_writes(client, app, past_event, user_with_token, make_event):
    event_id, organizer, headers = past_event
    url = f"/api/events/{event_id}/report/"
    _stranger, stranger_headers = user_with_token()
    _staff, staff_headers = user_with_token(is_staff=True)

    for method in ("post", "put", "patch"):
        assert getattr(client, method)(url, json=REPORT).status_code == 401
        assert getattr(client, method)(url, json=REPORT, headers=stranger_headers).status_code == 403
    assert stored_reports(app) == []

    client.post(url, json=REPORT, headers=headers)
    before = client.get(url).get_json()
    for caller in (stranger_headers, staff_headers):
        for method in ("post", "put", "patch"):
            response = getattr(client, method)(url, json={"summary": "invadido"}, headers=caller)
            assert response.status_code == 403
    assert client.get(url).get_json() == before
    assert client.delete(url, headers=headers).status_code == 405

    # a private event: its report does not exist for anyone else
    private = make_event(organizer=organizer, start_date=utcnow() - dt.timedelta(hours=4), is_public=False)
    assert client.post(f"/api/events/{private}/report/", json=REPORT, headers=headers).status_code == 201
    assert client.get(f"/api/events/{private}/report/").status_code == 404
    assert client.get(f"/api/events/{private}/report/", headers=stranger_headers).status_code == 404
    assert client.patch(f"/api/events/{private}/report/", json={}, headers=stranger_headers).status_code == 404
    assert client.get(f"/api/events/{private}/report/", headers=headers).status_code == 200
