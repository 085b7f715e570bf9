"""Event content: comments (one level of replies), photos, resources and the pledges that provide them, and the
reports people file about comments and photos (``moderation``).

What concurrency could break is kept by the database:
- a reply belongs to the same event as its parent: the foreign key is ``(event_id, parent_id) → (event_id, id)``;
- a resource is never over-provided: ``quantity_provided`` changes only by one conditional UPDATE
  (``... WHERE quantity_provided + :q <= quantity_needed``) and a CHECK keeps it within ``0..quantity_needed``;
- one report per person and item: UNIQUE (comment_id, reporter_id) and (photo_id, reporter_id), and a report is
  about exactly one comment or one photo (CHECK).
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutiroes.models import TimestampMixin, UTCDateTime, db, one_of
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User

COMMENT_MAX_LENGTH = 2000
REPORT_DETAILS_MAX_LENGTH = 1000


class Visibility(enum.StrEnum):
    """Whether a comment or photo is shown to everyone, or only to its author and the moderators."""

    VISIBLE = "visible"
    HIDDEN_BY_REPORTS = "hidden_by_reports"  # reported by enough people; hidden until a moderator reviews it
    HIDDEN = "hidden"  # a moderator hid it


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    OFFENSIVE = "offensive"
    PERSONAL_DATA = "personal_data"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    OPEN = "open"  # waiting for a moderator
    HIDDEN = "hidden"  # reviewed: the moderator hid the item
    RESTORED = "restored"  # reviewed: the moderator kept the item, or showed it again
    DISMISSED = "dismissed"  # reviewed: this report was set aside on its own


class ResourceType(enum.StrEnum):
    TOOL = "tool"
    MATERIAL = "material"
    EQUIPMENT = "equipment"
    OTHER = "other"


class EventComment(TimestampMixin, db.Model):
    __tablename__ = "event_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.Integer)
    content: Mapped[str] = mapped_column(sa.Text, nullable=False)
    visibility: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=Visibility.VISIBLE, server_default=Visibility.VISIBLE.value
    )

    replies = ()  # set per request by the service (never stored), with replies_count
    replies_count = 0

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        sa.UniqueConstraint("event_id", "id", name="uq_event_comments_event_id_id"),
        # a reply's parent is a comment of the same event; deleting a comment deletes its replies
        sa.ForeignKeyConstraint(
            ["event_id", "parent_id"],
            ["event_comments.event_id", "event_comments.id"],
            name="fk_event_comments_parent_same_event",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"length(content) BETWEEN 1 AND {COMMENT_MAX_LENGTH}", name="content_length"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        one_of("visibility", Visibility),
        sa.Index("ix_event_comments_event_parent_created", "event_id", "parent_id", "created_at"),
        sa.Index("ix_event_comments_parent_id", "parent_id"),
    )


class EventPhoto(db.Model):
    __tablename__ = "event_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    photo: Mapped[str] = mapped_column(sa.String(255), nullable=False)  # path under the media root
    caption: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    is_before: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_after: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    visibility: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=Visibility.VISIBLE, server_default=Visibility.VISIBLE.value
    )

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        sa.CheckConstraint("NOT (is_before AND is_after)", name="before_or_after"),
        one_of("visibility", Visibility),
        sa.Index("ix_event_photos_event_created", "event_id", "created_at"),
    )


class EventResource(TimestampMixin, db.Model):
    __tablename__ = "event_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    resource_type: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=ResourceType.OTHER)
    quantity_needed: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # changed only by the pledge's conditional UPDATE (see the module docstring)
    quantity_provided: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    unit: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")

    __table_args__ = (
        sa.CheckConstraint("quantity_needed >= 1", name="quantity_needed_positive"),
        sa.CheckConstraint(
            "quantity_provided >= 0 AND quantity_provided <= quantity_needed", name="provided_within_needed"
        ),
        one_of("resource_type", ResourceType),
    )

    @property
    def is_fully_provided(self) -> bool:
        return self.quantity_provided >= self.quantity_needed


class ResourcePledge(db.Model):
    """Who promised how much of a resource, and when."""

    __tablename__ = "resource_pledges"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_resources.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    quantity: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    resource: Mapped[EventResource] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (sa.CheckConstraint("quantity >= 1", name="quantity_positive"),)


class ContentReport(db.Model):
    """Someone's report of a comment or a photo they find out of place, and what a moderator made of it."""

    __tablename__ = "content_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the item's event, so the queue of an event's organizers is one indexed condition
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event_comments.id", ondelete="CASCADE"))
    photo_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event_photos.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    details: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=ReportStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        sa.CheckConstraint("(comment_id IS NULL) <> (photo_id IS NULL)", name="one_item"),
        sa.CheckConstraint(f"length(details) <= {REPORT_DETAILS_MAX_LENGTH}", name="details_length"),
        one_of("reason", ReportReason),
        one_of("status", ReportStatus),
        sa.UniqueConstraint("comment_id", "reporter_id", name="uq_content_reports_comment_reporter"),
        sa.UniqueConstraint("photo_id", "reporter_id", name="uq_content_reports_photo_reporter"),
        sa.Index("ix_content_reports_event_status", "event_id", "status"),
    )
