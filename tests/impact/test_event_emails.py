"""Participation and event emails through the real SMTP sink and burst RQ workers: each type arrives once (a second
run of every job sends nothing), confirmations carry the iCal invite, preferences are respected."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.jobs.outbox import OutboxJob
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from tests.events.conftest import iso


def rerun_every_job(jobs_app, work) -> None:
    """Request again every job requested so far (same arguments) and run them: what a retry or a duplicate does."""
    with jobs_app.app_context():
        for name, kwargs in db.session.execute(sa.select(OutboxJob.name, OutboxJob.kwargs)).all():
            jobs.request(name, **kwargs)
        db.session.commit()
        db.session.remove()
    work()


def event_mail(sink, count: int | None = None):
    """Messages other than welcome emails, by (recipient, subject)."""
    messages = sink.wait_for(count) if count is not None else sink.messages()
    return [m for m in messages if not m["Subject"].startswith("Boas-vindas")]


def calendars(message) -> list[str]:
    return [p.get_content() for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]


def test_every_notification_type_arrives_once_with_the_invite_on_confirmations(
    client, jobs_app, sink, work, make_event, user_with_token
):
    organizer, organizer_headers = user_with_token()
    approval = make_event(organizer=organizer, requires_approval=True, max_participants=5, title="Plantio no Parque")
    small = make_event(organizer=organizer, max_participants=1, title="Limpeza do Rio Pinheiros")
    (u1, h1), (u2, h2), (u3, h3), (u4, h4) = (user_with_token() for _ in range(4))

    # a worker runs between the steps, as it would in production (a job reflects the state when it runs)
    p1 = client.post(f"/api/events/{approval}/join/", headers=h1).get_json()["id"]
    p2 = client.post(f"/api/events/{approval}/join/", headers=h2).get_json()["id"]
    assert client.post(f"/api/events/{small}/join/", headers=h3).get_json()["status"] == "confirmed"
    assert client.post(f"/api/events/{small}/join/", headers=h4).get_json()["status"] == "waitlisted"
    work()
    for pid, status in ((p1, "confirmed"), (p2, "rejected")):
        url = f"/api/events/{approval}/participants/{pid}/"
        assert client.patch(url, json={"status": status}, headers=organizer_headers).status_code == 200
    assert client.post(f"/api/events/{small}/leave/", headers=h3).status_code == 200  # u4 is promoted
    work()

    expected = {
        (u1["email"], "Inscrição recebida: Plantio no Parque"),
        (u1["email"], "Inscrição aprovada: Plantio no Parque"),
        (u2["email"], "Inscrição recebida: Plantio no Parque"),
        (u2["email"], "Inscrição não aprovada: Plantio no Parque"),
        (u3["email"], "Inscrição confirmada: Limpeza do Rio Pinheiros"),
        (u4["email"], "Você está na lista de espera: Limpeza do Rio Pinheiros"),
        (u4["email"], "Abriu uma vaga para você: Limpeza do Rio Pinheiros"),
    }
    messages = event_mail(sink, 5 + len(expected))  # and 5 welcome emails
    assert sorted((m["To"], m["Subject"]) for m in messages) == sorted(expected)

    invites = {m["Subject"].split(":")[0] for m in messages if calendars(m)}
    assert invites == {"Inscrição aprovada", "Inscrição confirmada", "Abriu uma vaga para você"}
    confirmed = next(m for m in messages if m["Subject"].startswith("Inscrição confirmada"))
    [calendar] = calendars(confirmed)
    assert f"UID:event-{small}@mutiroes" in calendar and "SUMMARY:Limpeza do Rio Pinheiros" in calendar
    text = confirmed.get_body(preferencelist=("plain",)).get_content()
    html = confirmed.get_body(preferencelist=("html",)).get_content()
    assert "(horário de Brasília)" in text and "Parque Ibirapuera, São Paulo - SP" in text
    assert "https://www.google.com/maps/search/?api=1&query=-23.550500%2C-46.633300" in text
    assert f"https://mutiroes.example.org/eventos/{small}" in html
    assert confirmed["Content-Language"] == "pt-BR"

    rerun_every_job(jobs_app, work)
    assert len(sink.wait_for(len(messages) + 6, timeout=1)) == len(messages) + 5


def test_date_change_notifies_confirmed_participants(client, jobs_app, sink, work, make_event, user_with_token):
    organizer, headers = user_with_token()
    volunteer, volunteer_headers = user_with_token(first_name="Bia")
    waiting, waiting_headers = user_with_token()
    event_id = make_event(organizer=organizer, max_participants=1, title="Mutirão da Orla")
    client.post(f"/api/events/{event_id}/join/", headers=volunteer_headers)
    client.post(f"/api/events/{event_id}/join/", headers=waiting_headers)
    new_start = (utcnow() + dt.timedelta(days=5)).replace(hour=13, minute=0, second=0, microsecond=0)
    response = client.patch(
        f"/api/events/{event_id}/",
        json={"start_date": iso(new_start), "end_date": iso(new_start + dt.timedelta(hours=2))},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["registration_deadline"] == response.get_json()["start_date"]
    work()
    changed = [m for m in event_mail(sink, 5) if m["Subject"].startswith("O evento mudou")]
    assert [m["To"] for m in changed] == [volunteer["email"]]  # confirmed only, not the waitlisted person
    text = changed[0].get_body(preferencelist=("plain",)).get_content()
    assert "Olá, Bia!" in text and "das 10:00 às 12:00 (horário de Brasília)" in text

    # a second change is news; running every job again sends nothing more
    later = new_start + dt.timedelta(days=1)
    client.patch(
        f"/api/events/{event_id}/",
        json={"start_date": iso(later), "end_date": iso(later + dt.timedelta(hours=2))},
        headers=headers,
    )
    work()
    rerun_every_job(jobs_app, work)
    changed = [m for m in event_mail(sink, 6) if m["Subject"].startswith("O evento mudou")]
    assert len(changed) == 2


def test_delete_with_participants_sends_cancellations_after_the_row_is_gone(
    client, jobs_app, sink, work, make_event, user_with_token
):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer, title="Limpeza do Rio Tietê")
    volunteers = [user_with_token() for _ in range(2)]
    for _user, volunteer_headers in volunteers:
        client.post(f"/api/events/{event_id}/join/", headers=volunteer_headers)
    assert client.delete(f"/api/events/{event_id}/", headers=headers).status_code == 204
    assert client.get(f"/api/events/{event_id}/").status_code == 404
    work()
    rerun_every_job(jobs_app, work)
    cancelled = [m for m in event_mail(sink, 7) if m["Subject"].startswith("Evento cancelado")]
    assert sorted(m["To"] for m in cancelled) == sorted(user["email"] for user, _ in volunteers)
    text = cancelled[0].get_body(preferencelist=("plain",)).get_content()
    assert "Limpeza do Rio Tietê" in text and "Parque Ibirapuera, São Paulo" in text
    # the join confirmations ran only after the delete: the event was gone and they ended without sending
    assert [m for m in event_mail(sink) if m["Subject"].startswith("Inscrição confirmada")] == []


def test_people_without_event_updates_hear_of_no_change_or_cancellation(
    client, sink, work, make_event, user_with_token
):
    organizer, headers = user_with_token()
    quiet, quiet_headers = user_with_token()
    client.patch(
        "/api/users/profile/", json={"notification_preferences": {"event_updates": False}}, headers=quiet_headers
    )
    event_id = make_event(organizer=organizer, title="Monitoramento do Córrego")
    client.post(f"/api/events/{event_id}/join/", headers=quiet_headers)
    client.patch(f"/api/events/{event_id}/", json={"address": "Rua Nova, 10"}, headers=headers)
    client.patch(f"/api/events/{event_id}/", json={"status": "cancelled"}, headers=headers)
    work()
    assert [m["Subject"] for m in event_mail(sink, 3)] == ["Inscrição confirmada: Monitoramento do Córrego"]


def test_a_job_about_a_deleted_event_or_user_ends_cleanly(jobs_app, make_user, sink):
    user = make_user()
    with jobs_app.app_context():
        run = jobs.run_now
        assert run(
            "send_event_notification_email", event_id=987654, user_id=user["id"], notification_type="joined"
        ) == ("skipped: event gone")
        assert (
            run(
                "send_event_notification_email",
                event_id=987654,
                user_id=user["id"],
                notification_type="event_cancelled",
            )
            == "skipped: event gone"
        )
        assert run("send_event_notification_email", event_id=1, user_id=987654, notification_type="joined") == (
            "skipped: no such active user"
        )
        assert run("send_bulk_event_reminders", event_id=987654, reminder="2h")["sent"] == 0
        db.session.remove()
    assert sink.files() == []
