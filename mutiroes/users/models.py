"""Users (account and profile in one row), login sessions and their refresh tokens."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutiroes.models import TimestampMixin, UTCDateTime, db
from mutiroes.timeutil import utcnow


def default_notification_preferences() -> dict:
    return {
        "event_updates": True,
        "event_reminders": True,
        "new_events_nearby": True,
        "newsletter": False,
    }


class User(TimestampMixin, db.Model):
    """An account and its public profile. The profile's ``id`` is the user's ``id``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(150), nullable=False)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    first_name: Mapped[str] = mapped_column(sa.String(150), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(sa.String(150), nullable=False, default="")
    is_staff: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    date_joined: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    phone: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    birth_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    bio: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    avatar: Mapped[str | None] = mapped_column(sa.String(255))
    city: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    state: Mapped[str] = mapped_column(sa.String(2), nullable=False, default="")
    zip_code: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="")
    interests: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    notification_preferences: Mapped[dict] = mapped_column(
        sa.JSON, nullable=False, default=default_notification_preferences
    )
    is_public_profile: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    show_participation_history: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    # Counters owned by the system (verified attendance), never writable through the API.
    total_events_participated: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    total_hours_volunteered: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)

    sessions: Mapped[list[AuthSession]] = relationship(back_populates="user", passive_deletes=True)

    __table_args__ = (
        # case-insensitive uniqueness, enforced by the database so two concurrent registrations cannot both win
        sa.Index("uq_users_username_lower", sa.func.lower(username), unique=True),
        sa.Index("uq_users_email_lower", sa.func.lower(email), unique=True),
        sa.CheckConstraint("total_events_participated >= 0", name="events_participated_non_negative"),
        sa.CheckConstraint("total_hours_volunteered >= 0", name="hours_volunteered_non_negative"),
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.username

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class AuthSession(db.Model):
    """One login: every token pair issued from it, through refresh rotation, shares its fate.

    Logout, reuse of a rotated refresh token and a password change revoke sessions; an access token is accepted
    only while its session is live, which every replica reads from the database (and therefore survives restarts
    of the app and of Redis).
    """

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))

    user: Mapped[User] = relationship(back_populates="sessions")


class RefreshToken(db.Model):
    """A refresh token issued for a session; ``used_at`` is set, exactly once, when it is rotated."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
