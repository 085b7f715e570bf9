"""The one iCalendar (RFC 5545) builder: the per-event export and the invitations attached to emails both use it.

Text values are escaped (backslash, semicolon, comma, line breaks) and stripped of the control characters RFC 5545
forbids; every content line is folded at 75 octets without splitting a UTF-8 character; lines end in CRLF.
"""

from __future__ import annotations

import datetime as dt
import re

from mutiroes.timeutil import utcnow

PRODID = "-//Mutiroes//Mutiroes//PT-BR"
MAX_LINE_OCTETS = 75
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but HTAB and the line breaks handled below


def uid_for_event(event_id: int) -> str:
    """Stable across the export and every email, so calendars update one entry instead of adding another."""
    return f"event-{event_id}@mutiroes"


def stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into CRLF + space continuations of at most 75 octets each."""
    encoded = line.encode("utf-8")
    if len(encoded) <= MAX_LINE_OCTETS:
        return line
    pieces, current, size = [], [], 0
    limit = MAX_LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
            limit = MAX_LINE_OCTETS - 1  # continuation lines start with one space
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def calendar(
    *,
    uid: str,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    location: str = "",
    geo: tuple[float, float] | None = None,
    description: str = "",
    url: str = "",
    method: str = "PUBLISH",
    dtstamp: dt.datetime | None = None,
) -> bytes:
    """A VCALENDAR with one VEVENT, times in UTC, as UTF-8 bytes."""
    properties = [
        f"UID:{uid}",
        f"DTSTAMP:{stamp(dtstamp or utcnow())}",
        f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(end)}",
        f"SUMMARY:{escape_text(summary)}",
    ]
    if location:
        properties.append(f"LOCATION:{escape_text(location)}")
    if geo is not None:
        properties.append(f"GEO:{geo[0]:.6f};{geo[1]:.6f}")
    if description:
        properties.append(f"DESCRIPTION:{escape_text(description)}")
    if url:
        properties.append(f"URL:{_CONTROL.sub('', url).replace(chr(10), '').replace(chr(13), '')}")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        *properties,
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


def event_location(event) -> str:
    parts = [event.address, " - ".join(part for part in (event.city, event.state) if part)]
    return ", ".join(part for part in parts if part)


def event_url(event, site_url: str) -> str:
    return f"{site_url.rstrip('/')}/events/{event.id}"


def for_event(event, *, site_url: str, method: str = "PUBLISH") -> bytes:
    """The calendar entry of an event: what the export serves and what invitation emails attach."""
    return calendar(
        uid=uid_for_event(event.id),
        start=event.start_date,
        end=event.end_date,
        summary=event.title,
        location=event_location(event),
        geo=(event.latitude, event.longitude),
        description=event.description,
        url=event_url(event, site_url),
        method=method,
    )
