"""Messages from an event's organizers to its participants. Each public function is one unit of work.

A message is addressed when it is sent (its recipients are rows), emailed through the outbox by
``jobs.send_event_message_emails`` once to each person, and listed to the organizers and to the people it was
addressed to. At most ``DAILY_LIMIT`` messages per event in any 24 hours: the event's row is locked while the
limit is counted, so simultaneous requests on any number of replicas cannot pass it together.
"""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.errors import Forbidden, Throttled
from mutiroes.events import access
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    Event,
    EventMessage,
    EventMessageRecipient,
    EventParticipant,
    MessageAudience,
    ParticipationStatus,
)
from mutiroes.models import db, paginate
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User

EMAIL_JOB = "send_event_message_emails"
DAILY_LIMIT = 5
LIMIT_WINDOW = dt.timedelta(hours=24)
AUDIENCE_STATUSES = {
    MessageAudience.CONFIRMED: (ParticipationStatus.CONFIRMED,),
    MessageAudience.ALL: ACTIVE_PARTICIPATION_STATUSES,
}


def _check_daily_limit(event_id: int) -> None:
    # the lock makes counting and inserting one step per event (PostgreSQL; SQLite writes one at a time anyway)
    db.session.execute(sa.select(Event.id).where(Event.id == event_id).with_for_update(of=Event.__table__))
    now = utcnow()
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(EventMessage.created_at)).where(
            EventMessage.event_id == event_id, EventMessage.created_at > now - LIMIT_WINDOW
        )
    ).one()
    if count >= DAILY_LIMIT:
        if oldest.tzinfo is None:  # an aggregate over a UTCDateTime column comes back untyped on SQLite
            oldest = oldest.replace(tzinfo=dt.UTC)
        retry_after = math.ceil((oldest + LIMIT_WINDOW - now).total_seconds())
        db.session.rollback()
        raise Throttled(
            retry_after,
            f"Este evento já enviou {DAILY_LIMIT} mensagens nas últimas 24 horas. "
            f"Tente novamente em {max(1, math.ceil(retry_after / 60))} minutos.",
        )


def create(*, event_id: int, caller: User, subject: str, body: str, audience: str) -> EventMessage:
    """The organizing team (or staff) writes to the event's participants; 429 past the daily limit."""
    event = access.get_managed(event_id, caller)
    _check_daily_limit(event.id)
    recipient_ids = list(
        db.session.scalars(
            sa.select(EventParticipant.user_id)
            .where(
                EventParticipant.event_id == event.id,
                EventParticipant.status.in_(AUDIENCE_STATUSES[MessageAudience(audience)]),
                EventParticipant.user_id != caller.id,
            )
            .order_by(EventParticipant.user_id)
        )
    )
    message = EventMessage(
        event_id=event.id,
        sent_by_id=caller.id,
        subject=subject.strip(),
        body=body.strip(),
        audience=audience,
        recipients_count=len(recipient_ids),
    )
    db.session.add(message)
    db.session.flush()
    if recipient_ids:
        db.session.execute(
            sa.insert(EventMessageRecipient), [{"message_id": message.id, "user_id": uid} for uid in recipient_ids]
        )
    jobs.request(EMAIL_JOB, message_id=message.id)
    db.session.commit()
    return message


def authorize_read(*, event_id: int, caller: User) -> bool:
    """Whether the caller reads every message of the event (its organizing team, staff) or only those addressed to
    them (a participant); anyone else → 403, an event they cannot see → 404."""
    event = access.get_visible(event_id, caller)
    if access.can_manage(event, caller):
        return True
    participates = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(EventParticipant)
        .where(EventParticipant.event_id == event.id, EventParticipant.user_id == caller.id)
    )
    if not participates:
        raise Forbidden("Apenas a organização e os participantes do evento veem as mensagens.")
    return False


def get_page(*, event_id: int, caller: User, page: int, page_size: int) -> tuple[int, list[EventMessage]]:
    """Newest first: every message for the organizing team (and staff); for a participant, those addressed to them."""
    statement = sa.select(EventMessage).where(EventMessage.event_id == event_id)
    if not authorize_read(event_id=event_id, caller=caller):
        addressed = sa.select(EventMessageRecipient.message_id).where(EventMessageRecipient.user_id == caller.id)
        statement = statement.where(EventMessage.id.in_(addressed))
    statement = statement.order_by(EventMessage.created_at.desc(), EventMessage.id.desc())
    return paginate(statement, page=page, page_size=page_size)
