"""Each person's secret calendar feed. Each public function is one unit of work.

The feed holds the events the person is confirmed, pending or waitlisted for, from 30 days ago on (so last week's
clean-up stays in the calendar for a while), drafts left out: a subscribed calendar keeps one entry per event (a
stable UID), replaces it when its SEQUENCE rises, and shows a cancelled one as STATUS:CANCELLED (``ical``).
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes.errors import NotFound
from mutiroes.events import ical
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    CalendarFeed,
    Event,
    EventParticipant,
    EventStatus,
)
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User

TOKEN_BYTES = 32  # 43 URL-safe characters: as unguessable as a session token
MAX_TOKEN_LENGTH = 64
PAST_DAYS = dt.timedelta(days=30)
MAX_ENTRIES = 1000


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def get_token(*, user: User) -> str:
    """The person's feed token, made on first use."""
    token = db.session.scalar(sa.select(CalendarFeed.token).where(CalendarFeed.user_id == user.id))
    if token is not None:
        return token
    token = _new_token()
    db.session.add(CalendarFeed(user_id=user.id, token=token))
    try:
        db.session.commit()
    except IntegrityError:
        # the person's other request made it first: that one is theirs
        db.session.rollback()
        return db.session.scalar(sa.select(CalendarFeed.token).where(CalendarFeed.user_id == user.id))
    return token


def rotate_token(*, user: User) -> str:
    """A new token for the person; the previous URL stops working at once."""
    token = _new_token()
    replaced = db.session.execute(
        sa.update(CalendarFeed)
        .where(CalendarFeed.user_id == user.id)
        .values(token=token, created_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not replaced:
        db.session.add(CalendarFeed(user_id=user.id, token=token))
    try:
        db.session.commit()
    except IntegrityError:
        # a first GET made the row meanwhile: replace that one
        db.session.rollback()
        return rotate_token(user=user)
    return token


def feed(*, token: str) -> bytes:
    """The calendar of the person the token belongs to; an unknown token (or an inactive account) is 404."""
    if not token or len(token) > MAX_TOKEN_LENGTH or "\x00" in token:
        raise NotFound("Calendário não encontrado.")
    user = db.session.scalar(
        sa.select(User)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token == token, User.is_active.is_(True))
    )
    if user is None:
        raise NotFound("Calendário não encontrado.")
    events = db.session.scalars(
        sa.select(Event)
        .join(EventParticipant, EventParticipant.event_id == Event.id)
        .where(
            EventParticipant.user_id == user.id,
            EventParticipant.status.in_(ACTIVE_PARTICIPATION_STATUSES),
            Event.status != EventStatus.DRAFT,
            Event.end_date >= utcnow() - PAST_DAYS,
        )
        .order_by(Event.start_date, Event.id)
        .limit(MAX_ENTRIES)
    ).all()
    return ical.feed(events)
