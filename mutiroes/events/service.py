"""Events: the business rules. Each public function is one unit of work.

Capacity and one-participation-per-user are kept by the database (see ``models``): a spot is taken by one
conditional UPDATE of ``events.confirmed_count`` and given back the same way; participations are locked with
``SELECT ... FOR UPDATE`` (PostgreSQL) before their status changes, and a UNIQUE (event, user) turns a concurrent
duplicate join into a 409.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes import jobs
from mutiroes.content import queries as content
from mutiroes.errors import Conflict, Forbidden, NotFound, ValidationError
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    Event,
    EventCategory,
    EventParticipant,
)
from mutiroes.events.sqlfunctions import bounding_box, search_text
from mutiroes.extensions import db
from mutiroes.pagination import clamp_page_size, envelope, paginate
from mutiroes.timeutil import local_today, utcnow
from mutiroes.users.models import User

NOTIFICATION_JOB = "send_event_notification_email"
CHECK_IN_OPENS_BEFORE = dt.timedelta(minutes=60)
DETAIL_PARTICIPANTS_LIMIT = 100
# earthdistance measures on a sphere of 6378.168 km, our distances on one of 6371.0088 km: widen its box a little
# so it always contains every point the exact (haversine) filter keeps
EARTH_BOX_MARGIN = 1.002

ORDERINGS = {
    "start_date": (Event.start_date.asc(), Event.id.asc()),
    "-start_date": (Event.start_date.desc(), Event.id.desc()),
    "created_at": (Event.created_at.asc(), Event.id.asc()),
    "-created_at": (Event.created_at.desc(), Event.id.desc()),
    "participants_count": (Event.confirmed_count.asc(), Event.id.asc()),
    "-participants_count": (Event.confirmed_count.desc(), Event.id.desc()),
}
PLACE_AND_TIME_FIELDS = ("start_date", "end_date", "address", "city", "state", "latitude", "longitude")


# --- helpers ---------------------------------------------------------------------------------------------------


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _can_manage(event: Event, user: User | None) -> bool:
    return user is not None and (user.id == event.organizer_id or bool(user.is_staff))


def _can_see(event: Event, user: User | None) -> bool:
    return (event.is_public and event.status != "draft") or _can_manage(event, user)


def _get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound("Evento não encontrado.")
    return event


def _get_visible(event_id: int, user: User | None) -> Event:
    event = _get_event(event_id)
    if not _can_see(event, user):
        raise NotFound("Evento não encontrado.")
    return event


def _get_managed(event_id: int, user: User) -> Event:
    event = _get_visible(event_id, user)
    if not _can_manage(event, user):
        raise Forbidden("Apenas o organizador do evento pode fazer isso.")
    return event


def _notify(event: Event, user_id: int, notification_type: str, **snapshot: str) -> None:
    jobs.request(NOTIFICATION_JOB, event_id=event.id, user_id=user_id, notification_type=notification_type, **snapshot)


def _claim_spot(event_id: int) -> bool:
    """Take one confirmed spot if one is left: a single conditional UPDATE, so no two requests get the last one."""
    result = db.session.execute(
        sa.update(Event)
        .where(Event.id == event_id, Event.confirmed_count < Event.max_participants)
        .values(confirmed_count=Event.confirmed_count + 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _release_spot(event_id: int) -> None:
    db.session.execute(
        sa.update(Event)
        .where(Event.id == event_id, Event.confirmed_count > 0)
        .values(confirmed_count=Event.confirmed_count - 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )


def _end_participation(event: Event, participation: EventParticipant, *, status: str | None) -> None:
    """Cancel or reject (``status``) or delete (``None``) a participation; a confirmed one hands its spot on."""
    was_confirmed = participation.status == "confirmed"
    if status is None:
        db.session.delete(participation)
    else:
        participation.status = status
        participation.waitlisted_at = None
    db.session.flush()
    if was_confirmed:
        _release_spot(event.id)
        promote_from_waitlist(event)


def _locked_participation(*, event_id: int, user_id: int | None = None, pid: int | None = None):
    statement = sa.select(EventParticipant).where(EventParticipant.event_id == event_id)
    if user_id is not None:
        statement = statement.where(EventParticipant.user_id == user_id)
    if pid is not None:
        statement = statement.where(EventParticipant.id == pid)
    statement = statement.with_for_update(of=EventParticipant.__table__).execution_options(populate_existing=True)
    return db.session.scalars(statement).first()


def promote_from_waitlist(event: Event) -> list[int]:
    """Give free spots to the earliest waitlisted participants; returns the promoted user ids."""
    if event.status != "published" or utcnow() >= event.end_date:
        return []
    promoted = []
    while True:
        candidate = db.session.scalars(
            sa.select(EventParticipant)
            .where(EventParticipant.event_id == event.id, EventParticipant.status == "waitlisted")
            .order_by(EventParticipant.waitlisted_at, EventParticipant.id)
            .limit(1)
            .with_for_update(of=EventParticipant.__table__, skip_locked=True)
        ).first()
        if candidate is None or not _claim_spot(event.id):
            break
        candidate.status = "confirmed"
        candidate.waitlisted_at = None
        db.session.flush()
        _notify(event, candidate.user_id, "promoted")
        promoted.append(candidate.user_id)
    return promoted


def _waitlist_positions(event_id: int, participation_ids: list[int]) -> dict[int, int]:
    """1-based places in the current waitlist, in one statement."""
    if not participation_ids:
        return {}
    ranked = (
        sa.select(
            EventParticipant.id.label("id"),
            sa.func.row_number().over(order_by=(EventParticipant.waitlisted_at, EventParticipant.id)).label("position"),
        )
        .where(EventParticipant.event_id == event_id, EventParticipant.status == "waitlisted")
        .subquery()
    )
    rows = db.session.execute(sa.select(ranked.c.id, ranked.c.position).where(ranked.c.id.in_(participation_ids)))
    return {row.id: row.position for row in rows}


def _with_positions(participations: list[EventParticipant]) -> list[EventParticipant]:
    by_event: dict[int, list[int]] = {}
    for participation in participations:
        participation.waitlist_position = None
        if participation.status == "waitlisted":
            by_event.setdefault(participation.event_id, []).append(participation.id)
    for event_id, ids in by_event.items():
        positions = _waitlist_positions(event_id, ids)
        for participation in participations:
            if participation.id in positions:
                participation.waitlist_position = positions[participation.id]
    return participations


def _decorate_detail(event: Event, user: User | None) -> Event:
    """Attach what event-detail shows beyond the row: the caller's view of it."""
    event.show_check_in_code = _can_manage(event, user)
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
        .where(EventParticipant.event_id == event.id, EventParticipant.status == "waitlisted")
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
    return content.attach_to_detail(event)


