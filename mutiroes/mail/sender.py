"""Sending: any number of messages over one SMTP connection, each at most once (see ``deliveries``).

:func:`send_bulk` sends in batches (one claim and one mark statement per batch), reconnecting when the server drops
the connection. Without ``MUTIROES_SMTP_HOST`` (the embedded mode) messages are logged instead of sent, and still
recorded.
"""

from __future__ import annotations

import itertools
import logging
import smtplib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from flask import current_app

from mutiroes.config import Config
from mutiroes.mail.deliveries import DeliveryStatus, claim, finish
from mutiroes.mail.message import Message, build
from mutiroes.mail.smtp import MailError, SMTPConnection

log = logging.getLogger(__name__)


@dataclass
class BulkResult:
    sent: int = 0
    skipped: int = 0  # already delivered (or being delivered by another process)
    rejected: int = 0  # refused by the server for good (bad address): recorded, not retried
    connections: int = 0
    keys: list[str] = field(default_factory=list)


def _batches(messages: Iterable[Message], size: int) -> Iterator[list[Message]]:
    iterator = iter(messages)
    while batch := list(itertools.islice(iterator, size)):
        unique = {}
        for message in batch:
            unique.setdefault(message.key, message)
        yield list(unique.values())


def send_bulk(messages: Iterable[Message], *, batch_size: int | None = None) -> BulkResult:
    """Send every message whose key is not delivered yet, over one SMTP connection, in batches.

    Raises :class:`MailError` when SMTP is unreachable; what was accepted before stays recorded.
    """
    settings: Config = current_app.config["MUTIROES"]
    size = batch_size or settings.mail_batch_size
    result = BulkResult()
    connection = SMTPConnection(settings) if settings.smtp_host else None
    try:
        for batch in _batches(messages, size):
            claimed = claim(batch)
            result.skipped += len(batch) - len(claimed)
            done: dict[str, DeliveryStatus] = {}
            pending = [m for m in batch if m.key in claimed]
            try:
                for message in pending:
                    if connection is None:
                        log.info("email (SMTP not configured, logged only) to %s: %s", message.to, message.subject)
                        done[message.key] = DeliveryStatus.LOGGED
                        continue
                    try:
                        connection.send(build(message, settings), message.to)
                    except smtplib.SMTPRecipientsRefused:
                        log.warning("recipient %s refused by the SMTP server (%s)", message.to, message.kind)
                        done[message.key] = DeliveryStatus.REJECTED
                        result.rejected += 1
                        continue
                    done[message.key] = DeliveryStatus.SENT
            except (smtplib.SMTPException, OSError, MailError) as exc:
                finish(done, [m.key for m in pending if m.key not in done])
                result.sent += sum(1 for status in done.values() if status != DeliveryStatus.REJECTED)
                raise MailError(f"SMTP failed after {result.sent} messages: {exc}") from exc
            finish(done, [])
            result.sent += sum(1 for status in done.values() if status != DeliveryStatus.REJECTED)
            result.keys.extend(k for k, status in done.items() if status != DeliveryStatus.REJECTED)
    finally:
        if connection is not None:
            result.connections = connection.opened
            connection.close()
    return result


def send(message: Message) -> bool:
    """Send one message unless its key was delivered already; ``True`` when it was sent (or logged) now."""
    return send_bulk([message]).sent == 1
