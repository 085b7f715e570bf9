"""Account recovery, email verification and the rights LGPD gives people over their data (export, erasure).

Each public function is one unit of work. Links travel by email only (``jobs``), as single-use tokens stored hashed
(``tokens``). Asking for a password reset answers the same whether or not the address has an account, and is
throttled per address and per client IP; so is asking for the verification link again.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager

from mutiroes import jobs
from mutiroes.content import public as content
from mutiroes.content.models import EventComment, EventPhoto, ResourcePledge
from mutiroes.errors import Conflict, Throttled, ValidationError
from mutiroes.events import erasure
from mutiroes.events.models import Event, EventParticipant
from mutiroes.impact.models import EventReport, UserBadge
from mutiroes.mail import EmailDelivery
from mutiroes.models import db
from mutiroes.platform import images
from mutiroes.platform.throttle import counters_for
from mutiroes.timeutil import utcnow
from mutiroes.users import service, tokens
from mutiroes.users.models import (
    AccountToken,
    AuthSession,
    RefreshToken,
    TokenPurpose,
    User,
    default_notification_preferences,
)

LINK_JOB = "send_account_link"
STATISTICS_JOB = "update_user_statistics"
THROTTLE_WINDOW_SECONDS = 3600
INVALID_TOKEN = "Este link é inválido, expirou ou já foi usado. Peça um novo."  # noqa: S105 - a message
# the one answer to a reset request, whether or not the address has an account
RESET_REQUESTED = "Se houver uma conta com este e-mail, enviamos um link para redefinir a senha. Ele vale por 1 hora."
ERASED_EMAIL_DOMAIN = "excluido.invalid"  # RFC 2606: never deliverable, never anyone's


# --- throttling ------------------------------------------------------------------------------------------------


def _throttle(limits: list[tuple[str, int]]) -> None:
    """Count one request against each ``(key, limit)``; 429 with Retry-After once any is spent (nothing counted)."""
    counters = counters_for(current_app._get_current_object(), "accounts")
    for key, limit in limits:
        count, retry_after = counters.get(key)
        if count >= limit:
            raise Throttled(retry_after, f"Muitos pedidos. Tente novamente em {max(1, retry_after)} segundos.")
    for key, _limit in limits:
        counters.hit(key, THROTTLE_WINDOW_SECONDS)


def _address_limit(kind: str, email: str) -> tuple[str, int]:
    settings = current_app.config["MUTIROES"]
    return f"mutiroes:account-email:{kind}:{email.strip().lower()}", settings.account_emails_per_address


# --- password reset --------------------------------------------------------------------------------------------


def request_password_reset(*, email: str, client_ip: str) -> str:
    """Mail a reset link to the account of ``email``, if there is one; returns the answer, the same either way."""
    settings = current_app.config["MUTIROES"]
    _throttle(
        [
            _address_limit("reset", email),
            (f"mutiroes:account-email:reset-ip:{client_ip}", settings.account_emails_per_ip),
        ]
    )
    user = db.session.scalar(
        sa.select(User).where(sa.func.lower(User.email) == email.strip().lower(), User.is_active.is_(True))
    )
    if user is None:
        db.session.rollback()
        return RESET_REQUESTED
    row = AccountToken(user_id=user.id, purpose=TokenPurpose.PASSWORD_RESET, email=user.email)
    db.session.add(row)
    db.session.flush()
    jobs.request(LINK_JOB, token_id=row.id)
    db.session.commit()
    return RESET_REQUESTED


def confirm_password_reset(*, token: str, new_password: str) -> None:
    """Set the new password through a reset link: the link works once, and every login of the account ends.

    The link also proves the person reads the address, so an unverified account becomes verified.
    """
    row = tokens.find_live(token, TokenPurpose.PASSWORD_RESET)
    user = db.session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or not user.is_active or user.email.lower() != row.email.lower():
        db.session.rollback()
        raise ValidationError({"token": [INVALID_TOKEN]})
    service.validate_password(new_password, username=user.username, email=user.email, field="new_password")
    if not tokens.spend(row):  # another request used it meanwhile
        db.session.rollback()
        raise ValidationError({"token": [INVALID_TOKEN]})
    tokens.spend_all(user.id, TokenPurpose.PASSWORD_RESET)
    user.password_hash = service.hash_password(new_password)
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="password_reset")
    )
    _mark_verified(user)
    db.session.commit()


# --- email verification ----------------------------------------------------------------------------------------


def _mark_verified(user: User) -> None:
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        # hours, badges and ranks earned while unverified are credited now
        jobs.request(STATISTICS_JOB, user_id=user.id)
    tokens.spend_all(user.id, TokenPurpose.EMAIL_VERIFICATION)


def verify_email(*, token: str) -> User:
    """Confirm the address a verification link was sent to; the link works once."""
    row = tokens.find_live(token, TokenPurpose.EMAIL_VERIFICATION)
    user = db.session.get(User, row.user_id) if row is not None else None
    if (
        row is None
        or user is None
        or not user.is_active
        or user.email.lower() != row.email.lower()
        or not tokens.spend(row)
    ):
        db.session.rollback()
        raise ValidationError({"token": [INVALID_TOKEN]})
    _mark_verified(user)
    db.session.commit()
    return user


def resend_verification(*, user: User) -> None:
    """Mail a new verification link to the caller (throttled per address); 409 when the address is verified."""
    if user.email_verified:
        raise Conflict("Seu e-mail já está confirmado.")
    _throttle([_address_limit("verify", user.email)])
    row = AccountToken(user_id=user.id, purpose=TokenPurpose.EMAIL_VERIFICATION, email=user.email)
    db.session.add(row)
    db.session.flush()
    jobs.request(LINK_JOB, token_id=row.id)
    db.session.commit()


# --- export (LGPD art. 18, II and V) ---------------------------------------------------------------------------


def export(*, user: User) -> dict[str, Any]:
    """Everything held about the caller, each list oldest first (``schemas.AccountExportSchema`` says what)."""
    participations = db.session.scalars(
        sa.select(EventParticipant)
        .join(Event, Event.id == EventParticipant.event_id)
        .where(EventParticipant.user_id == user.id)
        .order_by(EventParticipant.registered_at, EventParticipant.id)
        .options(contains_eager(EventParticipant.event))
    ).all()
    pledges = db.session.scalars(
        sa.select(ResourcePledge)
        .where(ResourcePledge.user_id == user.id)
        .order_by(ResourcePledge.created_at, ResourcePledge.id)
    ).all()
    return {
        "generated_at": utcnow(),
        "profile": user,
        "email_verified_at": user.email_verified_at,
        "hours": {
            "total_hours_volunteered": float(user.total_hours_volunteered),
            "total_events_participated": user.total_events_participated,
        },
        "participations": participations,
        "events_organized": db.session.scalars(
            sa.select(Event).where(Event.organizer_id == user.id).order_by(Event.start_date, Event.id)
        ).all(),
        "comments": db.session.scalars(
            sa.select(EventComment)
            .where(EventComment.user_id == user.id)
            .order_by(EventComment.created_at, EventComment.id)
        ).all(),
        "photos": db.session.scalars(
            sa.select(EventPhoto).where(EventPhoto.user_id == user.id).order_by(EventPhoto.created_at, EventPhoto.id)
        ).all(),
        "pledges": pledges,
        "reports_filed": db.session.scalars(
            sa.select(EventReport)
            .where(EventReport.created_by_id == user.id)
            .order_by(EventReport.created_at, EventReport.id)
        ).all(),
        "badges": db.session.scalars(
            sa.select(UserBadge).where(UserBadge.user_id == user.id).order_by(UserBadge.earned_at, UserBadge.id)
        ).all(),
        "emails": db.session.scalars(
            sa.select(EmailDelivery)
            .where(sa.func.lower(EmailDelivery.recipient) == user.email.lower())
            .order_by(EmailDelivery.claimed_at, EmailDelivery.key)
        ).all(),
        "sessions": db.session.scalars(
            sa.select(AuthSession).where(AuthSession.user_id == user.id).order_by(AuthSession.created_at)
        ).all(),
    }


# --- erasure (LGPD art. 18, VI) --------------------------------------------------------------------------------


def _erase_failure_key(user: User) -> str:
    return f"mutiroes:erase-fail:{user.id}"


def erase(*, user: User, password: str) -> None:
    """Erase the person, in one transaction; the files go after the commit.

    Gone: names, email, phone, birth date, bio, avatar, city, interests, emergency data, comments, photos, logins and
    account links, the records of the emails sent to them, their pledges to events still ahead. Kept, anonymous: the
    participations at past events (so the published impact stays true), the events they organized that had started,
    reports and badges. Their events not yet started are cancelled (participants are emailed) and their spots at
    events not over are given back. Login becomes impossible: no address, no password, inactive.
    """
    settings = current_app.config["MUTIROES"]
    counters = counters_for(current_app._get_current_object(), "accounts")
    failures, retry_after = counters.get(_erase_failure_key(user))
    if failures >= settings.login_max_failures_per_account:
        raise Throttled(retry_after)
    if not service.password_matches(user, password):
        db.session.rollback()
        counters.hit(_erase_failure_key(user), settings.login_failure_window_seconds)
        raise ValidationError({"password": ["A senha está incorreta."]})

    now = utcnow()
    user = db.session.scalar(
        sa.select(User).where(User.id == user.id).with_for_update().execution_options(populate_existing=True)
    )
    files = content.erase_author(user.id, now)
    erasure.withdraw(user_id=user.id, now=now)
    if user.avatar:
        files.append(user.avatar)
    address = user.email

    tag = uuid.uuid4().hex[:16]
    user.username = f"excluido-{tag}"
    user.email = f"excluido-{tag}@{ERASED_EMAIL_DOMAIN}"
    user.password_hash = "!"  # noqa: S105 - not an argon2 hash: no password ever verifies against it
    user.is_active = False
    user.deleted_at = now
    user.first_name = user.last_name = ""
    user.phone = user.bio = user.city = user.state = user.zip_code = ""
    user.birth_date = None
    user.avatar = None
    user.interests = []
    user.notification_preferences = dict.fromkeys(default_notification_preferences(), False)
    user.is_public_profile = False
    user.show_participation_history = False

    sessions = sa.select(AuthSession.id).where(AuthSession.user_id == user.id).scalar_subquery()
    # explicit, because SQLite does not enforce ON DELETE CASCADE without a pragma
    db.session.execute(sa.delete(RefreshToken).where(RefreshToken.session_id.in_(sessions)))
    db.session.execute(sa.delete(AuthSession).where(AuthSession.user_id == user.id))
    db.session.execute(sa.delete(AccountToken).where(AccountToken.user_id == user.id))
    db.session.execute(sa.delete(EmailDelivery).where(sa.func.lower(EmailDelivery.recipient) == address.lower()))
    db.session.commit()
    counters.reset(_erase_failure_key(user))
    for path in files:
        images.delete(path)
