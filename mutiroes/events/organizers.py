"""Co-organizers: the people who organize an event with its organizer. Each public function is one unit of work.

What they may do is decided in ``access`` (everything the organizer does but delete the event or change the
co-organizers). The organizer (or staff) adds and removes them; a co-organizer may also step down.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes.errors import Conflict, Forbidden, NotFound, ValidationError
from mutiroes.events import access
from mutiroes.events.models import EventCoOrganizer
from mutiroes.models import db
from mutiroes.users.models import User


def get_all(*, event_id: int, caller: User | None) -> list[User]:
    """The co-organizers of an event the caller may see, in the order they joined the organization."""
    return list(access.get_visible(event_id, caller).co_organizers)


def create(*, event_id: int, caller: User, user_id: int) -> User:
    """The organizer (or staff) adds an active account as co-organizer."""
    event = access.get_managed(event_id, caller, access.Action.OWN)
    person = db.session.get(User, user_id)
    if person is None or not person.is_active:
        raise ValidationError({"user_id": ["Usuário não encontrado."]})
    if person.id == event.organizer_id:
        raise Conflict("Esta pessoa já é a organizadora do evento.")
    if any(co.id == person.id for co in event.co_organizers):
        raise Conflict("Esta pessoa já é coorganizadora do evento.")
    db.session.add(EventCoOrganizer(event_id=event.id, user_id=person.id, added_by_id=caller.id))
    try:
        db.session.commit()
    except IntegrityError as exc:
        # the same person added by a simultaneous request, or the event deleted meanwhile
        db.session.rollback()
        access.get_event(event_id)
        raise Conflict("Esta pessoa já é coorganizadora do evento.") from exc
    return person


def delete(*, event_id: int, caller: User, user_id: int) -> None:
    """The organizer (or staff) removes a co-organizer; a co-organizer may remove themself."""
    event = access.get_visible(event_id, caller)
    stepping_down = caller.id == user_id and access.Role.CO_ORGANIZER in access.roles(event, caller)
    if not stepping_down and not access.can_manage(event, caller, access.Action.OWN):
        raise Forbidden(access.REFUSALS[access.Action.OWN])
    removed = db.session.execute(
        sa.delete(EventCoOrganizer)
        .where(EventCoOrganizer.event_id == event.id, EventCoOrganizer.user_id == user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if removed != 1:
        db.session.rollback()
        raise NotFound("Coorganizador não encontrado neste evento.")
    db.session.commit()
