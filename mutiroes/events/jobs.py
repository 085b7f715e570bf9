"""Jobs of the events domain: participation and event emails, reminders, and the event rules of the clean-up.

Every email has a delivery key (``mutiroes.mail``), so a retried or repeated job never sends a message twice:
- participation emails (joined, pending, approved, rejected, promoted) are keyed by the participation's
  registration time, so leaving and joining again is a new registration that is told again;
- ``event_changed`` is keyed by the moment of the change (``changed_at``, given by the requester);
- ``event_cancelled`` is sent once per event and person;
- reminders are keyed ``reminder_<kind>:<event_id>:<email>``: each reminder once per participant;
- an organizers' message is keyed by the message: each person addressed gets it once.

Confirmations, changes and cancellations attach the event's calendar entry (``ical``): METHOD:REQUEST with the
current SEQUENCE, or METHOD:CANCEL, so the entry a calendar took from an earlier email is updated or removed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app

from mutiroes import jobs, mail
from mutiroes.events import ical, service
from mutiroes.events.ical import event_url, place_of
from mutiroes.events.models import (
    Event,
    EventMessage,
    EventMessageRecipient,
    EventParticipant,
    EventStatus,
    ParticipationStatus,
)
from mutiroes.models import db
from mutiroes.timeutil import long_date, to_local, utcnow
from mutiroes.users.models import User
from mutiroes.users.profiles import allows

log = logging.getLogger(__name__)

NOTIFICATION_TYPES = ("joined", "pending", "approved", "rejected", "promoted", "event_changed", "event_cancelled")
# the participation status each email is about; a participation that moved on meanwhile is not told stale news
EXPECTED_STATUS = {
    "joined": (ParticipationStatus.CONFIRMED, ParticipationStatus.WAITLISTED),
    "pending": (ParticipationStatus.PENDING,),
    "approved": (ParticipationStatus.CONFIRMED,),
    "promoted": (ParticipationStatus.CONFIRMED,),
    "rejected": (ParticipationStatus.REJECTED,),
    "event_changed": (ParticipationStatus.CONFIRMED,),
}
# people who said no to "event_updates" are not told of changes and cancellations; the rest answers what they did
PREFERENCE = {"event_changed": "event_updates", "event_cancelled": "event_updates"}
REMINDERS = {"24h": dt.timedelta(hours=24), "2h": dt.timedelta(hours=2)}
DRAFT_RETENTION = dt.timedelta(days=30)

WEEKDAYS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo")
ZONE_NAMES = {"America/Sao_Paulo": "horário de Brasília"}


# --- what the emails say ---------------------------------------------------------------------------------------


def format_when(start: dt.datetime, end: dt.datetime | None = None) -> str:
    """``sábado, 5 de dezembro de 2026, das 08:00 às 11:00 (horário de Brasília)`` in MUTIROES_TIME_ZONE."""
    local_start = to_local(start)
    zone = current_app.config["MUTIROES"].time_zone
    zone_name = ZONE_NAMES.get(zone, zone)
    day = f"{WEEKDAYS[local_start.weekday()]}, {long_date(local_start)}"
    if end is None:
        return f"{day}, às {local_start:%H:%M} ({zone_name})"
    local_end = to_local(end)
    if local_end.date() == local_start.date():
        return f"{day}, das {local_start:%H:%M} às {local_end:%H:%M} ({zone_name})"
    return f"{day}, às {local_start:%H:%M}, até {local_end:%d/%m/%Y %H:%M} ({zone_name})"


def map_url(event: Event) -> str:
    return f"https://www.google.com/maps/search/?api=1&query={event.latitude:.6f}%2C{event.longitude:.6f}"


def calendar_attachment(entry: ical.Entry, user: User, method: ical.Method) -> mail.Attachment:
    """The email's calendar entry for one participant, built by the one iCal path (``events.ical``)."""
    content = ical.invitation(entry, method=method, email=user.email, name=user.full_name)
    filename = "cancelamento.ics" if method == ical.Method.CANCEL else "convite.ics"
    return mail.Attachment(filename, content, f"text/calendar; method={method.value}; charset=utf-8")


