"""Who may see and who may manage an event: the events domain's public module for the other domains.

An event the caller may not see is 404 (drafts and private events exist only for their organizer and staff); seeing
it without the role a change needs is 403. Every route under ``/api/events/<id>/`` starts with one of these, so an
event the caller may not see is the same 404 on all of them, whether or not the caller holds a participation in it.

The ``authorize_*`` functions take keyword arguments named as the routes' path ids: the web layer runs them before
it parses a body (``web.auth.allowed``), and the services call the same rules again in their unit of work.
"""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.errors import Forbidden, NotFound
from mutiroes.events.models import Event, EventParticipant, EventStatus, ParticipationStatus
from mutiroes.models import db
from mutiroes.users.models import User


def can_manage(event: Event, user: User | None) -> bool:
    return user is not None and (user.id == event.organizer_id or bool(user.is_staff))


def can_see(event: Event, user: User | None) -> bool:
    return (event.is_public and event.status != EventStatus.DRAFT) or can_manage(event, user)


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


def get_managed(event_id: int, user: User) -> Event:
    event = get_visible(event_id, user)
    if not can_manage(event, user):
        raise Forbidden("Apenas o organizador do evento pode fazer isso.")
    return event


def authorize_view(*, event_id: int, caller: User | None) -> Event:
    return get_visible(event_id, caller)


def authorize_manage(*, event_id: int, caller: User) -> Event:
    return get_managed(event_id, caller)


def is_confirmed(event_id: int, user_id: int, *, lock: bool = False) -> bool:
    """Whether ``user_id`` holds a confirmed spot at the event. ``lock`` holds their participation row until the
    transaction ends (PostgreSQL), so leaving or being rejected waits for what is being done on that spot."""
    statement = sa.select(EventParticipant.status).where(
        EventParticipant.event_id == event_id, EventParticipant.user_id == user_id
    )
    if lock:
        statement = statement.with_for_update(of=EventParticipant.__table__)
    return db.session.scalar(statement) == ParticipationStatus.CONFIRMED
