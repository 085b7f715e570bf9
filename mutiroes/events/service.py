"""Events: creating, reading, changing and deleting them, and their numbers. Each public function is one unit of
work. Participation lives in ``participation``, finding events in ``discovery``, who may do what in ``access``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes.content import public as content
from mutiroes.errors import NotFound, ValidationError
from mutiroes.events import access, ical, participation
from mutiroes.events.discovery import require_category
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    MAX_EVENT_DURATION,
    Event,
    EventCoOrganizer,
    EventMessage,
    EventMessageRecipient,
    EventParticipant,
    EventStatus,
    ParticipationStatus,
)
from mutiroes.impact.models import Certificate
from mutiroes.models import db
from mutiroes.platform import images
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User

DETAIL_PARTICIPANTS_LIMIT = 100
PLACE_AND_TIME_FIELDS = ("start_date", "end_date", "address", "city", "state", "latitude", "longitude")


def _decorate_detail(event: Event, user: User | None) -> Event:
    """Attach what event-detail shows beyond the row: the caller's view of it."""
    manager = access.can_manage(event, user)
    event.show_check_in_code = manager
    event.user_participating = bool(
        user is not None
        and db.session.scalar(
            sa.select(sa.func.count())
            .select_from(EventParticipant)
            .where(
                EventParticipant.event_id == event.id,
                EventParticipant.user_id == user.id,
                EventParticipant.status.in_(ACTIVE_PARTICIPATION_STATUSES),
            )
        )
    )
    event.waitlist_count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(EventParticipant)
        .where(EventParticipant.event_id == event.id, EventParticipant.status == ParticipationStatus.WAITLISTED)
    )
    event.participants = list(
        db.session.scalars(
            sa.select(EventParticipant)
            .where(
                EventParticipant.event_id == event.id,
                EventParticipant.status.in_(ACTIVE_PARTICIPATION_STATUSES),
            )
            .order_by(EventParticipant.registered_at, EventParticipant.id)
            .limit(DETAIL_PARTICIPANTS_LIMIT)
        )
    )
    return content.attach_to_detail(event, viewer_id=user.id if user is not None else None, moderator=manager)


def _check_rules(values: dict[str, Any], *, start_changed: bool, dates_changed: bool) -> None:
    errors: dict[str, list[str]] = {}
    start, end, deadline = values["start_date"], values["end_date"], values["registration_deadline"]
    if start_changed and start < utcnow():
        errors.setdefault("start_date", []).append("O evento não pode começar no passado.")
    if end <= start:
        errors.setdefault("end_date", []).append("O término deve ser depois do início.")
    elif dates_changed and end - start > MAX_EVENT_DURATION:
        # volunteer hours are credited per day an event spans: an event of months would be a blank cheque
        errors.setdefault("end_date", []).append(
            f"Um evento pode durar no máximo {MAX_EVENT_DURATION.days} dias; divida ações mais longas em etapas."
        )
    if deadline > start:
        errors.setdefault("registration_deadline", []).append("O prazo de inscrição deve ser até o início.")
    min_age, max_age = values.get("min_age"), values.get("max_age")
    if min_age is not None and max_age is not None and min_age >= max_age:
        errors.setdefault("max_age", []).append("A idade máxima deve ser maior que a mínima.")
    if errors:
        raise ValidationError(errors)


def get(*, event_id: int, caller: User | None) -> Event:
    return _decorate_detail(access.get_visible(event_id, caller), caller)


def stats(*, event_id: int, caller: User | None) -> dict[str, int]:
    event = access.get_visible(event_id, caller)
    P = EventParticipant  # a short alias keeps the aggregate readable

    def count_where(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        sa.select(
            count_where(P.status == ParticipationStatus.CONFIRMED),
            count_where(P.status == ParticipationStatus.PENDING),
            count_where(P.status == ParticipationStatus.WAITLISTED),
            count_where(sa.and_(P.status == ParticipationStatus.CONFIRMED, P.checked_in.is_(True))),
        ).where(P.event_id == event.id)
    ).one()
    confirmed, pending, waitlisted, checked_in = (int(value) for value in row)
    return {
        "total_participants": confirmed,
        "confirmed_participants": confirmed,
        "pending_participants": pending,
        "waitlisted_participants": waitlisted,
        "checked_in_participants": checked_in,
        "available_spots": max(0, event.max_participants - confirmed),
        **content.counts(event.id),
    }


def create(*, organizer: User, data: dict[str, Any]) -> Event:
    """Publish (or draft) an event; the caller becomes its organizer."""
    values = dict(data)
    values["category_id"] = values.pop("category")
    if values.get("registration_deadline") is None:
        values["registration_deadline"] = values["start_date"]
    _check_rules(values, start_changed=True, dates_changed=True)
    require_category(values["category_id"])
    event = Event(**values, organizer_id=organizer.id)
    db.session.add(event)
    db.session.commit()
    return _decorate_detail(event, organizer)


