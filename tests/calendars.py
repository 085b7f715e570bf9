"""Reading what we serve as iCalendar the way calendar apps do: with two independent parsers that must agree.

``icalendar`` is the library that writes our calendars; ``vobject`` is a separate implementation (its own lexer,
unfolding and unescaping), so a file only one of them accepts, or reads differently, fails here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import icalendar
import vobject


@dataclass(frozen=True)
class Calendar:
    method: str
    events: list[dict]


def _text(component, name: str) -> str:
    return str(component.get(name, ""))


def read(body: bytes) -> Calendar:
    """The calendar's METHOD and its VEVENTs as plain values; asserts both parsers read the same thing."""
    text = body.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "lines must end in CRLF"
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n")), "lines must fold at 75 octets"

    ours = icalendar.Calendar.from_ical(body)
    events = []
    for vevent in ours.walk("VEVENT"):
        events.append(
            {
                "uid": _text(vevent, "UID"),
                "summary": _text(vevent, "SUMMARY"),
                "description": _text(vevent, "DESCRIPTION"),
                "location": _text(vevent, "LOCATION"),
                "url": _text(vevent, "URL"),
                "status": _text(vevent, "STATUS"),
                "sequence": int(vevent.get("SEQUENCE", 0)),
                "start": vevent.decoded("DTSTART"),
                "end": vevent.decoded("DTEND"),
                "organizer": _text(vevent, "ORGANIZER"),
                "organizer_name": str(vevent["ORGANIZER"].params.get("CN", "")) if "ORGANIZER" in vevent else "",
                "attendees": [str(a) for a in _as_list(vevent.get("ATTENDEE"))],
            }
        )

    other = vobject.readOne(text)
    theirs = list(getattr(other, "vevent_list", []))
    assert len(theirs) == len(events)
    for mine, vevent in zip(events, theirs, strict=True):
        assert vevent.uid.value == mine["uid"]
        assert vevent.summary.value == mine["summary"]
        assert int(vevent.sequence.value) == mine["sequence"]
        assert vevent.status.value == mine["status"]
        assert vevent.dtstart.value == mine["start"] and vevent.dtstart.value.utcoffset() == dt.timedelta(0)
        assert vevent.dtend.value == mine["end"]
        if mine["description"]:
            assert vevent.description.value == mine["description"]
        if mine["location"]:
            assert vevent.location.value == mine["location"]
    method = str(ours.get("METHOD", ""))
    assert other.method.value == method
    return Calendar(method=method, events=events)


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def attached(message) -> list[tuple[str, bytes]]:
    """The calendar attachments of an email: (the ``method`` parameter of their Content-Type, bytes)."""
    return [
        (part.get_param("method"), part.get_payload(decode=True))
        for part in message.iter_attachments()
        if part.get_content_type() == "text/calendar"
    ]
