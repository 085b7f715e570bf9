"""Outgoing email: pt-BR text + HTML messages over smtplib, sent at most once per delivery key.

Every message carries a delivery key naming what it is about and to whom (``welcome:42:ana@example.org``). Before
sending, the key is claimed by inserting it into ``email_deliveries`` (unique), in its own committed transaction;
after the SMTP server accepts the message the row is marked sent. A retried or duplicated job therefore finds the
key taken and sends nothing. If SMTP fails, the claims of the messages not accepted are released, so the retry
sends exactly those. A claim left behind by a process that died mid-send is taken over after ``CLAIM_LEASE``.

:func:`send_bulk` sends any number of messages over one SMTP connection, in batches (one claim and one mark
statement per batch), reconnecting when the server drops the connection. Without ``MUTIROES_SMTP_HOST`` (the
embedded mode) messages are logged instead of sent, and still recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import logging
import smtplib
import ssl
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from mutiroes.config import Config
from mutiroes.events import ical
from mutiroes.extensions import db
from mutiroes.models import UTCDateTime
from mutiroes.timeutil import utcnow

log = logging.getLogger(__name__)

CLAIM_LEASE = dt.timedelta(minutes=15)
SENDING, SENT, LOGGED, REJECTED = "sending", "sent", "logged", "rejected"
TEMPLATES = Path(__file__).resolve().parent / "templates" / "email"


class EmailDelivery(db.Model):
    """One message to one recipient, by delivery key: claimed before sending, marked once accepted."""

    __tablename__ = "email_deliveries"

    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    recipient: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)


def delivery_key(kind: str, *ids: object, recipient: str) -> str:
    """``<kind>:<object ids>:<recipient>`` — the identity of one message, stable across retries."""
    return ":".join([kind, *(str(i) for i in ids), recipient.strip().lower()])


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str  # e.g. "text/calendar; method=REQUEST"


@dataclass(frozen=True)
class Message:
    key: str
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]


@dataclass
class BulkResult:
    sent: int = 0
    skipped: int = 0  # already delivered (or being delivered by another process)
    rejected: int = 0  # refused by the server for good (bad address): recorded, not retried
    connections: int = 0
    keys: list[str] = field(default_factory=list)


class MailError(RuntimeError):
    """SMTP could not take the messages now; the job fails and RQ retries it."""


# --- rendering -------------------------------------------------------------------------------------------------

_environment: Environment | None = None


def _templates() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _environment


def render(template: str, **context) -> tuple[str, str]:
    """Render ``<template>.txt`` and ``<template>.html`` (pt-BR) with ``site_url`` added to the context."""
    context.setdefault("site_url", current_app.config["MUTIROES"].site_url)
    environment = _templates()
    text = environment.get_template(f"{template}.txt").render(**context)
    html = environment.get_template(f"{template}.html").render(**context)
    return text, html


def ical_attachment(
    *,
    uid: str,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    location: str = "",
    geo: tuple[float, float] | None = None,
    description: str = "",
    url: str = "",
    filename: str = "convite.ics",
) -> Attachment:
    """An iCalendar (RFC 5545) event, times in UTC, to attach to a confirmation (built by ``events.ical``)."""
    content = ical.calendar(
        uid=uid, start=start, end=end, summary=summary, location=location, geo=geo, description=description, url=url
    )
    return Attachment(filename, content, "text/calendar; method=PUBLISH; charset=utf-8")


def _header(value: str) -> str:
    # subjects will carry event titles people typed: a line break must never start a header of its own
    value = " ".join(value.splitlines())
    return value if value.isascii() else Header(value, "utf-8").encode()


def _base64_part(content: bytes, content_type: str, extra: str = "") -> bytes:
    return (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n{extra}\r\n".encode()
        + base64.encodebytes(content).replace(b"\n", b"\r\n")
    )


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"=_{uuid.uuid4().hex}"
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    return (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
        + body
        + (f"--{boundary}--\r\n".encode())
    )


def build(message: Message, settings: Config) -> bytes:
    """The message as MIME bytes (CRLF): text and HTML alternatives in UTF-8/base64, then attachments.

    Assembled directly rather than through ``email.message.EmailMessage``, whose serialization costs ~2 ms a
    message — the whole budget of a 500 emails/s bulk send.
    """
    name, address = parseaddr(settings.mail_from)
    # the same message always has the same id, so even a mail server can tell a duplicate
    digest = hashlib.sha256(message.key.encode()).hexdigest()[:40]
    domain = address.rpartition("@")[2] or "mutiroes.local"
    headers = (
        f"From: {formataddr((name, address), charset='utf-8')}\r\n"
        f"To: {_header(message.to)}\r\n"
        f"Subject: {_header(message.subject)}\r\n"
        f"Date: {format_datetime(utcnow())}\r\n"
        f"Message-ID: <{digest}@{domain}>\r\n"
        "Content-Language: pt-BR\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    body = _base64_part(message.text.encode(), 'text/plain; charset="utf-8"')
    if message.html is not None:
        html = _base64_part(message.html.encode(), 'text/html; charset="utf-8"')
        body = _multipart("alternative", [body, html])
    if message.attachments:
        parts = [body]
        for attachment in message.attachments:
            filename = _header(attachment.filename)
            parts.append(
                _base64_part(
                    attachment.content,
                    f'{attachment.mimetype}; name="{filename}"',
                    f'Content-Disposition: attachment; filename="{filename}"\r\n',
                )
            )
        body = _multipart("mixed", parts)
    return headers + body


# --- notification preferences ----------------------------------------------------------------------------------


def allows(user, preference: str) -> bool:
    """Whether ``user`` wants messages of ``preference`` (a key of ``notification_preferences``)."""
    from mutiroes.users.models import default_notification_preferences

    defaults = default_notification_preferences()
    if preference not in defaults:
        raise KeyError(f"unknown notification preference {preference!r}")
    if not user.is_active:
        return False
    stored = user.notification_preferences or {}
    return bool(stored.get(preference, defaults[preference]))


# --- SMTP ------------------------------------------------------------------------------------------------------


class SMTPConnection:
    """One SMTP session, opened on first use and reopened once when the server drops it."""

    def __init__(self, settings: Config) -> None:
        self.settings = settings
        self.sender = parseaddr(settings.mail_from)[1]
        self._smtp: smtplib.SMTP | None = None
        self.opened = 0

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password or "")
        self.opened += 1
        return smtp

    @staticmethod
    def _through_breaker(func, *args):
        """SMTP calls go through the shared SMTP breaker; an open circuit fails the job fast, to be retried later."""
        from mutiroes import resilience

        try:
            return resilience.guarded("smtp", func, *args)
        except resilience.DependencyUnavailable as exc:
            raise MailError("SMTP circuit open: not trying until it half-opens") from exc

    def send(self, raw: bytes, recipient: str) -> None:
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._through_breaker(self._open)
            try:
                self._through_breaker(self._smtp.sendmail, self.sender, [recipient], raw)
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._smtp = None
                if attempt == 2:
                    raise MailError(f"SMTP connection lost: {exc}") from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _claim(messages: list[Message]) -> set[str]:
    """Claim the delivery keys of ``messages`` not yet delivered; commits, returns the keys this call owns."""
    now = utcnow()
    rows = [{"key": m.key, "kind": m.kind, "recipient": m.to, "status": SENDING, "claimed_at": now} for m in messages]
    insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert
    claimed = set(
        db.session.scalars(
            insert(EmailDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(EmailDelivery.key)
        )
    )
    rest = [m.key for m in messages if m.key not in claimed]
    if rest:
        claimed |= set(
            db.session.scalars(
                sa.update(EmailDelivery)
                .where(
                    EmailDelivery.key.in_(rest),
                    EmailDelivery.status == SENDING,
                    EmailDelivery.claimed_at < now - CLAIM_LEASE,
                )
                .values(claimed_at=now)
                .returning(EmailDelivery.key)
            )
        )
    db.session.commit()
    return claimed


def _finish(done: dict[str, str], released: list[str]) -> None:
    now = utcnow()
    for status, keys in itertools.groupby(sorted(done, key=done.get), key=done.get):
        db.session.execute(
            sa.update(EmailDelivery).where(EmailDelivery.key.in_(list(keys))).values(status=status, sent_at=now)
        )
    if released:
        db.session.execute(
            sa.delete(EmailDelivery).where(EmailDelivery.key.in_(released), EmailDelivery.status == SENDING)
        )
    db.session.commit()


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
            claimed = _claim(batch)
            result.skipped += len(batch) - len(claimed)
            done: dict[str, str] = {}
            pending = [m for m in batch if m.key in claimed]
            try:
                for message in pending:
                    if connection is None:
                        log.info("email (SMTP not configured, logged only) to %s: %s", message.to, message.subject)
                        done[message.key] = LOGGED
                        continue
                    try:
                        connection.send(build(message, settings), message.to)
                    except smtplib.SMTPRecipientsRefused:
                        log.warning("recipient %s refused by the SMTP server (%s)", message.to, message.kind)
                        done[message.key] = REJECTED
                        result.rejected += 1
                        continue
                    done[message.key] = SENT
            except (smtplib.SMTPException, OSError, MailError) as exc:
                _finish(done, [m.key for m in pending if m.key not in done])
                result.sent += sum(1 for status in done.values() if status != REJECTED)
                raise MailError(f"SMTP failed after {result.sent} messages: {exc}") from exc
            _finish(done, [])
            result.sent += sum(1 for status in done.values() if status != REJECTED)
            result.keys.extend(k for k, status in done.items() if status != REJECTED)
    finally:
        if connection is not None:
            result.connections = connection.opened
            connection.close()
    return result


def send(message: Message) -> bool:
    """Send one message unless its key was delivered already; ``True`` when it was sent (or logged) now."""
    return send_bulk([message]).sent == 1
