"""Volunteer-hours certificates. Each public function is one unit of work.

A participation has a certificate while it is verified attendance (``service.verified``: confirmed, checked in, of
an event not cancelled) with verified hours (> 0, stored by the report statistics job), and its account is verified
(``users.profiles.is_verified``). Its code (``Certificate``) is made the first time the person lists or downloads
it, and never changes. The public check by code answers from the participation as it is now: ``valid`` is false
once it stops being verified (a check-in undone, a report changed to no hours, an event cancelled, an account
closed), and the hours are today's.

The web layer passes in how to write the URLs (``pdf_url``, ``verification_url``): the service never reads the
request, and the URLs carry the client-facing host and scheme the request came through.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes.errors import Forbidden, NotFound
from mutiroes.events.models import Event, EventParticipant
from mutiroes.impact import certificate_pdf
from mutiroes.impact.models import Certificate
from mutiroes.impact.service import verified
from mutiroes.models import db
from mutiroes.timeutil import to_local
from mutiroes.users import profiles
from mutiroes.users.models import User

CODE_BYTES = 32  # 43 URL-safe characters, as unguessable as a session token
MAX_CODE_LENGTH = 64
MAX_CERTIFICATES = 1000  # the listing is an array; nobody volunteers at a thousand mutirões


@dataclasses.dataclass(frozen=True)
class CertificateItem:
    participation_id: int
    event_title: str
    date: dt.date
    hours: float
    code: str
    pdf_url: str


def _with_hours():
    """Verified attendance that has verified hours (needs ``Event`` joined)."""
    return sa.and_(verified(), EventParticipant.hours > 0)


def _codes(participation_ids: list[int]) -> dict[int, str]:
    """The certificate codes of these participations, making the missing ones (commits)."""
    if not participation_ids:
        return {}
    query = sa.select(Certificate.participation_id, Certificate.code).where(
        Certificate.participation_id.in_(participation_ids)
    )
    codes = dict(db.session.execute(query).all())
    missing = [pid for pid in participation_ids if pid not in codes]
    if not missing:
        return codes
    made = {pid: secrets.token_urlsafe(CODE_BYTES) for pid in missing}
    db.session.add_all(Certificate(participation_id=pid, code=code) for pid, code in made.items())
    try:
        db.session.commit()
    except IntegrityError:
        # the person's other request made them first: those are theirs
        db.session.rollback()
        return dict(db.session.execute(query).all())
    return codes | made


def get_all(*, user: User, pdf_url: Callable[[int], str]) -> list[CertificateItem]:
    """The caller's certificates, the latest event first: one per verified participation with hours."""
    if not profiles.is_verified(user):
        return []
    rows = db.session.execute(
        sa.select(EventParticipant.id, Event.title, Event.start_date, EventParticipant.hours)
        .join(Event, Event.id == EventParticipant.event_id)
        .where(EventParticipant.user_id == user.id, _with_hours())
        .order_by(Event.start_date.desc(), EventParticipant.id.desc())
        .limit(MAX_CERTIFICATES)
    ).all()
    codes = _codes([row.id for row in rows])
    return [
        CertificateItem(
            participation_id=row.id,
            event_title=row.title,
            date=to_local(row.start_date).date(),
            hours=round(row.hours, 2),
            code=codes[row.id],
            pdf_url=pdf_url(row.id),
        )
        for row in rows
    ]


def pdf(*, participation_id: int, user: User, verification_url: Callable[[str], str]) -> bytes:
    """The certificate PDF of the caller's participation. Someone else's → 403; no such participation, or one
    without a certificate (not verified, no hours yet, account not verified) → 404."""
    participation = db.session.get(EventParticipant, participation_id)
    if participation is None:
        raise NotFound("Certificado não encontrado.")
    if participation.user_id != user.id:
        raise Forbidden("Só a própria pessoa pode baixar o certificado da sua participação.")
    event = db.session.scalar(
        sa.select(Event)
        .join(EventParticipant, EventParticipant.event_id == Event.id)
        .where(EventParticipant.id == participation_id, _with_hours())
    )
    if event is None or not profiles.is_verified(user):
        raise NotFound("Esta participação ainda não tem certificado: ele sai depois do check-in e do relatório.")
    code = _codes([participation_id])[participation_id]
    return certificate_pdf.render(
        certificate_pdf.CertificateText(
            name=user.full_name,
            event_title=event.title,
            organizer_name=event.organizer.full_name,
            date=to_local(event.start_date).date(),
            place=event.place,
            hours=round(participation.hours, 2),
            code=code,
            verification_url=verification_url(code),
        )
    )


def verify(*, code: str) -> dict:
    """What a certificate states, for anyone holding its code; unknown code → 404."""
    if not code or len(code) > MAX_CODE_LENGTH or "\x00" in code:
        raise NotFound("Certificado não encontrado.")
    certificate = db.session.scalar(sa.select(Certificate).where(Certificate.code == code))
    if certificate is None:
        raise NotFound("Certificado não encontrado.")
    participation = certificate.participation
    event = db.session.get(Event, participation.event_id)
    still_verified = db.session.scalar(
        sa.select(sa.literal(True))
        .select_from(EventParticipant)
        .join(Event, Event.id == EventParticipant.event_id)
        .where(EventParticipant.id == participation.id, _with_hours())
    )
    return {
        "valid": bool(still_verified) and profiles.is_verified(participation.user),
        "name": participation.user.full_name,
        "event_title": event.title,
        "date": to_local(event.start_date).date(),
        "hours": round(participation.hours, 2),
        "organizer_name": event.organizer.full_name,
    }
