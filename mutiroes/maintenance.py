"""The nightly clean-up job. Each step is its own short transaction, so one failing step does not undo the others.

The event rules (published events past their end become completed; drafts whose start passed more than 30 days
ago are deleted) join ``CLEANUP_STEPS`` from the events domain.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa

from mutiroes import jobs
from mutiroes.extensions import db
from mutiroes.timeutil import utcnow

log = logging.getLogger(__name__)

# an outbox row pushed to RQ is only kept this long, for operators looking into a job's history
OUTBOX_RETENTION = dt.timedelta(days=7)
# delivery records must outlive every retry of the job that sent them; then they only grow the table
DELIVERY_RETENTION = dt.timedelta(days=90)


def purge_expired_sessions(now: dt.datetime) -> int:
    """Login sessions past their expiry (revoked or not) and refresh tokens past theirs; a revoked session is kept
    until it expires so that reuse of its refresh tokens is still recognised."""
    from mutiroes.users.models import AuthSession, RefreshToken

    tokens = db.session.execute(sa.delete(RefreshToken).where(RefreshToken.expires_at < now)).rowcount
    # the session's remaining refresh tokens go with it (ON DELETE CASCADE)
    sessions = db.session.execute(sa.delete(AuthSession).where(AuthSession.expires_at < now)).rowcount
    return tokens + sessions


def purge_pushed_outbox_rows(now: dt.datetime) -> int:
    from mutiroes.outbox import OutboxJob

    return db.session.execute(
        sa.delete(OutboxJob).where(OutboxJob.enqueued_at.is_not(None), OutboxJob.enqueued_at < now - OUTBOX_RETENTION)
    ).rowcount


def purge_old_deliveries(now: dt.datetime) -> int:
    from mutiroes.mail import EmailDelivery

    return db.session.execute(
        sa.delete(EmailDelivery).where(
            EmailDelivery.sent_at.is_not(None), EmailDelivery.sent_at < now - DELIVERY_RETENTION
        )
    ).rowcount


def complete_ended_events(now: dt.datetime) -> int:
    from mutiroes.events.jobs import complete_ended_events as step

    return step(now)


def delete_stale_drafts(now: dt.datetime) -> int:
    from mutiroes.events.jobs import delete_stale_drafts as step

    return step(now)


# name -> step(now) returning how many rows it changed
CLEANUP_STEPS: dict[str, Callable[[dt.datetime], int]] = {
    "completed_events": complete_ended_events,
    "stale_drafts": delete_stale_drafts,
    "expired_sessions": purge_expired_sessions,
    "pushed_outbox_rows": purge_pushed_outbox_rows,
    "old_email_deliveries": purge_old_deliveries,
}


@jobs.job(queue=jobs.PERIODIC, timeout=900)
def cleanup_expired_events() -> dict[str, int]:
    """Run every clean-up step; idempotent (a second run finds nothing left to do)."""
    now = utcnow()
    counts: dict[str, int] = {}
    failed = []
    for name, step in CLEANUP_STEPS.items():
        try:
            counts[name] = step(now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("clean-up step %s failed", name)
            failed.append(name)
    log.info("clean-up done: %s", counts)
    if failed:
        # the job fails (and is retried) only after every other step had its chance
        raise RuntimeError(f"clean-up steps failed: {', '.join(failed)}")
    return counts
