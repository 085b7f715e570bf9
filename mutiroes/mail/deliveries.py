"""Delivery records: every message is claimed by its key before it is sent, so it is sent at most once.

Every message carries a delivery key naming what it is about and to whom (``welcome:42:ana@example.org``). Before
sending, the key is claimed by inserting it into ``email_deliveries`` (unique), in its own committed transaction;
after the SMTP server accepts the message the row is marked sent. A retried or duplicated job therefore finds the
key taken and sends nothing. If SMTP fails, the claims of the messages not accepted are released, so the retry
sends exactly those. A claim left behind by a process that died mid-send is taken over after ``CLAIM_LEASE``.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from mutiroes.mail.message import Message
from mutiroes.models import UTCDateTime, db
from mutiroes.timeutil import utcnow

CLAIM_LEASE = dt.timedelta(minutes=15)
SUBJECT_MAX_LENGTH = 300
# delivery records must outlive every retry of the job that sent them; then they only grow the table
DELIVERY_RETENTION = dt.timedelta(days=90)


class DeliveryStatus(enum.StrEnum):
    SENDING = "sending"  # claimed, not accepted by the server yet
    SENT = "sent"
    LOGGED = "logged"  # no SMTP server configured: written to the log instead
    REJECTED = "rejected"  # refused by the server for good (bad address): recorded, not retried


class EmailDelivery(db.Model):
    """One message to one recipient, by delivery key: claimed before sending, marked once accepted."""

    __tablename__ = "email_deliveries"

    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    recipient: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # what the person was sent, for their data export (LGPD); null on records older than the column
    subject: Mapped[str | None] = mapped_column(sa.String(SUBJECT_MAX_LENGTH))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)


def delivery_key(kind: str, *ids: object, recipient: str) -> str:
    """``<kind>:<object ids>:<recipient>`` — the identity of one message, stable across retries."""
    return ":".join([kind, *(str(i) for i in ids), recipient.strip().lower()])


def recorded(key: str) -> bool:
    """Whether a message with this key was sent, or is being sent, already (for a job that must not make a second,
    different message when the first may have gone out)."""
    return db.session.get(EmailDelivery, key) is not None


def claim(messages: list[Message]) -> set[str]:
    """Claim the delivery keys of ``messages`` not yet delivered; commits, returns the keys this call owns."""
    now = utcnow()
    rows = [
        {
            "key": m.key,
            "kind": m.kind,
            "recipient": m.to,
            "subject": m.subject[:SUBJECT_MAX_LENGTH],
            "status": DeliveryStatus.SENDING,
            "claimed_at": now,
        }
        for m in messages
    ]
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
                    EmailDelivery.status == DeliveryStatus.SENDING,
                    EmailDelivery.claimed_at < now - CLAIM_LEASE,
                )
                .values(claimed_at=now)
                .returning(EmailDelivery.key)
            )
        )
    db.session.commit()
    return claimed


def finish(done: dict[str, DeliveryStatus], released: list[str]) -> None:
    now = utcnow()
    for status, keys in itertools.groupby(sorted(done, key=done.get), key=done.get):
        db.session.execute(
            sa.update(EmailDelivery).where(EmailDelivery.key.in_(list(keys))).values(status=status, sent_at=now)
        )
    if released:
        db.session.execute(
            sa.delete(EmailDelivery).where(
                EmailDelivery.key.in_(released), EmailDelivery.status == DeliveryStatus.SENDING
            )
        )
    db.session.commit()


def purge_old(now: dt.datetime) -> int:
    """Clean-up step: records of messages sent more than ``DELIVERY_RETENTION`` ago."""
    return db.session.execute(
        sa.delete(EmailDelivery).where(
            EmailDelivery.sent_at.is_not(None), EmailDelivery.sent_at < now - DELIVERY_RETENTION
        )
    ).rowcount
