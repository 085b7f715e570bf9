"""Each person's secret calendar feed, and the calendar entries emails carry: one entry per event (stable UID) that
follows its changes (a higher SEQUENCE) and its cancellation (STATUS:CANCELLED, METHOD:CANCEL). Read back with
icalendar and vobject (tests/calendars.py); emails through the real SMTP sink and burst RQ workers."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from mutiroes.events.models import EventParticipant
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from tests.calendars import attached, read
from tests.events.conftest import iso
from tests.impact.test_event_emails import event_mail


def feed_path(client, headers, method="get") -> str:
    response = getattr(client, method)("/api/users/calendar/", headers=headers)
    assert response.status_code == 200, response.get_json()
    url = urlparse(response.get_json()["url"])
    assert url.scheme == "http" and url.netloc == "localhost" and url.path.endswith(".ics")
    return url.path


def fetch(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar" and response.headers["Cache-Control"] == "private, no-store"
    return read(response.data)


def test_the_feed_url_stays_the_same_until_a_new_one_is_made(client, user_with_token):
    _user, headers = user_with_token()
    first = feed_path(client, headers)
    assert feed_path(client, headers) == first
    assert client.get(first).status_code == 200 and client.get(first + "/").status_code == 200
    renewed = feed_path(client, headers, method="post")
    assert renewed != first
    assert client.get(first).status_code == 404  # the old URL stops working at once
    assert client.get(renewed).status_code == 200
    assert feed_path(client, headers) == renewed
    assert client.get("/api/users/calendar/").status_code == 401
    assert client.post("/api/users/calendar/").status_code == 401
    assert client.get("/api/calendar/nao-existe.ics").status_code == 404
    _other, other_headers = user_with_token()
    assert feed_path(client, other_headers) not in (first, renewed)


def test_the_feed_holds_the_persons_events_from_30_days_ago_on(client, app, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    me, headers = user_with_token()
    confirmed = make_event(organizer=organizer, title="Confirmado")
    pending = make_event(organizer=organizer, title="Pendente", requires_approval=True)
    full = make_event(organizer=organizer, title="Lotado", max_participants=1)
    left = make_event(organizer=organizer, title="Desisti")
    make_event(organizer=organizer, title="De outra pessoa")
    for event_id in (confirmed, pending, left):
        assert client.post(f"/api/events/{event_id}/join/", headers=headers).status_code == 201
    _someone, someone_headers = user_with_token()
    client.post(f"/api/events/{full}/join/", headers=someone_headers)
    assert client.post(f"/api/events/{full}/join/", headers=headers).get_json()["status"] == "waitlisted"
    client.post(f"/api/events/{left}/leave/", headers=headers)
    # past events: joined straight into the database (joining closes at the start)
    recent = make_event(organizer=organizer, title="Semana passada", start_date=utcnow() - dt.timedelta(days=10))
    old = make_event(organizer=organizer, title="Há dois meses", start_date=utcnow() - dt.timedelta(days=60))
    draft = make_event(organizer=organizer, title="Rascunho", status="draft")
    from_db = {recent: "confirmed", old: "confirmed", draft: "confirmed"}
    _insert_participations(app, me["id"], from_db)

    calendar = fetch(client, feed_path(client, headers))
    assert calendar.method == "PUBLISH"
    assert [event["summary"] for event in calendar.events] == ["Semana passada", "Confirmado", "Pendente", "Lotado"]
    assert [event["uid"] for event in calendar.events] == [
        f"event-{event_id}@mutiroes" for event_id in (recent, confirmed, pending, full)
    ]
    assert {event["status"] for event in calendar.events} == {"CONFIRMED"}
    # the organizer's feed holds the events they joined, not those they organize
    assert fetch(client, feed_path(client, organizer_headers)).events == []


def _insert_participations(app, user_id: int, statuses: dict[int, str]) -> None:
    with app.app_context():
        for event_id, status in statuses.items():
            db.session.add(EventParticipant(event_id=event_id, user_id=user_id, status=status))
        db.session.commit()
        db.session.remove()


def test_editing_an_event_of_a_series_raises_its_sequence_and_cancelling_it_cancels_the_entry(
    client, jobs_app, sink, work, make_event, user_with_token
):
    organizer, organizer_headers = user_with_token(first_name="Olga")
    volunteer, headers = user_with_token(first_name="Vera", last_name="Voluntária")
    first = make_event(organizer=organizer, title="Plantio semanal")
    copies = client.post(
        f"/api/events/{first}/repeat/", json={"frequency": "weekly", "count": 2}, headers=organizer_headers
    ).get_json()
    event_id = copies[0]["id"]
    assert client.post(f"/api/events/{event_id}/join/", headers=headers).status_code == 201
    work()
    path = feed_path(client, headers)
    [entry] = fetch(client, path).events
    uid = f"event-{event_id}@mutiroes"
    assert (entry["uid"], entry["sequence"], entry["status"]) == (uid, 0, "CONFIRMED")

    # the confirmation's invitation: the same entry, METHOD:REQUEST, the volunteer as its one attendee
    [confirmation] = [m for m in event_mail(sink, 3) if m["Subject"].startswith("Inscrição confirmada")]
    [(method, body)] = attached(confirmation)
    invitation = read(body)
    assert method == invitation.method == "REQUEST"
    assert [(e["uid"], e["sequence"]) for e in invitation.events] == [(uid, 0)]
    assert invitation.events[0]["attendees"] == [f"mailto:{volunteer['email']}"]

    # a new time: the next fetch shows it with a higher SEQUENCE, and the change email carries the update
    new_start = (utcnow() + dt.timedelta(days=9)).replace(microsecond=0)
    changed = client.patch(
        f"/api/events/{event_id}/",
        json={"start_date": iso(new_start), "end_date": iso(new_start + dt.timedelta(hours=2))},
        headers=organizer_headers,
    )
    assert changed.status_code == 200
    [entry] = fetch(client, path).events
    assert (entry["uid"], entry["sequence"], entry["start"]) == (uid, 1, new_start)
    work()
    [change] = [m for m in event_mail(sink, 4) if m["Subject"].startswith("O evento mudou")]
    [(method, body)] = attached(change)
    update = read(body)
    assert method == update.method == "REQUEST" and [(e["uid"], e["sequence"], e["start"]) for e in update.events] == [
        (uid, 1, new_start)
    ]

    # a change calendars do not show (capacity) leaves the SEQUENCE alone
    client.patch(f"/api/events/{event_id}/", json={"max_participants": 30}, headers=organizer_headers)
    assert fetch(client, path).events[0]["sequence"] == 1

    # cancelled: STATUS:CANCELLED in the feed, and the cancellation email carries METHOD:CANCEL
    client.patch(f"/api/events/{event_id}/", json={"status": "cancelled"}, headers=organizer_headers)
    [entry] = fetch(client, path).events
    assert (entry["uid"], entry["sequence"], entry["status"]) == (uid, 2, "CANCELLED")
    work()
    [cancellation] = [m for m in event_mail(sink, 5) if m["Subject"].startswith("Evento cancelado")]
    [(method, body)] = attached(cancellation)
    cancel = read(body)
    assert method == cancel.method == "CANCEL"
    assert [(e["uid"], e["sequence"], e["status"]) for e in cancel.events] == [(uid, 2, "CANCELLED")]
    # the other events of the series are untouched
    assert client.get(f"/api/events/{copies[1]['id']}/").get_json()["status"] == "published"


def test_deleting_an_event_emails_a_cancel_with_the_next_sequence(client, sink, work, make_event, user_with_token):
    organizer, organizer_headers = user_with_token()
    volunteer, headers = user_with_token()
    event_id = make_event(organizer=organizer, title="Mutirão apagado")
    client.post(f"/api/events/{event_id}/join/", headers=headers)
    client.patch(f"/api/events/{event_id}/", json={"title": "Mutirão renomeado"}, headers=organizer_headers)
    assert client.delete(f"/api/events/{event_id}/", headers=organizer_headers).status_code == 204
    work()
    [cancellation] = [m for m in event_mail(sink, 3) if m["Subject"].startswith("Evento cancelado")]
    assert cancellation["To"] == volunteer["email"]
    [(_method, body)] = attached(cancellation)
    cancel = read(body)
    assert cancel.method == "CANCEL"
    assert [(e["uid"], e["sequence"], e["status"], e["summary"]) for e in cancel.events] == [
        (f"event-{event_id}@mutiroes", 2, "CANCELLED", "Mutirão renomeado")
    ]