def _require_category(category_id: int) -> None:
    if db.session.get(EventCategory, category_id) is None:
        raise ValidationError({"category": ["Categoria inexistente."]})


def _check_rules(values: dict[str, Any], *, start_changed: bool) -> None:
    errors: dict[str, list[str]] = {}
    start, end, deadline = values["start_date"], values["end_date"], values["registration_deadline"]
    if start_changed and start < utcnow():
        errors.setdefault("start_date", []).append("O evento não pode começar no passado.")
    if end <= start:
        errors.setdefault("end_date", []).append("O término deve ser depois do início.")
    if deadline > start:
        errors.setdefault("registration_deadline", []).append("O prazo de inscrição deve ser até o início.")
    min_age, max_age = values.get("min_age"), values.get("max_age")
    if min_age is not None and max_age is not None and min_age >= max_age:
        errors.setdefault("max_age", []).append("A idade máxima deve ser maior que a mínima.")
    if errors:
        raise ValidationError(errors)


# --- categories ------------------------------------------------------------------------------------------------


def get_all_categories() -> list[EventCategory]:
    return list(db.session.scalars(sa.select(EventCategory).order_by(EventCategory.name)))


# --- discovery -------------------------------------------------------------------------------------------------


def _distance_to(latitude: float, longitude: float):
    return sa.func.mutiroes_distance_km(latitude, longitude, Event.latitude, Event.longitude)


