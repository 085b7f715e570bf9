"""Jobs of the users domain: the welcome email (with the verification link) and the account links.

An account link's random token is drawn by the job, right before it sends, and only its digest is stored (see
``tokens``): a job's arguments, the outbox and Redis never hold a working link. The row being mailed is locked while
the job draws and claims the delivery, so a duplicated run finds the delivery recorded and sends nothing — it never
mails a second, different link.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from mutiroes import jobs, mail
from mutiroes.models import db
from mutiroes.users import tokens
from mutiroes.users.models import AccountToken, TokenPurpose, User

LINK_PATHS = {TokenPurpose.PASSWORD_RESET: "redefinir-senha", TokenPurpose.EMAIL_VERIFICATION: "verificar-email"}
SUBJECTS = {
    TokenPurpose.PASSWORD_RESET: "Redefina sua senha do Mutirões",
    TokenPurpose.EMAIL_VERIFICATION: "Confirme seu e-mail no Mutirões",
}
TEMPLATES = {TokenPurpose.PASSWORD_RESET: "password_reset", TokenPurpose.EMAIL_VERIFICATION: "verify_email"}


def link_for(purpose: TokenPurpose, token: str) -> str:
    """``<MUTIROES_FRONTEND_URL>/redefinir-senha?token=…`` or ``/verificar-email?token=…``."""
    return f"{current_app.config['MUTIROES'].frontend_url}/{LINK_PATHS[purpose]}?token={token}"


def validity(purpose: TokenPurpose) -> str:
    """How long a link works, as the email says it: ``1 hora``, ``7 dias``."""
    lifetime = tokens.LIFETIMES[purpose]
    if lifetime >= dt.timedelta(days=1):
        return f"{lifetime.days} dia{'s' if lifetime.days != 1 else ''}"
    hours = int(lifetime.total_seconds() // 3600)
    return f"{hours} hora{'s' if hours != 1 else ''}"


@jobs.job(queue=jobs.EMAILS, timeout=60)
def send_welcome_email(user_id: int) -> str:
    """Welcome a new volunteer, once, with the link that verifies their address (when it is not verified yet)."""
    user = db.session.scalar(sa.select(User).where(User.id == user_id).with_for_update())
    if user is None or not user.is_active:
        db.session.rollback()
        return "skipped: no such active user"
    key = mail.delivery_key("welcome", user.id, recipient=user.email)
    if mail.recorded(key):
        db.session.rollback()
        return "skipped: already delivered"
    verify_url = None
    if not user.email_verified:
        row = AccountToken(user_id=user.id, purpose=TokenPurpose.EMAIL_VERIFICATION, email=user.email)
        db.session.add(row)
        verify_url = link_for(TokenPurpose.EMAIL_VERIFICATION, tokens.issue(row))
    text, html = mail.render(
        "welcome",
        name=user.first_name or user.username,
        username=user.username,
        verify_url=verify_url,
        valid_for=validity(TokenPurpose.EMAIL_VERIFICATION),
    )
    message = mail.Message(key=key, to=user.email, subject="Boas-vindas ao Mutirões!", text=text, html=html)
    # the claim commits the token's digest together with the delivery record
    return "sent" if mail.send(message) else "skipped: already delivered"


@jobs.job(queue=jobs.EMAILS, timeout=60)
def send_account_link(token_id: int) -> str:
    """Mail the link of one account-token row (a password reset, or a verification asked for again), once."""
    row = db.session.scalar(
        sa.select(AccountToken).where(AccountToken.id == token_id).with_for_update(of=AccountToken.__table__)
    )
    if row is None or row.used_at is not None:
        db.session.rollback()
        return "skipped: no such token, or already used"
    user = db.session.get(User, row.user_id)
    purpose = TokenPurpose(row.purpose)
    if user is None or not user.is_active or user.email.lower() != row.email.lower():
        db.session.rollback()
        return "skipped: the account or its address changed"
    if purpose == TokenPurpose.EMAIL_VERIFICATION and user.email_verified:
        db.session.rollback()
        return "skipped: already verified"
    key = mail.delivery_key(purpose, row.id, recipient=row.email)
    if mail.recorded(key):
        db.session.rollback()
        return "skipped: already delivered"
    link = link_for(purpose, tokens.issue(row))
    text, html = mail.render(
        TEMPLATES[purpose], name=user.first_name or user.username, link=link, valid_for=validity(purpose)
    )
    message = mail.Message(key=key, to=row.email, subject=SUBJECTS[purpose], text=text, html=html)
    return "sent" if mail.send(message) else "skipped: already delivered"
