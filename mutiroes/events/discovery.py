"""Finding events: categories, the filtered list, nearby events and the caller's own events.

The list is read in two steps: the ids of a page (one statement on the indexes of migration 0008, plus a bounded
count; see ``models.paginate``), then only the events whose rendered item the web layer does not hold already
(``get_many``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mutiroes.errors import ValidationError
from mutiroes.events.access import organized_by
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    Event,
    EventCategory,
    EventParticipant,
    EventStatus,
    searchable,
)
from mutiroes.events.sqlfunctions import bounding_box
from mutiroes.models import db, paginate
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User

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
# The orderings whose order a join or a leave changes (and nothing else of a list's membership does)
PARTICIPANT_ORDERINGS = frozenset({"participants_count", "-participants_count"})
# The event columns the list's filters and orderings read, the confirmed count aside: a change to one may move an
# event into, out of, or within any list (the response cache's dependencies: web.cache)
LISTED_BY = frozenset(
    {
        "status",
        "is_public",
        "organizer_id",
        "category_id",
        "title",
        "description",
        "address",
        "city",
        "state",
        "searchable_text",
        "searchable_city",
        "latitude",
        "longitude",
        "start_date",
        "created_at",
    }
)


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def require_category(category_id: int) -> None:
    if db.session.get(EventCategory, category_id) is None:
        raise ValidationError({"category": ["Categoria inexistente."]})


def get_all_categories() -> list[EventCategory]:
    return list(db.session.scalars(sa.select(EventCategory).order_by(EventCategory.name)))


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


def _matches(term: str) -> sa.ColumnElement[bool]:
    escaped = searchable(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Event.searchable_text.like(f"%{escaped}%", escape="\\")


def list_statement(*, caller: User | None, filters: dict[str, Any]) -> sa.Select:
    status = filters.get("status") or EventStatus.PUBLISHED
    statement = sa.select(Event.id).where(Event.status == status)
    if caller is None or not caller.is_staff:
        own = organized_by(caller.id) if caller is not None else sa.false()
        # other people's events: published and public only; every other status lists the caller's own events (those
        # they organize or co-organize). Asked for private ones, that leaves one's own (said plainly: the planner
        # would not see that a private filter and "public or own" leave only "own", and would read every public
        # event to find none)
        if status != EventStatus.PUBLISHED or filters.get("is_public") is False:
            statement = statement.where(own)
        else:
            statement = statement.where(sa.or_(Event.is_public.is_(True), own))
    if filters.get("category") is not None:
        require_category(filters["category"])
        statement = statement.where(Event.category_id == filters["category"])
    if filters.get("city"):
        statement = statement.where(Event.searchable_city == searchable(filters["city"].strip()))
    if filters.get("state"):
        statement = statement.where(Event.state == filters["state"].strip().upper())
    if filters.get("is_public") is not None:
        statement = statement.where(Event.is_public.is_(filters["is_public"]))
    if filters.get("search") and filters["search"].strip():
        term = filters["search"].strip()
        statement = statement.where(_matches(term))
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
    if filters.get("series") is not None:
        statement = statement.where(Event.series_id == filters["series"])
    return statement.order_by(*ORDERINGS[filters.get("ordering") or "-created_at"])


def get_page(*, caller: User | None, page: int, page_size: int, filters: dict[str, Any]) -> tuple[int, list[int]]:
    """The ids of one page of events, in order, and the count (``models.paginate``); ``get_many`` loads them."""
    return paginate(list_statement(caller=caller, filters=filters), page=page, page_size=page_size)


def get_many(event_ids: list[int]) -> dict[int, Event]:
    """These events with what a list item shows of them (category, organizer), by id, in one statement."""
    if not event_ids:
        return {}
    return {event.id: event for event in db.session.scalars(sa.select(Event).where(Event.id.in_(event_ids)))}


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
        sa.select(Event.id, distance.label("distance_km"))
        .where(
            Event.status == EventStatus.PUBLISHED,
            Event.is_public.is_(True),
            Event.end_date > utcnow(),
            _within_radius(latitude, longitude, radius),
        )
        .order_by(*order)
        .limit(limit)
    )


def nearby(*, latitude: float, longitude: float, radius: float, limit: int) -> list[tuple[int, float]]:
    """(id, distance_km rounded to the metre) of the published public events not yet ended within ``radius`` km,
    nearest first; the events themselves are their list items (``web.listing``)."""
    statement = nearby_statement(latitude=latitude, longitude=longitude, radius=radius, limit=limit)
    return [(event_id, round(float(distance), 3)) for event_id, distance in db.session.execute(statement)]


def my_events(*, user: User) -> dict[str, list[Event]]:
    """``organized``: the events the caller organizes or co-organizes; ``participating``: joined, not left."""
    organized = db.session.scalars(
        sa.select(Event).where(organized_by(user.id)).order_by(Event.start_date.desc(), Event.id.desc())
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
