"""Event content: comments (one level of replies), photos, resources and the pledges that provide them.

What concurrency could break is kept by the database:
- a reply belongs to the same event as its parent: the foreign key is ``(event_id, parent_id) → (event_id, id)``;
- a resource is never over-provided: ``quantity_provided`` changes only by one conditional UPDATE
  (``... WHERE quantity_provided + :q <= quantity_needed``) and a CHECK keeps it within ``0..quantity_needed``.
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

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        sa.CheckConstraint("NOT (is_before AND is_after)", name="before_or_after"),
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
