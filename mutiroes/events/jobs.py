"""Jobs of the events domain."""

from __future__ import annotations

import logging

from mutiroes.events.models import Event
from mutiroes.extensions import db
from mutiroes.users.models import User

log = logging.getLogger(__name__)

NOTIFICATION_TYPES = ("joined", "pending", "approved", "rejected", "promoted", "event_changed", "event_cancelled")


def send_event_notification_email(
    event_id: int,
    user_id: int,
    notification_type: str,
    event_title: str | None = None,
    event_start: str | None = None,
) -> bool:
    """Tell a participant what happened to their participation or to the event.

    Reloads the rows, so the message reflects the state after the change. A deleted event is gone by the time this
    runs: its cancellation request carries ``event_title`` and ``event_start`` (ISO 8601) instead. Until the mail
    pipeline exists, the message is logged, not sent.
    """
    if notification_type not in NOTIFICATION_TYPES:
        log.error("unknown event notification type %r", notification_type)
        return False
    user = db.session.get(User, user_id)
    if user is None:
        log.info("event notification %s skipped: user %s no longer exists", notification_type, user_id)
        return False
    event = db.session.get(Event, event_id)
    if event is not None:
        event_title, event_start = event.title, event.start_date.isoformat()
    elif event_title is None:
        log.info("event notification %s skipped: event %s no longer exists", notification_type, event_id)
        return False
    log.info(
        "event email %s for user %s <%s> about event %s %r starting %s (SMTP not configured: logged only)",
        notification_type,
        user.id,
        user.email,
        event_id,
        event_title,
        event_start,
    )
    return True
