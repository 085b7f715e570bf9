"""Outgoing email: pt-BR text + HTML messages over smtplib, sent at most once per delivery key."""

from mutiroes.mail.deliveries import EmailDelivery, delivery_key, recorded
from mutiroes.mail.message import Attachment, Message, build
from mutiroes.mail.rendering import render
from mutiroes.mail.sender import BulkResult, send, send_bulk
from mutiroes.mail.smtp import MailError

__all__ = [
    "Attachment",
    "BulkResult",
    "EmailDelivery",
    "MailError",
    "Message",
    "build",
    "delivery_key",
    "recorded",
    "render",
    "send",
    "send_bulk",
]
