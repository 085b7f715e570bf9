"""The users domain's public module for the other domains: public profiles and notification preferences."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.errors import NotFound
from mutiroes.models import db
from mutiroes.users.models import User, default_notification_preferences


def get_public(*, username: str) -> User:
    """The active user behind a public profile; 404 when there is none or the profile is not public."""
    if "\x00" in username or len(username) > 150:  # no such name can exist, and PostgreSQL refuses NUL
        raise NotFound("Perfil não encontrado.")
    user = db.session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.lower(), User.is_active.is_(True))
    )
    if user is None or not user.is_public_profile:
        raise NotFound("Perfil não encontrado.")
    return user


def allows(user: User, preference: str) -> bool:
    """Whether ``user`` wants messages of ``preference`` (a key of ``notification_preferences``)."""
    defaults = default_notification_preferences()
    if preference not in defaults:
        raise KeyError(f"unknown notification preference {preference!r}")
    if not user.is_active:
        return False
    stored = user.notification_preferences or {}
    return bool(stored.get(preference, defaults[preference]))


def is_verified(user: User) -> bool:
    """Whether ``user``'s account counts as verified, the condition for a volunteer-hours certificate: active, with
    its email confirmed (``User.email_verified``, issue 13). The one place the certificates ask it
    (mutiroes.impact.certificates); the SQL form of the hours' condition is ``impact.service.verified``."""
    return user.is_active and user.email_verified
