import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from mutiroes.events import exports
from mutiroes.events.models import EventParticipant
from mutiroes.models import db
from mutiroes.users.models import User


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
