"""The weekly digest of new events near each person (notification preference ``new_events_nearby``).

Who gets it: active people with the preference on and a city in their profile. Where they are: profiles hold a city
and a state, not coordinates, so a city is placed at the mean position of the events ever held in it (same city
and state, ignoring case and accents; a city named without a state only when one state has events in a city of
that name). A city no event was ever held in has no place yet, and its people get no digest.

What it lists: at most ``MAX_EVENTS`` events, nearest first, within ``RADIUS_KM`` of that place, published as
public events in the last 7 days and not started yet, leaving out events the person organizes or already joined.
Nobody is emailed an empty digest.

Once per person and week: the delivery key is ``nearby_digest:<ISO year>-W<week>:<email>`` (the week of the run in
the server zone), so a second run in the same week — a retry, a restarted scheduler, ``flask jobs run`` — sends
nothing again; people already sent this week's digest are left out by the query itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from mutiroes import jobs, mail
from mutiroes.events.ical import event_url, place_of
from mutiroes.events.jobs import format_when
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    Event,
    EventCoOrganizer,
    EventParticipant,
    EventStatus,
)
from mutiroes.events.sqlfunctions import distance_km, search_text
from mutiroes.models import db
from mutiroes.timeutil import server_tz, utcnow
from mutiroes.users.models import User
from mutiroes.users.profiles import allows

RADIUS_KM = 25.0
MAX_EVENTS = 10
NEW_WITHIN = dt.timedelta(days=7)
PREFERENCE = "new_events_nearby"
KIND = "nearby_digest"


def week_of(moment: dt.datetime) -> str:
    """``2026-W49``: the ISO week of ``moment`` in the server zone, the digest's once-a-week unit."""
    year, week, _day = moment.astimezone(server_tz()).isocalendar()
    return f"{year}-W{week:02d}"


def city_places() -> dict[tuple[str, str], tuple[float, float]]:
    """(city without accents in lower case, state) → mean (latitude, longitude) of the events held there."""
    city = Event.searchable_city  # folded when the event is written (search_text), on both databases
    rows = db.session.execute(
        sa.select(city, Event.state, sa.func.avg(Event.latitude), sa.func.avg(Event.longitude))
        .where(Event.city != "")
        .group_by(city, Event.state)
    ).all()
    return {(name.strip(), state.upper()): (float(lat), float(lng)) for name, state, lat, lng in rows}


def place_of_person(city: str, state: str, places: dict[tuple[str, str], tuple[float, float]]):
    """Where the digest measures from for a profile's city and state, or ``None`` when that is not known."""
    name = (search_text(city) or "").strip()
    if not name:
        return None
    if state.strip():
        return places.get((name, state.strip().upper()))
    matches = [point for (city_name, _state), point in places.items() if city_name == name]
    return matches[0] if len(matches) == 1 else None


def _candidates(now: dt.datetime) -> list[Event]:
    return db.session.scalars(
        sa.select(Event)
        .where(
            Event.status == EventStatus.PUBLISHED,
            Event.is_public.is_(True),
            Event.created_at >= now - NEW_WITHIN,
            Event.start_date > now,
        )
        .order_by(Event.start_date, Event.id)
    ).all()


def _already_involved(event_ids: list[int]) -> set[tuple[int, int]]:
    """(user id, event id) of the people who organize or joined these events: not news to them."""
    joined = db.session.execute(
        sa.select(EventParticipant.user_id, EventParticipant.event_id).where(
            EventParticipant.event_id.in_(event_ids), EventParticipant.status.in_(ACTIVE_PARTICIPATION_STATUSES)
        )
    ).all()
    co_organizing = db.session.execute(
        sa.select(EventCoOrganizer.user_id, EventCoOrganizer.event_id).where(EventCoOrganizer.event_id.in_(event_ids))
    ).all()
    return {(row[0], row[1]) for row in (*joined, *co_organizing)}


def nearest(point: tuple[float, float], user_id: int, candidates: list[Event], involved: set) -> list[dict]:
    """The listed events for one person: within the radius, not theirs, nearest first, at most ``MAX_EVENTS``."""
    found = []
    for event in candidates:
        if event.organizer_id == user_id or (user_id, event.id) in involved:
            continue
        distance = distance_km(point[0], point[1], event.latitude, event.longitude)
        if distance <= RADIUS_KM:
            found.append((distance, event.start_date, event.id, event))
    found.sort(key=lambda item: item[:3])
    return [
        {
            "title": event.title,
            "when": format_when(event.start_date, event.end_date),
            "place": place_of(event),
            "distance": f"{distance:.1f} km".replace(".", ","),
            "url": event_url(event.id),
            "id": event.id,
        }
        for distance, _start, _id, event in found[:MAX_EVENTS]
    ]


@jobs.job(queue=jobs.PERIODIC, timeout=3600)
def send_nearby_events_digest() -> dict[str, Any]:
    """The weekly run: one digest per person who has new events near them, over one SMTP connection."""
    now = utcnow()
    week = week_of(now)
    candidates = _candidates(now)
    if not candidates:
        db.session.rollback()
        return {"week": week, "events": 0, "sent": 0, "skipped": 0}
    places = city_places()
    involved = _already_involved([event.id for event in candidates])
    key = sa.literal(f"{KIND}:{week}:") + sa.func.lower(sa.func.trim(User.email))
    already = sa.exists().where(mail.EmailDelivery.key == key)
    people = db.session.execute(
        sa.select(
            User.id,
            User.email,
            User.first_name,
            User.username,
            User.city,
            User.state,
            User.notification_preferences,
            User.is_active,
        )
        .where(User.is_active.is_(True), User.city != "", ~already)
        .order_by(User.id)
    ).all()
    digests = []
    for person in people:
        if not allows(person, PREFERENCE):
            continue
        point = place_of_person(person.city, person.state, places)
        if point is None:
            continue
        events = nearest(point, person.id, candidates, involved)
        if events:
            digests.append((person, events))
    db.session.rollback()  # the job holds no transaction while talking to SMTP

    def messages():
        for person, events in digests:
            count = len(events)
            subject = (
                f"Um mutirão novo perto de {person.city}"
                if count == 1
                else f"{count} mutirões novos perto de {person.city}"
            )
            intro = (
                f"Nesta semana {'surgiu um mutirão novo' if count == 1 else f'surgiram {count} mutirões novos'}"
                f" a até {RADIUS_KM:.0f} km de {person.city}. Que tal participar?"
            )
            text, html = mail.render(
                "nearby_digest",
                subject=subject,
                intro=intro,
                name=person.first_name or person.username,
                city=person.city,
                events=events,
            )
            yield mail.Message(
                key=mail.delivery_key(KIND, week, recipient=person.email),
                to=person.email,
                subject=subject,
                text=text,
                html=html,
            )

    result = mail.send_bulk(messages())
    return {"week": week, "events": len(candidates), "sent": result.sent, "skipped": result.skipped}
