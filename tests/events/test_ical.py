"""The one iCal path (mutiroes.events.ical): the per-event export and the invitations emails attach, read back with
icalendar and with vobject (tests/calendars.py)."""

from __future__ import annotations

import datetime as dt

from mutiroes.events import ical
from tests.calendars import read

START = dt.datetime(2031, 3, 8, 12, 30, tzinfo=dt.UTC)


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_ical_export_is_one_vevent_in_utc_with_a_stable_uid(client, make_event, user_with_token):
    organizer, _headers = user_with_token(first_name="Olga", last_name="Organizadora")
    event_id = make_event(
        organizer=organizer,
        title="Limpeza da Praia, Santos; edição de março",
        description="Traga água.\nLuvas fornecidas: sim\\não",
        address="Av. Bartolomeu de Gusmão, 1",
        city="Santos",
        state="SP",
        latitude=-23.9712,
        longitude=-46.3339,
        start_date=START,
        end_date=START + dt.timedelta(hours=3),
    )
    response = client.get(f"/api/events/{event_id}/ical/")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == f'attachment; filename="mutirao-{event_id}.ics"'

    calendar = read(response.data)
    assert calendar.method == "PUBLISH"
    [event] = calendar.events
    assert event["uid"] == f"event-{event_id}@mutiroes"
    assert event["summary"] == "Limpeza da Praia, Santos; edição de março"
    assert event["description"] == "Traga água.\nLuvas fornecidas: sim\\não"
    assert event["location"] == "Av. Bartolomeu de Gusmão, 1, Santos - SP"
    assert event["start"] == START and event["end"] == START + dt.timedelta(hours=3)
    assert (event["sequence"], event["status"]) == (0, "CONFIRMED")
    assert event["url"] == f"http://localhost:3000/eventos/{event_id}"  # the same page the emails link to
    assert event["organizer_name"] == "Olga Organizadora" and event["attendees"] == []

    lines = unfold(response.data.decode())
    assert "DTSTART:20310308T123000Z" in lines and "DTEND:20310308T153000Z" in lines
    assert "SUMMARY:Limpeza da Praia\\, Santos\\; edição de março" in lines
    assert "GEO:-23.9712;-46.3339" in lines
    assert any(line.startswith("DTSTAMP:") and line.endswith("Z") for line in lines)


def test_ical_of_an_event_the_caller_may_not_see_is_404(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    private = make_event(organizer=organizer, is_public=False)
    assert client.get(f"/api/events/{private}/ical/").status_code == 404
    assert client.get(f"/api/events/{private}/ical/", headers=headers).status_code == 200


def test_long_text_folds_without_splitting_a_character_and_control_characters_are_dropped(
    client, make_event, user_with_token
):
    organizer, _headers = user_with_token()
    title = "Mutirão " + "ação ambiental çãõ " * 8
    event_id = make_event(organizer=organizer, title=title.strip(), description="a\x07b\x1bc\r\nd")
    body = client.get(f"/api/events/{event_id}/ical/").data
    [event] = read(body).events  # read() asserts every physical line is at most 75 octets
    assert event["summary"] == title.strip()
    assert event["description"] == "abc\nd"
    assert f"SUMMARY:{title.strip()}" in unfold(body.decode("utf-8"))


def test_an_invitation_names_its_one_attendee_and_carries_the_method(app):
    entry = ical.Entry(
        event_id=7,
        summary="Plantio, edição 2",
        start=START,
        end=START + dt.timedelta(hours=2),
        status="CONFIRMED",
        sequence=3,
        location="Parque, Recife - PE",
        organizer_name="Olga",
    )
    with app.app_context():
        request = ical.invitation(entry, method=ical.Method.REQUEST, email="ana@example.org", name="Ana Souza")
        cancel = ical.invitation(entry, method=ical.Method.CANCEL, email="ana@example.org", name="Ana Souza")
    invited, cancelled = read(request), read(cancel)
    assert invited.method == "REQUEST" and cancelled.method == "CANCEL"
    assert [e["uid"] for e in invited.events] == [e["uid"] for e in cancelled.events] == ["event-7@mutiroes"]
    assert invited.events[0]["status"] == "CONFIRMED" and cancelled.events[0]["status"] == "CANCELLED"
    assert invited.events[0]["attendees"] == ["mailto:ana@example.org"]
    assert invited.events[0]["organizer"] == "mailto:nao-responda@mutiroes.org.br"  # the no-reply address
    attendee = [line for line in unfold(request.decode()) if line.startswith("ATTENDEE")]
    assert len(attendee) == 1 and "PARTSTAT=ACCEPTED" in attendee[0] and "RSVP=FALSE" in attendee[0]
