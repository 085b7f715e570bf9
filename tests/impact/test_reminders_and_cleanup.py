"""Reminders (bulk, once per participant and kind, over one SMTP connection) and the event rules of the clean-up."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.events.models import Event, EventParticipant
from mutiroes.models import db
from mutiroes.timeutil import to_local, utcnow
from mutiroes.users.models import User


def crowd(app, event_id: int, count: int, prefix: str) -> list[str]:
    """``count`` confirmed participants inserted in bulk; returns their addresses."""
    with app.app_context():
        emails = [f"{prefix}{n}@example.org" for n in range(count)]
        ids = db.session.scalars(
            sa.insert(User).returning(User.id),
            [{"username": e.split("@")[0], "email": e, "password_hash": "x", "first_name": "Vol"} for e in emails],
        ).all()
        db.session.execute(
            sa.insert(EventParticipant),
            [{"event_id": event_id, "user_id": user_id, "status": "confirmed"} for user_id in ids],
        )
        db.session.commit()
        db.session.remove()
    return emails


def run(app, name: str, **kwargs):
    with app.app_context():
        result = jobs.run_now(name, **kwargs)
        db.session.remove()
    return result


def test_reminders_reach_1000_participants_in_one_job_over_one_connection_once(
    app, jobs_app, sink, make_event, make_user, join
):
    event_id = make_event(start_date=utcnow() + dt.timedelta(hours=10), max_participants=2000, title="Praia Limpa")
    emails = crowd(app, event_id, 1000, "praia")
    no_reminders = make_user(notification_preferences={"event_reminders": False})
    join(event_id, no_reminders["id"])
    join(event_id, make_user()["id"], status="waitlisted")
    sink.clear()  # the welcome emails were never sent (no worker ran), but be sure

    result = run(jobs_app, "send_bulk_event_reminders", event_id=event_id, reminder="24h")
    assert result == {"sent": 1000, "skipped": 0, "rejected": 0}
    received = sink.wait_for(1000)
    assert sorted(m["To"] for m in received) == sorted(emails)
    assert len({m["X-Sink-Connection"] for m in received}) == 1
    assert received[0]["Subject"].startswith("Lembrete: Praia Limpa")
    text = received[0].get_body(preferencelist=("plain",)).get_content()
    assert "nas próximas 24 horas" in text and "Parque Ibirapuera" in text and "google.com/maps" in text

    # the same job again (a retry, or the next hourly run): nobody is reminded twice
    assert run(jobs_app, "send_bulk_event_reminders", event_id=event_id, reminder="24h")["sent"] == 0
    assert len(sink.files()) == 1000


def test_due_reminders_24h_and_2h_are_each_sent_once(app, jobs_app, sink, work, make_event, make_user, join):
    tomorrow = make_event(start_date=utcnow() + dt.timedelta(hours=20), title="Amanhã")
    soon = make_event(start_date=utcnow() + dt.timedelta(minutes=90), title="Já já")
    far = make_event(start_date=utcnow() + dt.timedelta(days=3), title="Depois")
    person = make_user()
    for event_id in (tomorrow, soon, far):
        join(event_id, person["id"])
    work()  # the welcome email
    sink.clear()

    def due(reminder: str) -> list[str]:
        before = {p.name for p in sink.files()}
        with jobs_app.app_context():
            jobs.request("send_due_event_reminders", reminder=reminder)
            db.session.commit()
            db.session.remove()
        work()
        return [m["Subject"] for m in _new(sink, before)]

    assert due("24h") == [_subject_24h(app, tomorrow)]
    assert due("2h") == [_subject_2h(app, soon)]
    assert due("24h") == [] and due("2h") == []

    # the event of tomorrow draws near: its 2-hour reminder goes out once, and no second 24-hour one
    with app.app_context():
        db.session.execute(
            sa.update(Event)
            .where(Event.id == tomorrow)
            .values(
                start_date=utcnow() + dt.timedelta(minutes=100),
                registration_deadline=utcnow(),
                end_date=utcnow() + dt.timedelta(hours=4),
            )
        )
        db.session.commit()
        db.session.remove()
    assert due("2h") == [_subject_2h(app, tomorrow)]
    assert due("2h") == [] and due("24h") == []


def _new(sink, before: set[str]):
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sink.files()
        if p.name not in before
    ]


def _subject_24h(app, event_id: int) -> str:
    with app.app_context():
        event = db.session.get(Event, event_id)
        start = to_local(event.start_date)
        subject = f"Lembrete: {event.title} — {start:%d/%m} às {start:%H:%M}"
        db.session.remove()
    return subject


def _subject_2h(app, event_id: int) -> str:
    with app.app_context():
        event = db.session.get(Event, event_id)
        subject = f"Daqui a pouco: {event.title} começa às {to_local(event.start_date):%H:%M}"
        db.session.remove()
    return subject


def test_cleanup_completes_ended_events_and_deletes_drafts_older_than_30_days(
    app, jobs_app, make_event, make_user, join
):
    now = utcnow()
    ended = make_event(start_date=now - dt.timedelta(hours=5))
    running = make_event(start_date=now - dt.timedelta(hours=1))  # ends in 2 hours
    cancelled = make_event(start_date=now - dt.timedelta(days=2), status="cancelled")
    old_draft = make_event(start_date=now - dt.timedelta(days=31), status="draft")
    recent_draft = make_event(start_date=now - dt.timedelta(days=29), status="draft")
    join(old_draft, make_user()["id"])

    counts = run(jobs_app, "cleanup_expired_events")
    assert (counts["completed_events"], counts["stale_drafts"]) == (1, 1)
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(Event.id, Event.status)).all())
        orphans = db.session.scalar(
            sa.select(sa.func.count()).select_from(EventParticipant).where(EventParticipant.event_id == old_draft)
        )
        db.session.remove()
    assert statuses == {ended: "completed", running: "published", cancelled: "cancelled", recent_draft: "draft"}
    assert orphans == 0

    again = run(jobs_app, "cleanup_expired_events")
    assert (again["completed_events"], again["stale_drafts"]) == (0, 0)
