"""Jobs of the users domain."""

from __future__ import annotations

from mutiroes import jobs, mail
from mutiroes.models import db
from mutiroes.users.models import User


@jobs.job(queue=jobs.EMAILS, timeout=60)
def send_welcome_email(user_id: int) -> str:
    """Welcome a new volunteer, once: a retried or repeated job finds the delivery recorded and sends nothing."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        return "skipped: no such active user"
    text, html = mail.render("welcome", name=user.first_name or user.username, username=user.username)
    message = mail.Message(
        key=mail.delivery_key("welcome", user.id, recipient=user.email),
        to=user.email,
        subject="Boas-vindas ao Mutirões!",
        text=text,
        html=html,
    )
    return "sent" if mail.send(message) else "skipped: already delivered"
