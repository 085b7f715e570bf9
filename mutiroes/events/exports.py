"""The event's exports: one iCalendar event, and the participants as CSV for the organizer."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa

from mutiroes.events import access, ical
from mutiroes.events.models import EventParticipant, ParticipationStatus
from mutiroes.models import db
from mutiroes.schemas import PHONE_RE
from mutiroes.timeutil import to_local
from mutiroes.users.models import User


def ical_export(*, event_id: int, caller: User | None) -> bytes:
    event = access.get_visible(event_id, caller)
    return ical.export(event)


CSV_HEADER = (
    "Nome",
    "E-mail",
    "Telefone",
    "Contato de emergência",
    "Telefone de emergência",
    "Status",
    "Check-in",
    "Horário do check-in",
)
STATUS_LABELS = {
    ParticipationStatus.PENDING: "pendente",
    ParticipationStatus.CONFIRMED: "confirmado",
    ParticipationStatus.WAITLISTED: "lista de espera",
    ParticipationStatus.CANCELLED: "cancelado",
    ParticipationStatus.REJECTED: "recusado",
}
# A formula starts with one of these, at the start of the cell or of any part a spreadsheet may split it into: the
# Brazilian locale's spreadsheets split CSV at ";", others at ",".
_FORMULA_START = re.compile(r"(^|[;,])( *)(?=[=+\-@\t\r])")


def csv_safe(value: str) -> str:
    """A spreadsheet must never run what a participant typed: wherever a formula could start — the cell's start, or
    right after a ``;`` or ``,`` (and spaces) — a quote is put before it.

    A phone number (digits, spaces, ``+ ( ) -`` only, as the API accepts them) is kept as typed: nothing in it can
    call a function or reach outside the sheet, and ``+55 11 91234-5678`` stays readable."""
    if PHONE_RE.match(value):
        return value
    return _FORMULA_START.sub(r"\1\2'", value)


def participants_csv(*, event_id: int, caller: User) -> bytes:
    """Every participation of the event, for the organizer (and staff): UTF-8 with BOM so accents show."""
    event = access.get_managed(event_id, caller)
    rows = db.session.scalars(
        sa.select(EventParticipant)
        .where(EventParticipant.event_id == event.id)
        .order_by(EventParticipant.registered_at, EventParticipant.id)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for participation in rows:
        person = participation.user
        check_in_time = (
            to_local(participation.check_in_time).strftime("%Y-%m-%d %H:%M") if participation.check_in_time else ""
        )
        writer.writerow(
            [
                csv_safe(value)
                for value in (
                    person.full_name,
                    person.email,
                    person.phone,
                    participation.emergency_contact,
                    participation.emergency_phone,
                    STATUS_LABELS.get(participation.status, participation.status),
                    "sim" if participation.checked_in else "não",
                    check_in_time,
                )
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_filename(event_id: int, extension: str) -> str:
    return f"mutirao-{event_id}.{extension}"