def update(*, event_id: int, caller: User, changes: dict[str, Any]) -> Event:
    """Change an event (PUT sends every field, PATCH some). Confirmed participants hear of new dates or places."""
    event = access.get_managed(event_id, caller)
    changes = dict(changes)
    if "category" in changes:
        changes["category_id"] = changes.pop("category")
        require_category(changes["category_id"])
    current = {name: getattr(event, name) for name in ("start_date", "end_date", "registration_deadline")}
    current.update(min_age=event.min_age, max_age=event.max_age)
    merged = {**current, **changes}
    start_changed = "start_date" in changes and changes["start_date"] != event.start_date
    if merged.get("registration_deadline") is None or (
        "registration_deadline" not in changes
        and start_changed
        and (event.registration_deadline == event.start_date or event.registration_deadline > merged["start_date"])
    ):
        # an unset deadline follows the start, as it does on creation
        merged["registration_deadline"] = merged["start_date"]
    changes["registration_deadline"] = merged["registration_deadline"]
    end_changed = "end_date" in changes and changes["end_date"] != event.end_date
    _check_rules(merged, start_changed=start_changed, dates_changed=start_changed or end_changed)
    if "max_participants" in changes and changes["max_participants"] < event.confirmed_count:
        raise ValidationError(
            {"max_participants": [f"Já há {event.confirmed_count} participantes confirmados; não é possível reduzir."]}
        )

    place_or_time_changed = any(
        name in changes and changes[name] != getattr(event, name) for name in PLACE_AND_TIME_FIELDS
    )
    cancelled_now = changes.get("status") == EventStatus.CANCELLED and event.status != EventStatus.CANCELLED
    capacity_grew = changes.get("max_participants", event.max_participants) > event.max_participants
    calendar_entry = ical.shown(event)
    for name, value in changes.items():
        setattr(event, name, value)
    if ical.shown(event) != calendar_entry:
        # in SQL, so two simultaneous changes raise it twice; calendars keep the entry with the highest SEQUENCE
        event.sequence = Event.sequence + 1
    try:
        db.session.flush()
    except IntegrityError as exc:
        # a join confirmed someone between our read and this write: the CHECK on capacity refused the reduction
        db.session.rollback()
        raise ValidationError(
            {"max_participants": ["O número de confirmados passou do novo limite; tente novamente."]}
        ) from exc

    if cancelled_now:
        for user_id in participation.participant_ids(event.id, ACTIVE_PARTICIPATION_STATUSES):
            participation.notify(event, user_id, "event_cancelled")
    elif place_or_time_changed:
        # the moment of this change keys its emails: a retry sends nothing again, a later change is news
        changed_at = utcnow().isoformat()
        for user_id in participation.participant_ids(event.id, (ParticipationStatus.CONFIRMED,)):
            participation.notify(event, user_id, "event_changed", changed_at=changed_at)
    if capacity_grew:
        participation.promote_from_waitlist(event)
    db.session.commit()
    return _decorate_detail(event, caller)


def purge_dependents(event_ids) -> None:
    """Delete the events domain's rows that belong to these events (ids, or a SELECT of them), before the events.

    Explicit, because SQLite does not enforce ON DELETE CASCADE without a pragma.
    """
    messages = sa.select(EventMessage.id).where(EventMessage.event_id.in_(event_ids))
    for statement in (
        sa.delete(EventMessageRecipient).where(EventMessageRecipient.message_id.in_(messages)),
        sa.delete(EventMessage).where(EventMessage.event_id.in_(event_ids)),
        sa.delete(EventCoOrganizer).where(EventCoOrganizer.event_id.in_(event_ids)),
        sa.delete(Certificate).where(
            Certificate.participation_id.in_(
                sa.select(EventParticipant.id).where(EventParticipant.event_id.in_(event_ids))
            )
        ),
        sa.delete(EventParticipant).where(EventParticipant.event_id.in_(event_ids)),
    ):
        db.session.execute(statement.execution_options(synchronize_session=False))


def delete(*, event_id: int, caller: User) -> None:
    """Delete an event (its organizer or staff, not a co-organizer). People still expecting it get a cancellation
    email.

    The email jobs run after the delete commits, when the row is gone: they carry what they need of it, down to the
    SEQUENCE of the cancelled calendar entry (one more than the last one sent).
    """
    event = access.get_managed(event_id, caller, access.Action.OWN)
    if event.status not in (EventStatus.CANCELLED, EventStatus.COMPLETED) and event.end_date > utcnow():
        snapshot = {
            "event_title": event.title,
            "event_start": event.start_date.isoformat(),
            "event_end": event.end_date.isoformat(),
            "event_place": ical.place_of(event),
            "event_sequence": event.sequence + 1,
        }
        for user_id in participation.participant_ids(event.id, ACTIVE_PARTICIPATION_STATUSES):
            participation.notify(event, user_id, "event_cancelled", **snapshot)
    # explicit, because SQLite does not enforce ON DELETE CASCADE without a pragma
    files = [*content.purge_event(event.id), *([event.cover_image] if event.cover_image else [])]
    purge_dependents([event.id])
    db.session.delete(event)
    db.session.commit()
    for path in files:  # photos and cover go only once the rows pointing at them are gone
        images.delete(path)


def set_cover(*, event_id: int, caller: User, upload) -> Event:
    """The organizer (or staff) replaces the cover; the previous file is removed after the commit."""
    access.get_managed(event_id, caller)
    db.session.rollback()  # no transaction stays open while the image is decoded and written
    stored = images.store(upload, folder="events/covers", field="cover_image", max_pixels=images.DISPLAY_MAX_PIXELS)
    # read the previous cover only now, under a row lock: a replacement committed meanwhile is the one to remove,
    # and two simultaneous replacements cannot both think they replace the same file
    event = db.session.scalar(
        sa.select(Event)
        .where(Event.id == event_id)
        .with_for_update(of=Event.__table__)
        .execution_options(populate_existing=True)
    )
    if event is None:
        images.delete(stored)
        raise NotFound("Evento não encontrado.")
    previous = event.cover_image
    event.cover_image = stored
    images.commit_or_discard(stored)
    images.delete(previous)
    return _decorate_detail(event, caller)
