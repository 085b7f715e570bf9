"""Jobs of the users domain."""

from __future__ import annotations

import logging

from mutiroes.extensions import db
from mutiroes.users.models import User

log = logging.getLogger(__name__)


def send_welcome_email(user_id: int) -> bool:
    """Welcome a new volunteer. Until the mail pipeline exists, the message is logged, not sent."""
    user = db.session.get(User, user_id)
    if user is None:
        return False
    log.info("welcome email for user %s <%s> (SMTP not configured: logged only)", user.id, user.email)
    return True