def _deleted_event_entry(
    event_id: int, title: str | None, start: str | None, end: str | None, place: str | None, sequence: int | None
) -> ical.Entry | None:
    """The cancelled entry of an event deleted before this job ran, from what its deletion left; ``None`` when that
    is not enough (a job requested before deletions left the end and the sequence)."""
    if not (title and start and end) or sequence is None:
        return None
    return ical.Entry(
        event_id=event_id,
        summary=title,
        start=dt.datetime.fromisoformat(start),
        end=dt.datetime.fromisoformat(end),
        status="CANCELLED",
        sequence=sequence,
        location=place or "",
    )


def _wording(notification_type: str, status: str | None, title: str) -> tuple[str, str, str, bool]:
    """(subject, opening paragraph, closing paragraph, attach the calendar invite)."""
    if notification_type == "joined" and status == ParticipationStatus.WAITLISTED:
        return (
            f"Você está na lista de espera: {title}",
            "O evento está lotado, e sua inscrição entrou na lista de espera. Se uma vaga abrir, ela é sua e avisamos"
            " por e-mail.",
            "",
            False,
        )
    wording = {
        "joined": (f"Inscrição confirmada: {title}", "Sua inscrição está confirmada. Até lá!", True),
        "pending": (
            f"Inscrição recebida: {title}",
            "Recebemos sua inscrição. Ela aguarda a aprovação do organizador; avisaremos assim que ele responder.",
            False,
        ),
        "approved": (f"Inscrição aprovada: {title}", "O organizador aprovou sua inscrição. Até lá!", True),
        "promoted": (
            f"Abriu uma vaga para você: {title}",
            "Uma vaga foi liberada e sua inscrição saiu da lista de espera: você está confirmado!",
            True,
        ),
        "rejected": (
            f"Inscrição não aprovada: {title}",
            "Infelizmente o organizador não aprovou sua inscrição neste evento. Há muitos outros mutirões esperando"
            " por você.",
            False,
        ),
        "event_changed": (
            f"O evento mudou: {title}",
            "O organizador alterou a data, o horário ou o local do evento. Confira como ficou:",
            True,
        ),
        "event_cancelled": (
            f"Evento cancelado: {title}",
            "Infelizmente este evento foi cancelado pelo organizador. Obrigado pela disposição em participar!",
            False,
        ),
    }
    subject, intro, invite = wording[notification_type]
    closing = (
        "Leve água, protetor solar e o que o organizador pediu."
        if invite and notification_type != "event_changed"
        else ""
    )
    return subject, intro, closing, invite


def _stamp(moment: dt.datetime | str | None) -> str:
    if moment is None:
        return "0"
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return str(int(moment.timestamp() * 1000))


@jobs.job(queue=jobs.EMAILS, timeout=120)
def send_event_notification_email(
    event_id: int,
    user_id: int,
    notification_type: str,
    event_title: str | None = None,
    event_start: str | None = None,
    event_place: str | None = None,
    changed_at: str | None = None,
    event_end: str | None = None,
    event_sequence: int | None = None,
) -> str:
    """Tell a participant what happened to their participation or to the event, once.

    Reloads the rows, so the message reflects the state after the change. A deleted event is gone by the time this
    runs: its cancellation request carries ``event_title``, ``event_start``, ``event_end`` (ISO 8601),
    ``event_place`` and ``event_sequence`` (of the cancellation) instead; any other email about a deleted event ends
    without sending.
    """
    if notification_type not in NOTIFICATION_TYPES:
        log.error("unknown event notification type %r", notification_type)
        return "skipped: unknown type"
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        return "skipped: no such active user"
    preference = PREFERENCE.get(notification_type)
    if preference and not allows(user, preference):
        return f"skipped: {preference} turned off"
    event = db.session.get(Event, event_id)
    participation = None
    if event is not None:
        participation = db.session.scalar(
            sa.select(EventParticipant).where(
                EventParticipant.event_id == event.id, EventParticipant.user_id == user.id
            )
        )
    if notification_type == "event_cancelled":
        if event is None and event_title is None:
            return "skipped: event gone"
        ids: tuple = (event_id,)
    else:
        if event is None:
            return "skipped: event gone"
        if participation is None or participation.status not in EXPECTED_STATUS[notification_type]:
            return "skipped: participation changed meanwhile"
        if notification_type == "event_changed":
            ids = (event_id, _stamp(changed_at or event.updated_at))
        else:
            ids = (event_id, _stamp(participation.registered_at))

    if event is not None:
        title, when, place = event.title, format_when(event.start_date, event.end_date), place_of(event)
        link, location_link = event_url(event.id), map_url(event)
    else:
        start = dt.datetime.fromisoformat(event_start) if event_start else None
        title, when, place = event_title, format_when(start) if start else "", event_place or ""
        link, location_link = "", ""
    status = participation.status if participation is not None else None
    subject, intro, closing, invite = _wording(notification_type, status, title)
    text, html = mail.render(
        "event_notification",
        subject=subject,
        name=user.first_name or user.username,
        intro=intro,
        closing=closing,
        title=title,
        when=when,
        place=place,
        map_url=location_link,
        event_url=link,
    )
    if notification_type == "event_cancelled":
        entry = (
            ical.Entry.of(event)
            if event is not None
            else _deleted_event_entry(event_id, event_title, event_start, event_end, event_place, event_sequence)
        )
        attachments = (calendar_attachment(entry, user, ical.Method.CANCEL),) if entry is not None else ()
    elif invite:
        attachments = (calendar_attachment(ical.Entry.of(event), user, ical.Method.REQUEST),)
    else:
        attachments = ()
    message = mail.Message(
        key=mail.delivery_key(f"event_{notification_type}", *ids, recipient=user.email),
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
    )
    return "sent" if mail.send(message) else "skipped: already delivered"


