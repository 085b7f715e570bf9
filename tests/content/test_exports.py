import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from mutiroes.events import exports, ical
from mutiroes.events.jobs import calendar_invite
from mutiroes.events.models import Event, EventParticipant
from mutiroes.models import db
from mutiroes.users.models import User

START = dt.datetime(2031, 3, 8, 12, 30, tzinfo=dt.UTC)


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_ical_export_is_one_vevent_in_utc(client, make_event, user_with_token):
    organizer, _headers = user_with_token()
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
    raw = response.data.decode("utf-8")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))
    lines = unfold(raw)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert lines.count("BEGIN:VEVENT") == 1
    assert f"UID:event-{event_id}@mutiroes" in lines
    assert "DTSTART:20310308T123000Z" in lines and "DTEND:20310308T153000Z" in lines
    assert any(line.startswith("DTSTAMP:") and line.endswith("Z") for line in lines)
    assert "SUMMARY:Limpeza da Praia\\, Santos\\; edição de março" in lines
    assert "LOCATION:Av. Bartolomeu de Gusmão\\, 1\\, Santos - SP" in lines
    assert "GEO:-23.971200;-46.333900" in lines
    assert f"URL:http://localhost:3000/events/{event_id}" in lines
    assert "DESCRIPTION:Traga água.\\nLuvas fornecidas: sim\\\\não" in lines


def test_ical_of_an_event_the_caller_may_not_see_is_404(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    private = make_event(organizer=organizer, is_public=False)
    assert client.get(f"/api/events/{private}/ical/").status_code == 404
    assert client.get(f"/api/events/{private}/ical/", headers=headers).status_code == 200


def test_folding_never_splits_a_character_and_unfolds_to_the_original():
    summary = "Mutirão " + "ação ambiental çãõ " * 12
    body = ical.calendar(uid="x@y", start=START, end=START + dt.timedelta(hours=1), summary=summary).decode("utf-8")
    physical = body.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in physical)
    assert f"SUMMARY:{summary}" in unfold(body)


def test_control_characters_are_dropped_from_text_values():
    body = ical.calendar(uid="x@y", start=START, end=START, summary="a\x00b\x1bc\r\nd").decode()
    assert "SUMMARY:abc\\nd" in unfold(body)


def test_mail_attachments_use_the_same_builder(app):
    event = Event(id=1, title="A, B", description="", address="Praia", city="Santos", start_date=START, end_date=START)
    with app.app_context():
        attachment = calendar_invite(event)
    lines = unfold(attachment.content.decode())
    assert "SUMMARY:A\\, B" in lines and "UID:event-1@mutiroes" in lines and "LOCATION:Praia\\, Santos" in lines
    assert attachment.mimetype.startswith("text/calendar")


def set_profile(app, user_id, **fields):
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == user_id).values(**fields))
        db.session.commit()
        db.session.remove()


def test_participants_csv_for_the_organizer(app, client, scene, user_with_token):
    set_profile(app, scene.participant["id"], phone="+55 11 98765-4321", first_name='=HYPERLINK("x")', last_name="")
    attacker, attacker_headers = user_with_token(first_name="@SUM(1)", last_name="Júlia")
    client.post(
        f"/api/events/{scene.event_id}/join/",
        json={"emergency_contact": "Mãe;=cmd|' /C calc'!A0, +Pai", "emergency_phone": "11 5555-0000"},
        headers=attacker_headers,
    )
    with app.app_context():
        db.session.execute(
            sa.update(EventParticipant)
            .where(EventParticipant.user_id == scene.participant["id"])
            .values(checked_in=True, check_in_time=dt.datetime(2031, 3, 8, 12, 40, tzinfo=dt.UTC))
        )
        db.session.commit()
        db.session.remove()

    response = client.get(f"/api/events/{scene.event_id}/participants.csv", headers=scene.organizer_headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="mutirao-{scene.event_id}.csv"'
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == [
        "Nome",
        "E-mail",
        "Telefone",
        "Contato de emergência",
        "Telefone de emergência",
        "Status",
        "Check-in",
        "Horário do check-in",
    ]
    first, second = rows[1:]
    assert first == [
        '\'=HYPERLINK("x")',
        scene.participant["email"],
        "+55 11 98765-4321",  # a phone number cannot be a formula: kept readable
        "",
        "",
        "confirmado",
        "sim",
        "2031-03-08 09:40",  # server time zone (America/Sao_Paulo)
    ]
    assert second[0] == "'@SUM(1) Júlia" and second[1] == attacker["email"]
    # a spreadsheet splitting the cell at ";" or "," finds a quote before every formula
    assert second[3:7] == ["Mãe;'=cmd|' /C calc'!A0, '+Pai", "11 5555-0000", "confirmado", "não"]
    # the trailing-slash form answers the same
    assert (
        client.get(f"/api/events/{scene.event_id}/participants.csv/", headers=scene.organizer_headers).data
        == response.data
    )


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("+55 11 91234-5678", "+55 11 91234-5678"),
        ("(11) 91234-5678", "(11) 91234-5678"),
        ("-Maria", "'-Maria"),
        ("=1+1", "'=1+1"),
        ('Ana;=HYPERLINK("x")', 'Ana;\'=HYPERLINK("x")'),
        ("Ana,@SUM(A1)", "Ana,'@SUM(A1)"),
        ("Ana, -2+3", "Ana, '-2+3"),
        ("\t=1", "'\t=1"),
        ("Ana; Bia, Carla", "Ana; Bia, Carla"),
        ("+55 11 9;=2", "'+55 11 9;'=2"),
    ],
)
def test_csv_cells_are_neutralised_wherever_a_spreadsheet_could_start_a_formula(typed, written):
    assert exports.csv_safe(typed) == written


def test_participants_csv_is_the_organizers_and_staffs_alone(app, client, scene, user_with_token):
    for headers in (scene.participant_headers, scene.stranger_headers):
        response = client.get(f"/api/events/{scene.event_id}/participants.csv", headers=headers)
        assert response.status_code == 403 and set(response.get_json()) == {"detail"}
    assert client.get(f"/api/events/{scene.event_id}/participants.csv").status_code == 401
    staff, staff_headers = user_with_token(is_staff=True)
    assert client.get(f"/api/events/{scene.event_id}/participants.csv", headers=staff_headers).status_code == 200