def _within_radius(latitude: float, longitude: float, radius_km: float):
    """A condition that uses the spatial index (PostgreSQL) or a bounding box (SQLite), then the exact distance."""
    if _is_postgres():
        prefilter = sa.func.earth_box(
            sa.func.ll_to_earth(latitude, longitude), radius_km * 1000.0 * EARTH_BOX_MARGIN
        ).op("@>")(sa.func.ll_to_earth(Event.latitude, Event.longitude))
    else:
        min_lat, max_lat, min_lng, max_lng = bounding_box(latitude, longitude, radius_km)
        prefilter = sa.and_(Event.latitude.between(min_lat, max_lat), Event.longitude.between(min_lng, max_lng))
    return sa.and_(prefilter, _distance_to(latitude, longitude) <= radius_km)


def _like_any(term: str, *columns) -> sa.ColumnElement[bool]:
    escaped = search_text(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return sa.or_(*(sa.func.mutiroes_search_text(column).like(pattern, escape="\\") for column in columns))


def list_statement(*, caller: User | None, filters: dict[str, Any]) -> sa.Select:
    status = filters.get("status") or "published"
    statement = sa.select(Event).where(Event.status == status)
    if caller is None or not caller.is_staff:
        own = Event.organizer_id == caller.id if caller is not None else sa.false()
        # other people's events: published and public only; every other status lists the caller's own events
        statement = statement.where(sa.or_(Event.is_public.is_(True), own) if status == "published" else own)
    if filters.get("category") is not None:
        _require_category(filters["category"])
        statement = statement.where(Event.category_id == filters["category"])
    if filters.get("city"):
        statement = statement.where(sa.func.mutiroes_search_text(Event.city) == search_text(filters["city"].strip()))
    if filters.get("state"):
        statement = statement.where(Event.state == filters["state"].strip().upper())
    if filters.get("is_public") is not None:
        statement = statement.where(Event.is_public.is_(filters["is_public"]))
    if filters.get("search") and filters["search"].strip():
        term = filters["search"].strip()
        statement = statement.where(_like_any(term, Event.title, Event.description, Event.address, Event.city))
    if filters.get("start_date") is not None:
        statement = statement.where(Event.start_date >= filters["start_date"])
    if filters.get("end_date") is not None:
        statement = statement.where(Event.start_date <= filters["end_date"])
    if filters.get("latitude") is not None:
        statement = statement.where(
            _within_radius(filters["latitude"], filters["longitude"], filters.get("radius") or 10.0)
        )
    if filters.get("organizer") is not None:
        statement = statement.where(Event.organizer_id == filters["organizer"])
    return statement.order_by(*ORDERINGS[filters.get("ordering") or "-created_at"])


def get_page(*, caller: User | None, page: int, page_size: int, filters: dict[str, Any]) -> dict[str, Any]:
    """One page of events: two statements (count and page) whatever the page size."""
    page_size = clamp_page_size(page_size)
    count, rows = paginate(list_statement(caller=caller, filters=filters), page=page, page_size=page_size)
    return envelope(count=count, page=page, page_size=page_size, results=list(rows))


def nearby_statement(*, latitude: float, longitude: float, radius: float, limit: int) -> sa.Select:
    distance = _distance_to(latitude, longitude)
    if _is_postgres():
        # K-nearest-neighbour order straight from the GiST index (cube's <-> is the chord through the earth,
        # which orders points exactly as the great-circle distance does): the scan stops after `limit` rows
        # instead of sorting every event of a dense city. A second sort key would disable that, so equal
        # distances come in no particular order.
        order = (
            sa.func.ll_to_earth(Event.latitude, Event.longitude).op("<->")(sa.func.ll_to_earth(latitude, longitude)),
        )
    else:
        order = (distance, Event.id)
    return (
        sa.select(Event, distance.label("distance_km"))
        .where(
            Event.status == "published",
            Event.is_public.is_(True),
            Event.end_date > utcnow(),
            _within_radius(latitude, longitude, radius),
        )
        .order_by(*order)
        .limit(limit)
    )


def nearby(*, latitude: float, longitude: float, radius: float, limit: int) -> list[Event]:
    """Published events not yet ended within ``radius`` km, nearest first, each with ``distance_km``."""
    events = []
    statement = nearby_statement(latitude=latitude, longitude=longitude, radius=radius, limit=limit)
    for event, distance in db.session.execute(statement):
        event.distance_km = round(float(distance), 3)
        events.append(event)
    return events


def get(*, event_id: int, caller: User | None) -> Event:
    return _decorate_detail(_get_visible(event_id, caller), caller)


def stats(*, event_id: int, caller: User | None) -> dict[str, int]:
    event = _get_visible(event_id, caller)
    P = EventParticipant  # noqa: N806 - short alias keeps the aggregate readable

    def count_where(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        sa.select(
            count_where(P.status == "confirmed"),
            count_where(P.status == "pending"),
            count_where(P.status == "waitlisted"),
            count_where(sa.and_(P.status == "confirmed", P.checked_in.is_(True))),
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


def my_events(*, user: User) -> dict[str, list[Event]]:
    organized = db.session.scalars(
        sa.select(Event).where(Event.organizer_id == user.id).order_by(Event.start_date.desc(), Event.id.desc())
    ).all()
    participating = db.session.scalars(
        sa.select(Event)
        .join(EventParticipant, EventParticipant.event_id == Event.id)
        .where(
            EventParticipant.user_id == user.id,
            EventParticipant.status.in_(ACTIVE_PARTICIPATION_STATUSES),
        )
        .order_by(Event.start_date.asc(), Event.id.asc())
    ).all()
    return {"organized": list(organized), "participating": list(participating)}


# --- writing events --------------------------------------------------------------------------------------------


def create(*, organizer: User, data: dict[str, Any]) -> Event:
    """Publish (or draft) an event; the caller becomes its organizer."""
    values = dict(data)
    values["category_id"] = values.pop("category")
    if values.get("registration_deadline") is None:
        values["registration_deadline"] = values["start_date"]
    _check_rules(values, start_changed=True)
    _require_category(values["category_id"])
    event = Event(**values, organizer_id=organizer.id)
    db.session.add(event)
    db.session.commit()
    return _decorate_detail(event, organizer)


def update(*, event_id: int, caller: User, changes: dict[str, Any]) -> Event:
    """Change an event (PUT sends every field, PATCH some). Confirmed participants hear of new dates or places."""
    event = _get_managed(event_id, caller)
    changes = dict(changes)
    if "category" in changes:
        changes["category_id"] = changes.pop("category")
        _require_category(changes["category_id"])
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
    _check_rules(merged, start_changed=start_changed)
    if "max_participants" in changes and changes["max_participants"] < event.confirmed_count:
        raise ValidationError(
            {"max_participants": [f"Já há {event.confirmed_count} participantes confirmados; não é possível reduzir."]}
        )

    place_or_time_changed = any(
        name in changes and changes[name] != getattr(event, name) for name in PLACE_AND_TIME_FIELDS
    )
    cancelled_now = changes.get("status") == "cancelled" and event.status != "cancelled"
    capacity_grew = changes.get("max_participants", event.max_participants) > event.max_participants
    for name, value in changes.items():
        setattr(event, name, value)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # a join confirmed someone between our read and this write: the CHECK on capacity refused the reduction
        db.session.rollback()
        raise ValidationError(
            {"max_participants": ["O número de confirmados passou do novo limite; tente novamente."]}
        ) from exc

    if cancelled_now:
        for user_id in _participant_ids(event.id, ACTIVE_PARTICIPATION_STATUSES):
            _notify(event, user_id, "event_cancelled")
    elif place_or_time_changed:
        # the moment of this change keys its emails: a retry sends nothing again, a later change is news
        changed_at = utcnow().isoformat()
        for user_id in _participant_ids(event.id, ("confirmed",)):
            _notify(event, user_id, "event_changed", changed_at=changed_at)
    if capacity_grew:
        promote_from_waitlist(event)
    db.session.commit()
    return _decorate_detail(event, caller)


def _participant_ids(event_id: int, statuses: tuple[str, ...]) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(EventParticipant.user_id).where(
                EventParticipant.event_id == event_id, EventParticipant.status.in_(statuses)
            )
        )
    )


def delete(*, event_id: int, caller: User) -> None:
    """Delete an event. People still expecting it get a cancellation email.

    The email jobs run after the delete commits, when the row is gone: they carry the title and start they need.
    """
    event = _get_managed(event_id, caller)
    if event.status not in ("cancelled", "completed") and event.end_date > utcnow():
        snapshot = {
            "event_title": event.title,
            "event_start": event.start_date.isoformat(),
            "event_place": ", ".join(part for part in (event.address, event.city) if part),
        }
        for user_id in _participant_ids(event.id, ACTIVE_PARTICIPATION_STATUSES):
            _notify(event, user_id, "event_cancelled", **snapshot)
    # explicit, because SQLite does not enforce ON DELETE CASCADE without a pragma
    files = content.purge_event(event.id)
    db.session.execute(sa.delete(EventParticipant).where(EventParticipant.event_id == event.id))
    db.session.delete(event)
    db.session.commit()
    content.remove_files(files)  # photos and cover go only once the rows pointing at them are gone


# --- participation ---------------------------------------------------------------------------------------------


def join(*, event_id: int, user: User, details: dict[str, Any]) -> EventParticipant:
    """Join an event: pending (approval), confirmed (a spot was free), waitlisted (full), or 409."""
    event = _get_visible(event_id, user)
    now = utcnow()
    if event.organizer_id == user.id:
        raise Conflict("O organizador não pode se inscrever no próprio evento.")
    if event.status in ("cancelled", "completed"):
        raise Conflict("Este evento foi cancelado ou já foi concluído.")
    if not event.is_registration_open(now):
        raise Conflict("As inscrições para este evento estão encerradas.")
    age = user.age_on(local_today())
    if age is not None and (
        (event.min_age is not None and age < event.min_age) or (event.max_age is not None and age > event.max_age)
    ):
        raise Conflict("Sua idade está fora da faixa etária deste evento.")

    participation = _locked_participation(event_id=event.id, user_id=user.id)
    if participation is not None and participation.status in ACTIVE_PARTICIPATION_STATUSES:
        raise Conflict("Você já está inscrito neste evento.")
    if participation is not None and participation.status == "rejected":
        raise Conflict("Sua inscrição neste evento foi recusada pelo organizador.")

    if event.requires_approval:
        status = "pending"
    elif _claim_spot(event.id):
        status = "confirmed"
    elif event.waitlist_enabled:
        status = "waitlisted"
    else:
        db.session.rollback()
        raise Conflict("O evento está lotado.")

    fields = {
        "status": status,
        "waitlisted_at": now if status == "waitlisted" else None,
        "registered_at": now,
        "checked_in": False,
        "check_in_time": None,
        "checked_in_by_id": None,
        "emergency_contact": details.get("emergency_contact", ""),
        "emergency_phone": details.get("emergency_phone", ""),
        "special_needs": details.get("special_needs", ""),
        "experience_level": details.get("experience_level", "beginner"),
    }
    if participation is None:
        participation = EventParticipant(event_id=event.id, user_id=user.id, **fields)
        db.session.add(participation)
    else:  # a cancelled participation comes back: one row per user and event
        for name, value in fields.items():
            setattr(participation, name, value)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # the same user's other request inserted first; rolling back also returns the spot we took
        db.session.rollback()
        raise Conflict("Você já está inscrito neste evento.") from exc
    _notify(event, user.id, "pending" if status == "pending" else "joined")
    db.session.commit()
    return _with_positions([participation])[0]


def leave(*, event_id: int, user: User) -> None:
    """Cancel one's participation; a freed spot goes to the earliest waitlisted person."""
    event = _get_event(event_id)
    participation = _locked_participation(event_id=event.id, user_id=user.id)
    if participation is None or participation.status not in ACTIVE_PARTICIPATION_STATUSES:
        raise NotFound("Você não está inscrito neste evento.")
    if participation.checked_in:
        raise Conflict("Você já fez check-in neste evento.")
    _end_participation(event, participation, status="cancelled")
    db.session.commit()


def check_in(*, event_id: int, caller: User, code: str | None = None, user_id: int | None = None) -> EventParticipant:
    """Check in oneself (with the event's code when it requires one) or, as organizer, a participant."""
    event = _get_event(event_id)
    manager = _can_manage(event, caller)
    for_someone_else = user_id is not None and user_id != caller.id
    if for_someone_else and not manager:
        raise Forbidden("Apenas o organizador pode fazer o check-in de outra pessoa.")
    target_id = user_id if for_someone_else else caller.id
    participation = _locked_participation(event_id=event.id, user_id=target_id)
    if participation is None or participation.status != "confirmed":
        if not _can_see(event, caller) and participation is None:
            raise NotFound("Evento não encontrado.")
        raise NotFound("Inscrição confirmada não encontrada neste evento.")
    if event.status != "published":
        raise Conflict("O check-in só é possível em eventos publicados.")
    now = utcnow()
    if not (event.start_date - CHECK_IN_OPENS_BEFORE <= now <= event.end_date):
        raise Conflict("O check-in abre 60 minutos antes do início e fecha no fim do evento.")
    if participation.checked_in:
        raise Conflict("O check-in já foi feito.")
    if event.require_check_in_code and not for_someone_else:
        given = (code or "").strip().upper()
        if not hmac.compare_digest(given.encode(), event.check_in_code.upper().encode()):
            raise Forbidden("Código de check-in inválido.")
    done = db.session.execute(
        sa.update(EventParticipant)
        .where(EventParticipant.id == participation.id, EventParticipant.checked_in.is_(False))
        .values(checked_in=True, check_in_time=now, checked_in_by_id=caller.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        db.session.rollback()
        raise Conflict("O check-in já foi feito.")
    db.session.commit()
    return _with_positions([participation])[0]


def get_participants(
    *, event_id: int, caller: User, page: int, page_size: int, status: str | None = None
) -> dict[str, Any]:
    event = _get_managed(event_id, caller)
    statement = sa.select(EventParticipant).where(EventParticipant.event_id == event.id)
    if status:
        statement = statement.where(EventParticipant.status == status)
    statement = statement.order_by(EventParticipant.registered_at, EventParticipant.id)
    page_size = clamp_page_size(page_size)
    count, rows = paginate(statement, page=page, page_size=page_size)
    return envelope(count=count, page=page, page_size=page_size, results=_with_positions(list(rows)))


def _participation_for(event_id: int, pid: int, caller: User, *, lock: bool = False) -> tuple[Event, Any]:
    event = _get_event(event_id)
    if lock:
        participation = _locked_participation(event_id=event.id, pid=pid)
    else:
        participation = db.session.scalar(
            sa.select(EventParticipant).where(EventParticipant.id == pid, EventParticipant.event_id == event.id)
        )
    if participation is None:
        raise NotFound("Inscrição não encontrada.")
    if participation.user_id != caller.id and not _can_manage(event, caller):
        raise Forbidden("Esta inscrição é de outra pessoa.")
    return event, participation


def get_participation(*, event_id: int, pid: int, caller: User) -> EventParticipant:
    _event, participation = _participation_for(event_id, pid, caller)
    return _with_positions([participation])[0]


def update_participation(*, event_id: int, pid: int, caller: User, changes: dict[str, Any]) -> EventParticipant:
    """The organizer confirms or rejects; the participant edits their emergency details."""
    event, participation = _participation_for(event_id, pid, caller, lock=True)
    manager = _can_manage(event, caller)
    own = participation.user_id == caller.id
    changes = dict(changes)
    status = changes.pop("status", None)
    if status is not None and not manager:
        raise Forbidden("Apenas o organizador pode confirmar ou recusar inscrições.")
    if changes and not own:
        raise Forbidden("Apenas o participante pode alterar os próprios dados de emergência.")
    for name, value in changes.items():
        setattr(participation, name, value)
    if status == "confirmed" and participation.status != "confirmed":
        if participation.status not in ("pending", "waitlisted"):
            raise Conflict("Só inscrições pendentes ou em lista de espera podem ser confirmadas.")
        if not _claim_spot(event.id):
            db.session.rollback()
            raise Conflict("O evento está lotado.")
        participation.status = "confirmed"
        participation.waitlisted_at = None
        _notify(event, participation.user_id, "approved")
    elif status == "rejected" and participation.status != "rejected":
        if participation.status == "cancelled":
            raise Conflict("O participante já cancelou esta inscrição.")
        if participation.checked_in:
            raise Conflict("O participante já fez check-in.")
        _end_participation(event, participation, status="rejected")
        _notify(event, participation.user_id, "rejected")
    db.session.flush()
    db.session.commit()
    return _with_positions([participation])[0]


def delete_participation(*, event_id: int, pid: int, caller: User) -> None:
    """The organizer removes a participation altogether (its spot is freed)."""
    event, participation = _participation_for(event_id, pid, caller, lock=True)
    if not _can_manage(event, caller):
        raise Forbidden("Apenas o organizador pode remover inscrições.")
    _end_participation(event, participation, status=None)
    db.session.commit()