# --- organizers' messages -------------------------------------------------------------------------------------


@jobs.job(queue=jobs.EMAILS, timeout=3600)
def send_event_message_emails(message_id: int) -> dict[str, Any]:
    """Email an organizers' message to each person it was addressed to, once, over one SMTP connection.

    It goes to every active person addressed, whatever their notification preferences: the organizers wrote to the
    people of their event, as they would by phone. People already sent it are left out by the query itself.
    """
    message = db.session.get(EventMessage, message_id)
    if message is None:
        return {"skipped": "message gone", "sent": 0}
    event = message.event
    kind = "event_message"
    key = sa.literal(f"{kind}:{message.id}:") + sa.func.lower(sa.func.trim(User.email))
    already = sa.exists().where(mail.EmailDelivery.key == key)
    people = db.session.execute(
        sa.select(User.email, User.first_name, User.username)
        .join(EventMessageRecipient, EventMessageRecipient.user_id == User.id)
        .where(EventMessageRecipient.message_id == message.id, User.is_active.is_(True), ~already)
        .order_by(User.id)
    ).all()
    sender = message.sent_by.full_name if message.sent_by is not None else "A organização"
    subject = f"{message.subject} — {event.title}"
    common = {
        "subject": subject,
        "sender": sender,
        "message_subject": message.subject,
        "paragraphs": [part.strip() for part in message.body.replace("\r\n", "\n").split("\n\n") if part.strip()],
        "title": event.title,
        "when": format_when(event.start_date, event.end_date),
        "place": place_of(event),
        "event_url": event_url(event.id),
    }
    db.session.rollback()  # no transaction stays open while talking to SMTP

    def messages():
        for person in people:
            text, html = mail.render("event_message", name=person.first_name or person.username, **common)
            yield mail.Message(
                key=mail.delivery_key(kind, message_id, recipient=person.email),
                to=person.email,
                subject=subject,
                text=text,
                html=html,
            )

    result = mail.send_bulk(messages())
    return {"sent": result.sent, "skipped": result.skipped, "rejected": result.rejected}


# --- reminders -------------------------------------------------------------------------------------------------


def _reminder_wording(kind: str, event: Event) -> tuple[str, str]:
    local_start = to_local(event.start_date)
    if kind == "2h":
        return (
            f"Daqui a pouco: {event.title} começa às {local_start:%H:%M}",
            "Falta pouco! O mutirão em que você está inscrito começa em cerca de 2 horas.",
        )
    return (
        f"Lembrete: {event.title} — {local_start:%d/%m} às {local_start:%H:%M}",
        "Lembrete: o mutirão em que você está inscrito acontece nas próximas 24 horas.",
    )


