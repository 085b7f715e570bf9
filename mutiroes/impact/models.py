"""Impact domain models: post-event reports, the badge catalogue and awards, stored monthly impact reports.

Verified hours live on the participation (``event_participants.hours``, set by the report statistics job); the
users' counters are recomputed from them. Every award is unique per (user, badge) in the database, so concurrent or
repeated award jobs never grant a badge twice.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutiroes.events.models import Event, EventCategory, EventParticipant
from mutiroes.models import TimestampMixin, UTCDateTime, db, one_of
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User


class BadgeType(enum.StrEnum):
    """What a badge's rule counts (``check_and_award_badges``)."""

    PARTICIPATION = "participation"
    HOURS = "hours"
    ORGANIZER = "organizer"
    REPORT = "report"
    CATEGORY = "category"


class EventReport(TimestampMixin, db.Model):
    """What an event achieved, filed once by its organizer after it started; numbers are never negative."""

    __tablename__ = "event_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False, unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    total_participants: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # volunteer-hours of the whole event as the organizer states them; null or 0 = not stated (docs/accounts.md)
    total_hours: Mapped[float | None] = mapped_column(sa.Float)
    trash_collected_kg: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    trees_planted: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    area_cleaned_m2: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    recyclable_material_kg: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    challenges: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    achievements: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # when the statistics job last credited the hours of an ended event (null: not yet, the event had not ended);
    # the clean-up credits any ended event whose report has none, or one older than the event's end
    hours_credited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(lazy="joined", innerjoin=True)
    created_by: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            "total_participants >= 0 AND (total_hours IS NULL OR total_hours >= 0) AND trash_collected_kg >= 0"
            " AND trees_planted >= 0 AND area_cleaned_m2 >= 0 AND recyclable_material_kg >= 0",
            name="numbers_non_negative",
        ),
    )


class Badge(db.Model):
    """One entry of the seeded catalogue. ``code`` is the stable identity the award rules refer to."""

    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(50), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    icon: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    color: Mapped[str] = mapped_column(sa.String(7), nullable=False, default="#2E7D32")
    badge_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    min_events: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    min_hours: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event_categories.id", ondelete="CASCADE"))

    category: Mapped[EventCategory | None] = relationship(lazy="joined")

    __table_args__ = (one_of("badge_type", BadgeType),)


class UserBadge(db.Model):
    """A badge a user earned; written only by ``check_and_award_badges``."""

    __tablename__ = "user_badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    badge_id: Mapped[int] = mapped_column(sa.ForeignKey("badges.id", ondelete="CASCADE"), nullable=False)
    earned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    badge: Mapped[Badge] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (sa.UniqueConstraint("user_id", "badge_id", name="uq_user_badges_user_badge"),)


class MonthlyImpactReport(db.Model):
    """The impact of one calendar month (in MUTIROES_TIME_ZONE), as ``generate_monthly_impact_report`` computed it."""

    __tablename__ = "monthly_impact_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    month: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    data: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("year", "month", name="uq_monthly_impact_reports_year_month"),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name="month_valid"),
    )


class Certificate(db.Model):
    """The verification code of a participation's volunteer-hours certificate, made the first time it is listed.

    The code is the certificate's public identity: anyone holding it (the QR code on the PDF) may check it without
    logging in, so it is as unguessable as a session token. What the check answers (name, hours, validity) is read
    from the participation at that moment, never copied here: a report changed afterwards changes the hours, and a
    participation that stops being verified answers ``valid: false``. One code per participation, for ever.
    """

    __tablename__ = "certificates"

    participation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_participants.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    participation: Mapped[EventParticipant] = relationship(lazy="joined", innerjoin=True)
