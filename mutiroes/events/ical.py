"""The one iCalendar (RFC 5545) path, built with the ``icalendar`` library: the per-event export, each person's
calendar feed, and the invitations that participation, change and cancellation emails attach.

Every event has one entry everywhere, so a calendar updates it instead of adding another:
- ``UID`` is ``event-<id>@mutiroes`` in the export, the feed and every email;
- ``SEQUENCE`` is the event's ``sequence``, raised whenever what the entry shows (:func:`shown`) changes;
- ``STATUS`` is ``CONFIRMED``, ``TENTATIVE`` (a draft) or ``CANCELLED``;
- the export and the feed are ``METHOD:PUBLISH``; emails carry ``METHOD:REQUEST`` (the entry, new or changed) or
  ``METHOD:CANCEL``, with the recipient as the one ``ATTENDEE`` (already accepted, no answer asked: RSVP=FALSE) and
  the platform's no-reply address as ``ORGANIZER``, named after the event's organizer, as RFC 5546 asks.

Times are UTC (no VTIMEZONE needed). Text is stripped of the control characters RFC 5545 forbids before the
library escapes it and folds lines at 75 octets.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

import icalendar
from flask import current_app

from mutiroes.events.models import Event, EventStatus
from mutiroes.timeutil import utcnow

PRODID = "-//Mutiroes//Mutiroes//PT-BR"
FEED_NAME = "Mutirões — meus eventos"
FEED_REFRESH = dt.timedelta(hours=1)  # how often a subscribed calendar should fetch the feed again
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but HTAB and the line breaks the library escapes

STATUS = {
    EventStatus.DRAFT: "TENTATIVE",
    EventStatus.PUBLISHED: "CONFIRMED",
    EventStatus.COMPLETED: "CONFIRMED",
    EventStatus.CANCELLED: "CANCELLED",
}


class Method(enum.StrEnum):
    PUBLISH = "PUBLISH"  # the export and the feed: entries to show
    REQUEST = "REQUEST"  # an email's invitation, new or updated
    CANCEL = "CANCEL"  # an email's cancellation


def uid_for_event(event_id: int) -> str:
    """Stable across the export, the feed and every email."""
    return f"event-{event_id}@mutiroes"


def event_url(event_id: int) -> str:
    """The event's page on the web frontend (``MUTIROES_SITE_URL``): in calendar entries and email links."""
    return f"{current_app.config['MUTIROES'].site_url}/eventos/{event_id}"


def place_of(event: Event) -> str:
    """The entry's LOCATION and the emails' "Onde" (``Event.place``)."""
    return event.place


def shown(event: Event) -> tuple:
    """What the calendar entry of an event shows; when this changes, ``sequence`` goes up."""
    return (
        event.title,
        event.description,
        place_of(event),
        event.latitude,
        event.longitude,
        event.start_date,
        event.end_date,
        STATUS[EventStatus(event.status)],
    )


@dataclass(frozen=True)
class Entry:
    """One VEVENT. Built from an event row, or from the snapshot a deletion leaves for its cancellation emails."""

    event_id: int
    summary: str
    start: dt.datetime
    end: dt.datetime
    status: str
    sequence: int
    location: str = ""
    description: str = ""
    geo: tuple[float, float] | None = None
    organizer_name: str = ""
    created: dt.datetime | None = None
    last_modified: dt.datetime | None = None

    @classmethod
    def of(cls, event: Event) -> Entry:
        return cls(
            event_id=event.id,
            summary=event.title,
            start=event.start_date,
            end=event.end_date,
            status=STATUS[EventStatus(event.status)],
            sequence=event.sequence or 0,
            location=place_of(event),
            description=event.description or "",
            geo=(event.latitude, event.longitude),
            organizer_name=event.organizer.full_name if event.organizer is not None else "",
            created=event.created_at,
            last_modified=event.updated_at,
        )


def _text(value: str) -> str:
    return _CONTROL.sub("", value or "")


def _organizer(name: str) -> icalendar.vCalAddress:
    _sender_name, address = parseaddr(current_app.config["MUTIROES"].mail_from)
    organizer = icalendar.vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = icalendar.vText(_text(name) or "Mutirões")
    return organizer


def _attendee(email: str, name: str) -> icalendar.vCalAddress:
    attendee = icalendar.vCalAddress(f"mailto:{email}")
    attendee.params["cn"] = icalendar.vText(_text(name) or email)
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "ACCEPTED"
    attendee.params["rsvp"] = "FALSE"
    return attendee


def _vevent(entry: Entry, *, method: Method, attendee: tuple[str, str] | None, stamp: dt.datetime):
    vevent = icalendar.Event()
    vevent.add("uid", uid_for_event(entry.event_id))
    vevent.add("dtstamp", stamp)
    vevent.add("sequence", entry.sequence)
    vevent.add("status", "CANCELLED" if method == Method.CANCEL else entry.status)
    vevent.add("dtstart", entry.start.astimezone(dt.UTC))
    vevent.add("dtend", entry.end.astimezone(dt.UTC))
    vevent.add("summary", _text(entry.summary))
    if entry.location:
        vevent.add("location", _text(entry.location))
    if entry.geo is not None:
        vevent.add("geo", entry.geo)
    if entry.description:
        vevent.add("description", _text(entry.description))
    vevent.add("url", event_url(entry.event_id))
    vevent.add("organizer", _organizer(entry.organizer_name))
    if attendee is not None:
        vevent.add("attendee", _attendee(*attendee))
    if entry.created is not None:
        vevent.add("created", entry.created.astimezone(dt.UTC))
    if entry.last_modified is not None:
        vevent.add("last-modified", entry.last_modified.astimezone(dt.UTC))
    return vevent


def _calendar(entries: Iterable[Entry], *, method: Method, attendee: tuple[str, str] | None = None, name: str = ""):
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method.value)
    if name:
        calendar.add("name", name)  # RFC 7986
        calendar.add("x-wr-calname", name)  # what most calendar apps read
        calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", icalendar.vDuration(FEED_REFRESH))  # the same, for Outlook
    stamp = utcnow().replace(microsecond=0)
    for entry in entries:
        calendar.add_component(_vevent(entry, method=method, attendee=attendee, stamp=stamp))
    return calendar.to_ical()


def export(event: Event) -> bytes:
    """The event's own ``.ics``: one VEVENT, METHOD:PUBLISH."""
    return _calendar([Entry.of(event)], method=Method.PUBLISH)


def feed(events: Iterable[Event]) -> bytes:
    """A person's calendar feed: one VEVENT per event, METHOD:PUBLISH, named and with a refresh interval."""
    return _calendar([Entry.of(event) for event in events], method=Method.PUBLISH, name=FEED_NAME)


def invitation(entry: Entry, *, method: Method, email: str, name: str) -> bytes:
    """What an email to one participant attaches: METHOD:REQUEST (the entry, new or updated) or METHOD:CANCEL."""
    if method == Method.PUBLISH:
        raise ValueError("an email carries REQUEST or CANCEL")
    return _calendar([entry], method=method, attendee=(email, name))