@jobs.job(queue=jobs.EMAILS, timeout=3600)
def send_bulk_event_reminders(event_id: int, reminder: str = "24h") -> dict[str, Any]:
    """Remind every confirmed participant who allows ``event_reminders``, over one SMTP connection in batches.

    Participants already reminded (their delivery key exists) are left out by the query itself, so the hourly run
    costs little for an event reminded before; the delivery claim still guarantees one reminder per person.
    """
    if reminder not in REMINDERS:
        raise ValueError(f"unknown reminder {reminder!r}")
    event = db.session.get(Event, event_id)
    if event is None or event.status != EventStatus.PUBLISHED or event.start_date <= utcnow():
        return {"skipped": "event gone, not published or already started", "sent": 0}
    kind = f"reminder_{reminder}"
    key = sa.literal(f"{kind}:{event.id}:") + sa.func.lower(sa.func.trim(User.email))
    already = sa.exists().where(mail.EmailDelivery.key == key)
    people = db.session.execute(
        sa.select(User.id, User.email, User.first_name, User.username, User.notification_preferences, User.is_active)
        .join(EventParticipant, EventParticipant.user_id == User.id)
        .where(
            EventParticipant.event_id == event.id, EventParticipant.status == ParticipationStatus.CONFIRMED, ~already
        )
        .order_by(EventParticipant.id)
    ).all()
    subject, intro = _reminder_wording(reminder, event)
    common = {
        "subject": subject,
        "intro": intro,
        "closing": "Leve água, protetor solar e o que o organizador pediu. Não esqueça de fazer o check-in no local!",
        "title": event.title,
        "when": format_when(event.start_date, event.end_date),
        "place": place_of(event),
        "map_url": map_url(event),
        "event_url": event_url(event.id),
    }
    # releases the rows' snapshot before the long send; the job holds no transaction while talking to SMTP
    db.session.rollback()

    def messages():
        for person in people:
            if not allows(person, "event_reminders"):
                continue
            text, html = mail.render("event_notification", name=person.first_name or person.username, **common)
            yield mail.Message(
                key=mail.delivery_key(kind, event_id, recipient=person.email),
                to=person.email,
                subject=subject,
                text=text,
                html=html,
            )

    result = mail.send_bulk(messages())
    return {"sent": result.sent, "skipped": result.skipped, "rejected": result.rejected}


def reminder_window(reminder: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Events whose start falls in (lower, upper] get this reminder now. The 24 h reminder leaves the last 2 hours to
    the 2 h one, so an event created at short notice is not reminded twice in a row."""
    if reminder == "2h":
        return now, now + REMINDERS["2h"]
    return now + REMINDERS["2h"], now + REMINDERS["24h"]


@jobs.job(queue=jobs.PERIODIC, timeout=300)
def send_due_event_reminders(reminder: str = "24h") -> dict[str, Any]:
    """The periodic entry: request the bulk reminder of every published event starting within the window."""
    if reminder not in REMINDERS:
        raise ValueError(f"unknown reminder {reminder!r}")
    lower, upper = reminder_window(reminder, utcnow())
    event_ids = list(
        db.session.scalars(
            sa.select(Event.id)
            .where(Event.status == EventStatus.PUBLISHED, Event.start_date > lower, Event.start_date <= upper)
            .order_by(Event.start_date)
        )
    )
    for event_id in event_ids:
        jobs.request("send_bulk_event_reminders", event_id=event_id, reminder=reminder)
    db.session.commit()
    return {"reminder": reminder, "events": event_ids}


# --- clean-up steps (named in mutiroes.jobs.cleanup.CLEANUP_STEPS) ---------------------------------------------


def complete_ended_events(now: dt.datetime) -> int:
    """Published events whose end has passed become completed; their organizers' badges are checked."""

    rows = db.session.execute(
        sa.update(Event)
        .where(Event.status == EventStatus.PUBLISHED, Event.end_date < now)
        .values(status=EventStatus.COMPLETED, updated_at=now)
        .returning(Event.id, Event.organizer_id)
        .execution_options(synchronize_session=False)
    ).all()
    for organizer_id in sorted({row.organizer_id for row in rows}):
        jobs.request("check_and_award_badges", user_id=organizer_id)
    return len(rows)


def delete_stale_drafts(now: dt.datetime) -> int:
    """Drafts whose start passed more than 30 days ago are deleted (with their participations)."""
    stale = sa.select(Event.id).where(Event.status == EventStatus.DRAFT, Event.start_date < now - DRAFT_RETENTION)
    # participations, co-organizers and messages first: explicit, because SQLite does not enforce ON DELETE CASCADE
    # without a pragma
    service.purge_dependents(stale)
    return db.session.execute(
        sa.delete(Event)
        .where(Event.status == EventStatus.DRAFT, Event.start_date < now - DRAFT_RETENTION)
        .execution_options(synchronize_session=False)
    ).rowcount
