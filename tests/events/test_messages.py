"""Organizers' messages: emailed through the outbox once to each person addressed (real SMTP sink, burst RQ
workers), listed to the organizing team and to the people addressed, at most 5 per event in 24 hours."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.events.models import EventMessage, EventMessageRecipient
from mutiroes.models import db
from tests.impact.test_event_emails import event_mail, rerun_every_job


def message(subject="Ponto de encontro", body="Nos vemos na entrada do parque.\n\nTragam luvas!", audience=None):
    payload = {"subject": subject, "body": body}
    if audience:
        payload["audience"] = audience
    return payload


def test_a_message_reaches_each_person_addressed_once(client, jobs_app, sink, work, team, user_with_token):
    url = f"/api/events/{team.event_id}/messages/"
    waiting, waiting_headers = user_with_token()
    client.patch(f"/api/events/{team.event_id}/", json={"requires_approval": True}, headers=team.organizer_headers)
    assert client.post(f"/api/events/{team.event_id}/join/", headers=waiting_headers).get_json()["status"] == "pending"
    work()
    sink.clear()

    only_confirmed = client.post(url, json=message(), headers=team.co_headers)
    assert only_confirmed.status_code == 202
    assert only_confirmed.get_json()["recipients_count"] == 1
    assert only_confirmed.get_json()["sent_by_name"] == "Cora Coorganizadora"
    everyone = client.post(url, json=message(subject="Mudou a hora", audience="all"), headers=team.organizer_headers)
    assert everyone.status_code == 202 and everyone.get_json()["recipients_count"] == 2
    work()
    rerun_every_job(jobs_app, work)
    received = sorted((m["To"], m["Subject"]) for m in event_mail(sink, 3))
    assert received == sorted(
        [
            (team.participant["email"], "Ponto de encontro — Limpeza do Rio Capibaribe"),
            (team.participant["email"], "Mudou a hora — Limpeza do Rio Capibaribe"),
            (waiting["email"], "Mudou a hora — Limpeza do Rio Capibaribe"),
        ]
    )
    first = next(m for m in event_mail(sink) if m["Subject"].startswith("Ponto"))
    text = first.get_body(preferencelist=("plain",)).get_content()
    html = first.get_body(preferencelist=("html",)).get_content()
    assert "Cora Coorganizadora" in text and "Nos vemos na entrada do parque." in text and "Tragam luvas!" in text
    assert '<p style="margin:0 0 10px 0;">Tragam luvas!</p>' in html

    # the organizing team sees both; each participant sees what was addressed to them
    assert [m["subject"] for m in client.get(url, headers=team.organizer_headers).get_json()["results"]] == [
        "Mudou a hora",
        "Ponto de encontro",
    ]
    assert client.get(url, headers=team.participant_headers).get_json()["count"] == 2
    assert [m["subject"] for m in client.get(url, headers=waiting_headers).get_json()["results"]] == ["Mudou a hora"]


def test_authorization_matrix_of_messages(app, client, team):
    url = f"/api/events/{team.event_id}/messages/"
    posting = {
        "anonymous": 401,
        "stranger": 403,
        "participant": 403,
        "co-organizer": 202,
        "organizer": 202,
        "staff": 202,
    }
    for who, status in posting.items():
        assert client.post(url, json=message(), headers=team.callers[who]).status_code == status, who
    reading = {
        "anonymous": 401,
        "stranger": 403,
        "participant": 200,
        "co-organizer": 200,
        "organizer": 200,
        "staff": 200,
    }
    for who, status in reading.items():
        assert client.get(url, headers=team.callers[who]).status_code == status, who
    for bad in (
        {"subject": "x" * 151, "body": "b"},
        {"subject": " ", "body": "b"},
        {"subject": "s"},
        {**message(), "audience": "todos"},
        {**message(), "recipients_count": 0},
    ):
        assert client.post(url, json=bad, headers=team.organizer_headers).status_code == 400, bad
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventMessage)) == 3
        db.session.remove()


def test_the_sixth_message_of_the_day_is_429_with_retry_after(app, client, team, make_event):
    url = f"/api/events/{team.event_id}/messages/"
    for number in range(5):
        assert (
            client.post(url, json=message(subject=f"Aviso {number}"), headers=team.organizer_headers).status_code == 202
        )
    refused = client.post(url, json=message(subject="Mais um"), headers=team.co_headers)
    assert refused.status_code == 429
    assert 86000 < int(refused.headers["Retry-After"]) <= 86400
    assert "5 mensagens" in refused.get_json()["detail"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventMessage)) == 5
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventMessageRecipient)) == 5
        db.session.remove()
    # the limit is per event
    other = make_event(organizer=team.organizer)
    assert (
        client.post(f"/api/events/{other}/messages/", json=message(), headers=team.organizer_headers).status_code == 202
    )
