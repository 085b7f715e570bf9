"""Users (account and profile in one row), login sessions and their refresh tokens, account-link tokens."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutiroes.models import TimestampMixin, UTCDateTime, db, one_of
from mutiroes.timeutil import utcnow

# what an erased account shows wherever a name was shown (its past participations, the events it organized)
ERASED_NAME = "Conta excluída"


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
    # when the person proved they read this address (a verification link, or a password reset through it); hours,
    # badges and ranks are credited only to verified accounts
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # set when the person erased their account (LGPD): the row stays, scrubbed, so past participations stay counted
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

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
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def full_name(self) -> str:
        if self.deleted_at is not None:
            return ERASED_NAME
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


class TokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
    EMAIL_VERIFICATION = "email_verification"


class AccountToken(db.Model):
    """A single-use link sent by email: a password reset or an email verification.

    Only the SHA-256 of the token is stored, so reading this table (a backup, a leaked dump) gives no working link.
    The row is written by the request that asks for the email; the email job draws the random token, stores its hash
    and the expiry, and mails it (so the token itself is never in a job's arguments, the outbox or Redis). A token is
    spent by one conditional UPDATE (``used_at IS NULL AND expires_at > now``): it works once, whatever the
    concurrency.
    """

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # the address the link goes to: a verification confirms exactly this one
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (
        one_of("purpose", TokenPurpose),
        sa.CheckConstraint("(token_hash IS NULL) = (expires_at IS NULL)", name="issued_with_expiry"),
    )
