"""Who may see and who may manage an event: the events domain's public module for the other domains.

An event the caller may not see is 404 (drafts and private events exist only for their organizing team and staff);
seeing it without the role a change needs is 403. Every route under ``/api/events/<id>/`` starts with one of these, so
an event the caller may not see is the same 404 on all of them, whether or not the caller holds a participation in it.

Who may do what is one table, ``ALLOWED``, read by one function, :func:`can_manage`, which every organizer check of
every domain calls (events, participants, check-in, exports, content, reports, messages, series, moderation):
- the organizer and the co-organizers are the event's organizing team; they manage everything about it;
- deleting the event and choosing its co-organizers stay with the organizer (a co-organizer cannot remove the
  organizer's say over their own event);
- staff manage every event, but do not file impact reports: a report is the organizing team's own statement.

The ``authorize_*`` functions take keyword arguments named as the routes' path ids: the web layer runs them before
it parses a body (``web.auth.allowed``), and the services call the same rules again in their unit of work.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa

from mutiroes.errors import Forbidden, NotFound
from mutiroes.events.models import Event, EventCoOrganizer, EventParticipant, EventStatus, ParticipationStatus
from mutiroes.models import db
from mutiroes.users.models import User


class Role(enum.StrEnum):
    ORGANIZER = "organizer"
    CO_ORGANIZER = "co_organizer"
    STAFF = "staff"


class Action(enum.StrEnum):
    MANAGE = "manage"  # change the event, its content, participants, check-ins, exports, messages, series; moderate
    REPORT = "report"  # file and change the impact report
    OWN = "own"  # delete the event, add and remove co-organizers


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.MANAGE: frozenset({Role.ORGANIZER, Role.CO_ORGANIZER, Role.STAFF}),
    Action.REPORT: frozenset({Role.ORGANIZER, Role.CO_ORGANIZER}),
    Action.OWN: frozenset({Role.ORGANIZER, Role.STAFF}),
}
REFUSALS = {
    Action.MANAGE: "Apenas a organização do evento pode fazer isso.",
    Action.REPORT: "Apenas a organização do evento pode registrar o relatório.",
    Action.OWN: "Apenas o organizador responsável pelo evento pode fazer isso.",
}


def roles(event: Event, user: User | None) -> frozenset[Role]:
    """The caller's roles at this event (the co-organizers are read once per event object)."""
    if user is None:
        return frozenset()
    found = set()
    if user.id == event.organizer_id:
        found.add(Role.ORGANIZER)
    elif any(person.id == user.id for person in event.co_organizers):
        found.add(Role.CO_ORGANIZER)
    if user.is_staff:
        found.add(Role.STAFF)
    return frozenset(found)


def can_manage(event: Event, user: User | None, action: Action = Action.MANAGE) -> bool:
    """Whether ``user`` may do ``action`` to the event: the one organizer check (``ALLOWED``)."""
    return bool(roles(event, user) & ALLOWED[action])


def can_see(event: Event, user: User | None) -> bool:
    return (event.is_public and event.status != EventStatus.DRAFT) or can_manage(event, user)


def organized_by(user_id: int) -> sa.ColumnElement[bool]:
    """SQL condition on ``Event``: ``user_id`` is its organizer or one of its co-organizers."""
    co_organized = sa.select(EventCoOrganizer.event_id).where(EventCoOrganizer.user_id == user_id)
    return sa.or_(Event.organizer_id == user_id, Event.id.in_(co_organized))


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound("Evento não encontrado.")
    return event


def get_visible(event_id: int, user: User | None) -> Event:
    event = get_event(event_id)
    if not can_see(event, user):
        raise NotFound("Evento não encontrado.")
    return event


def get_managed(event_id: int, user: User, action: Action = Action.MANAGE) -> Event:
    event = get_visible(event_id, user)
    if not can_manage(event, user, action):
        raise Forbidden(REFUSALS[action])
    return event


def authorize_view(*, event_id: int, caller: User | None) -> Event:
    return get_visible(event_id, caller)


def authorize_manage(*, event_id: int, caller: User) -> Event:
    return get_managed(event_id, caller)


def authorize_own(*, event_id: int, caller: User) -> Event:
    return get_managed(event_id, caller, Action.OWN)


def is_confirmed(event_id: int, user_id: int, *, lock: bool = False) -> bool:
    """Whether ``user_id`` holds a confirmed spot at the event. ``lock`` holds their participation row until the
    transaction ends (PostgreSQL), so leaving or being rejected waits for what is being done on that spot."""
    statement = sa.select(EventParticipant.status).where(
        EventParticipant.event_id == event_id, EventParticipant.user_id == user_id
    )
    if lock:
        statement = statement.with_for_update(of=EventParticipant.__table__)
    return db.session.scalar(statement) == ParticipationStatus.CONFIRMED
