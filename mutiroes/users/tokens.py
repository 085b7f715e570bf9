"""Single-use account links (password reset, email verification): drawn, stored hashed, spent once.

The random token leaves the server only inside the email; the database keeps its SHA-256 (see
``models.AccountToken``). A 256-bit random token needs no slow hash: nobody can guess one, and the digest is only
there so that a copy of the table opens nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import AccountToken, TokenPurpose

LIFETIMES = {
    TokenPurpose.PASSWORD_RESET: dt.timedelta(hours=1),
    # the welcome email is often read days later; a resent link is a new token anyway
    TokenPurpose.EMAIL_VERIFICATION: dt.timedelta(days=7),
}
# rows past their expiry (or never issued) are kept this long, then deleted by the clean-up
RETENTION = dt.timedelta(days=7)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(row: AccountToken) -> str:
    """Draw the row's random token (replacing one drawn before), store its digest and expiry; returns the token.

    Called by the email job right before it sends, so the link's hour starts when it is mailed.
    """
    token = secrets.token_urlsafe(32)
    row.token_hash = digest(token)
    row.expires_at = utcnow() + LIFETIMES[TokenPurpose(row.purpose)]
    db.session.flush()
    return token


def find_live(token: str, purpose: TokenPurpose) -> AccountToken | None:
    """The unspent, unexpired token row of ``purpose`` that ``token`` opens, or None."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(
        sa.select(AccountToken).where(
            AccountToken.token_hash == digest(token),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > utcnow(),
        )
    )


def spend(row: AccountToken) -> bool:
    """Spend the token with one conditional UPDATE: ``True`` for exactly one caller, however many race for it."""
    spent = db.session.execute(
        sa.update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None), AccountToken.expires_at > utcnow())
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1


def spend_all(user_id: int, purpose: TokenPurpose) -> None:
    """Every outstanding token of the user for ``purpose`` stops working (after a reset, a verification, a new
    password): an older link still in the mailbox must not undo what was just done."""
    db.session.execute(
        sa.update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def purge_old(now: dt.datetime) -> int:
    """Clean-up step: token rows spent, expired or never issued more than ``RETENTION`` ago."""
    cutoff = now - RETENTION
    return db.session.execute(
        sa.delete(AccountToken).where(
            sa.or_(
                AccountToken.used_at < cutoff,
                AccountToken.expires_at < cutoff,
                sa.and_(AccountToken.expires_at.is_(None), AccountToken.created_at < cutoff),
            )
        )
    ).rowcount
