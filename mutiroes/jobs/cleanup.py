"""The nightly clean-up job. Each step is its own short transaction, so one failing step does not undo the others.

Every part contributes the steps for what it owns (``module:function``, taking ``now`` and returning how many rows
it changed): the events rules (published events past their end become completed; drafts whose start passed more
than 30 days ago are deleted), the hours of ended events not credited yet, expired login sessions and account links,
outbox rows already pushed, old email delivery records.
"""

from __future__ import annotations

import logging

from mutiroes.jobs import registry
from mutiroes.models import db
from mutiroes.timeutil import utcnow

log = logging.getLogger(__name__)

# name -> "module:function"
CLEANUP_STEPS: dict[str, str] = {
    "completed_events": "mutiroes.events.jobs:complete_ended_events",
    "stale_drafts": "mutiroes.events.jobs:delete_stale_drafts",
    "ended_reports_credited": "mutiroes.impact.jobs:credit_ended_reports",
    "expired_sessions": "mutiroes.users.service:purge_expired_sessions",
    "old_account_tokens": "mutiroes.users.tokens:purge_old",
    "pushed_outbox_rows": "mutiroes.jobs.outbox:purge_pushed",
    "old_email_deliveries": "mutiroes.mail.deliveries:purge_old",
}


@registry.job(queue=registry.PERIODIC, timeout=900)
def cleanup_expired_events() -> dict[str, int]:
    """Run every clean-up step; idempotent (a second run finds nothing left to do)."""
    now = utcnow()
    counts: dict[str, int] = {}
    failed = []
    for name, path in CLEANUP_STEPS.items():
        try:
            counts[name] = registry.load(path)(now)
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
