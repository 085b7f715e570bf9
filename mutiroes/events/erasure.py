"""What the events domain does when a person erases their account (LGPD): the events domain's public module for it.

Past attendance stays (anonymous through the scrubbed user row), so the impact numbers already published stay true.
What still lies ahead is undone the way the person would have undone it themself: their spots are given back (and
go to the waitlist), the events they were to organize are cancelled and their participants told, and they step
down from the teams they co-organized with (those events go on under their organizers).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes.events import participation
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    Event,
    EventCoOrganizer,
    EventParticipant,
    EventStatus,
)
from mutiroes.models import db


def withdraw(*, user_id: int, now: dt.datetime) -> list[int]:
    """Inside the erasure's unit of work: cancel the person's events that have not started (participants are
    emailed), give back their spots at events not over yet (unless they checked in: that attendance happened), and
    blank the emergency data of every participation, leave every organizing team. Returns the ids of the events
    cancelled."""
    organized = list(
        db.session.scalars(
            sa.select(Event)
            .where(
                Event.organizer_id == user_id,
                Event.start_date > now,
                Event.status.in_((EventStatus.DRAFT, EventStatus.PUBLISHED)),
            )
            .order_by(Event.id)
            .with_for_update(of=Event.__table__)
        )
    )
    for event in organized:
        event.status = EventStatus.CANCELLED
        for participant_id in participation.participant_ids(event.id, ACTIVE_PARTICIPATION_STATUSES):
            if participant_id != user_id:
                participation.notify(event, participant_id, "event_cancelled")
    db.session.flush()

    upcoming = db.session.execute(
        sa.select(Event, EventParticipant)
        .join(EventParticipant, EventParticipant.event_id == Event.id)
        .where(
            EventParticipant.user_id == user_id,
            EventParticipant.status.in_(ACTIVE_PARTICIPATION_STATUSES),
            EventParticipant.checked_in.is_(False),
            Event.end_date > now,
        )
        .order_by(Event.id)
        .with_for_update(of=EventParticipant.__table__)
    ).all()
    for event, held in upcoming:
        participation.release(event, held)

    db.session.execute(
        sa.delete(EventCoOrganizer)
        .where(EventCoOrganizer.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(EventParticipant)
        .where(EventParticipant.user_id == user_id)
        .values(emergency_contact="", emergency_phone="", special_needs="")
        .execution_options(synchronize_session=False)
    )
    return [event.id for event in organized]
