"""Events domain models: categories, events, participations, co-organizers, organizer messages and calendar feeds.

Capacity lives in the database: ``events.confirmed_count`` is changed only by single conditional UPDATEs
(``... SET confirmed_count = confirmed_count + 1 WHERE confirmed_count < max_participants``) and a CHECK keeps it
within ``0..max_participants``, so no interleaving of requests on any number of replicas can overbook an event.
One participation per (event, user) is a UNIQUE constraint.

What the list's ``search`` and ``city`` filters compare is stored with the row (``searchable_text``,
``searchable_city``, written on every flush of an event): plain columns that indexes serve (a trigram index on
PostgreSQL for search) and that cost no function call per row when scanned.

``sequence`` is the RFC 5545 SEQUENCE of the event's calendar entry: raised by one whenever what that entry shows
changes (``ical.shown``), so every calendar that holds the entry replaces it. ``series_id`` ties the events made by
repeating one (``series``): the id of the first event of the series, on that event too.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutiroes.events.sqlfunctions import search_text
from mutiroes.models import TimestampMixin, UTCDateTime, db, one_of
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class ParticipationStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# a participation that holds a spot or waits for one
ACTIVE_PARTICIPATION_STATUSES = (
    ParticipationStatus.PENDING,
    ParticipationStatus.CONFIRMED,
    ParticipationStatus.WAITLISTED,
)


class MessageAudience(enum.StrEnum):
    CONFIRMED = "confirmed"  # confirmed participants
    ALL = "all"  # confirmed, pending and waitlisted participants


class ExperienceLevel(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class CheckInMethod(enum.StrEnum):
    """Who vouched for a check-in: the organizer (or staff) checking someone in, the event's code given by the
    participant, or nobody (the participant alone, at an event without a code). See docs/accounts.md."""

    ORGANIZER = "organizer"
    CODE = "code"
    SELF = "self"


# the longest an event may last: volunteer hours are credited per calendar day it spans
MAX_EVENT_DURATION = dt.timedelta(days=14)

CHECK_IN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud on site


def new_check_in_code() -> str:
    return "".join(secrets.choice(CHECK_IN_CODE_ALPHABET) for _ in range(6))


# Between the fields of ``searchable_text``: a search term cannot span two fields, since a term never holds it (a
# unit separator in a field or a term reads as a space).
SEARCH_FIELD_SEPARATOR = "\x1f"
SEARCHED_FIELDS = ("title", "description", "address", "city")


def searchable(value: str | None) -> str:
    """A field or a term as ``search`` and ``city`` compare them: lower case, no accents, no field separator."""
    return search_text(value or "").replace(SEARCH_FIELD_SEPARATOR, " ")


class EventCategory(db.Model):
    __tablename__ = "event_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    icon: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    color: Mapped[str] = mapped_column(sa.String(7), nullable=False, default="#2E7D32")


class Event(TimestampMixin, db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    category_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_categories.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    organizer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    address: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    city: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    state: Mapped[str] = mapped_column(sa.String(2), nullable=False, default="")
    latitude: Mapped[float] = mapped_column(sa.Float, nullable=False)
    longitude: Mapped[float] = mapped_column(sa.Float, nullable=False)
    start_date: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    end_date: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    registration_deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    max_participants: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # confirmed participants; changed only by conditional UPDATEs (see the module docstring)
    confirmed_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    min_age: Mapped[int | None] = mapped_column(sa.Integer)
    max_age: Mapped[int | None] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=EventStatus.PUBLISHED)
    is_public: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    requires_approval: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    waitlist_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    require_check_in_code: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    check_in_code: Mapped[str] = mapped_column(sa.String(12), nullable=False, default=new_check_in_code)
    required_tools: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    provided_tools: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    what_to_bring: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    cover_image: Mapped[str | None] = mapped_column(sa.String(255))
    # title, description, address and city as ``search`` reads them, and the city as the city filter does (see
    # searchable); the ORM writes them
    searchable_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    searchable_city: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    # raised whenever what the calendar entry shows changes (see the module docstring)
    sequence: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    # the first event of the series this one belongs to (see the module docstring); null for a one-off event. Not a
    # foreign key: the series stays a series when its first event is deleted
    series_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)

    # what a response shows beyond the row, set per request by the service (never stored)
    show_check_in_code = False
    user_participating = False
    waitlist_count = 0
    participants = ()
    distance_km = None
    comments = ()  # the content domain's first comments, photos and resources (content.public.attach_to_detail)
    photos = ()
    resources = ()

    category: Mapped[EventCategory] = relationship(lazy="joined", innerjoin=True)
    organizer: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    # read-only view of ``EventCoOrganizer`` rows, which the organizers service writes
    co_organizers: Mapped[list[User]] = relationship(
        secondary="event_co_organizers",
        primaryjoin="Event.id == EventCoOrganizer.event_id",
        secondaryjoin="User.id == EventCoOrganizer.user_id",
        order_by="EventCoOrganizer.created_at, EventCoOrganizer.user_id",
        viewonly=True,
        lazy="select",
    )

    __table_args__ = (
        sa.CheckConstraint("confirmed_count >= 0 AND confirmed_count <= max_participants", name="capacity"),
        sa.CheckConstraint("max_participants >= 1", name="max_participants_positive"),
        sa.CheckConstraint("start_date < end_date", name="starts_before_end"),
        sa.CheckConstraint("registration_deadline <= start_date", name="deadline_before_start"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="coordinates"),
        sa.CheckConstraint("sequence >= 0", name="sequence_non_negative"),
        one_of("status", EventStatus),
        # the list: one index per ordering, each led by the status every list filters on, so a page is read in
        # order and stops after its rows (the other filters are checked on the way, or use their own index)
        sa.Index("ix_events_status_created_at", "status", "created_at", "id"),
        sa.Index("ix_events_status_start_date", "status", "start_date"),
        sa.Index("ix_events_status_confirmed_count", "status", "confirmed_count", "id"),
        sa.Index("ix_events_state", "state"),
        sa.Index("ix_events_searchable_city", "searchable_city"),
        # and on PostgreSQL only (migration 0008), the trigram index of searchable_text
        # bounding-box prefilter of the SQLite fallback; PostgreSQL uses the GiST index of the migration
        sa.Index("ix_events_latitude_longitude", "latitude", "longitude"),
    )

    def refresh_searchable_text(self) -> None:
        self.searchable_text = SEARCH_FIELD_SEPARATOR.join(searchable(getattr(self, name)) for name in SEARCHED_FIELDS)
        self.searchable_city = searchable(self.city)

    @property
    def place(self) -> str:
        """``Parque Ibirapuera, São Paulo - SP``: calendar entries' LOCATION, the emails' "Onde", certificates."""
        city = f"{self.city} - {self.state}" if self.state else self.city
        return ", ".join(part for part in (self.address, city) if part)

    def available_spots(self) -> int:
        return max(0, self.max_participants - self.confirmed_count)

    def is_active(self, now: dt.datetime | None = None) -> bool:
        return self.status == EventStatus.PUBLISHED and (now or utcnow()) < self.start_date

    def is_registration_open(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return self.is_active(now) and now <= self.registration_deadline


@sa.event.listens_for(Event, "before_insert")
@sa.event.listens_for(Event, "before_update")
def _keep_searchable_text(_mapper, _connection, event: Event) -> None:
    event.refresh_searchable_text()


class EventParticipant(db.Model):
    __tablename__ = "event_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # order of the waitlist: set when a participation becomes waitlisted, cleared when it stops being so
    waitlisted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    emergency_contact: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    emergency_phone: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    special_needs: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    experience_level: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=ExperienceLevel.BEGINNER)
    checked_in: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    check_in_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_in_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # how the check-in was vouched for (CheckInMethod), fixed when it is made; null when not checked in (and for
    # rows written without one, which count as unattested)
    check_in_method: Mapped[str | None] = mapped_column(sa.String(12))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    # verified volunteer hours, set only by the report statistics job (mutiroes.impact.jobs); 0 until then
    hours: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0, server_default="0")

    waitlist_position = None  # set per request by the service (never stored)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)
    event: Mapped[Event] = relationship(lazy="select")

    __table_args__ = (
        sa.UniqueConstraint("event_id", "user_id", name="uq_event_participants_event_user"),
        one_of("status", ParticipationStatus),
        one_of("experience_level", ExperienceLevel),
        one_of("check_in_method", CheckInMethod),
        sa.CheckConstraint("(status = 'waitlisted') = (waitlisted_at IS NOT NULL)", name="waitlist_order"),
        sa.Index("ix_event_participants_event_status", "event_id", "status"),
    )


class EventCoOrganizer(db.Model):
    """A co-organizer of an event: everything the organizer may do except delete it or change its co-organizers
    (``access``). The organizer is never one of them."""

    __tablename__ = "event_co_organizers"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class EventMessage(db.Model):
    """A message from the event's organizers to its participants, emailed once to each person addressed.

    Who was addressed is fixed when it is sent (``EventMessageRecipient``): a person who joins later neither gets it
    nor sees it listed.
    """

    __tablename__ = "event_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(sa.String(150), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    audience: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    recipients_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    sent_by: Mapped[User | None] = relationship(lazy="joined")
    event: Mapped[Event] = relationship(lazy="select")

    __table_args__ = (
        one_of("audience", MessageAudience),
        sa.CheckConstraint("length(subject) BETWEEN 1 AND 150", name="subject_length"),
        sa.CheckConstraint("length(body) BETWEEN 1 AND 5000", name="body_length"),
        sa.CheckConstraint("recipients_count >= 0", name="recipients_count_non_negative"),
        # the listing (newest first) and the daily limit (messages of the last 24 hours) both read this
        sa.Index("ix_event_messages_event_created", "event_id", "created_at"),
    )


class EventMessageRecipient(db.Model):
    """One person a message was addressed to."""

    __tablename__ = "event_message_recipients"

    message_id: Mapped[int] = mapped_column(sa.ForeignKey("event_messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class CalendarFeed(db.Model):
    """A person's secret calendar feed: whoever holds the token reads their events as iCalendar.

    Kept as it is (not hashed) because the person may ask for the URL again at any time; making a new one replaces
    the token, and the old URL stops working.
    """

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
