"""Factories for the events tests: events straight into the database (any dates), payloads for the API."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from mutiroes.events.models import Event, EventParticipant
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from tests.conftest import bearer

# the real SMTP sink and burst RQ workers, for the tests of the events' emails (started only by the tests that ask)
from tests.jobs.conftest import jobs_app, sink, smtp_sink, work  # noqa: F401

_numbers = itertools.count(1)

SAO_PAULO = (-23.5505, -46.6333)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def event_payload(**overrides) -> dict:
    """A valid body for POST /api/events/ (starts in 3 days, lasts 3 hours)."""
    start = utcnow().replace(microsecond=0) + dt.timedelta(days=3)
    body = {
        "title": f"Mutirão de limpeza {next(_numbers)}",
        "description": "Limpeza da orla com coleta seletiva.",
        "category": 1,
        "address": "Av. Atlântica, 1000",
        "city": "Rio de Janeiro",
        "state": "RJ",
        "latitude": -22.9711,
        "longitude": -43.1822,
        "start_date": iso(start),
        "end_date": iso(start + dt.timedelta(hours=3)),
        "max_participants": 20,
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_event(app, make_user):
    """Insert an event directly (dates may be in the past); returns its id. ``organizer`` is a make_user dict."""

    def build(organizer: dict | None = None, **fields) -> int:
        organizer = organizer or make_user()
        start = fields.pop("start_date", utcnow() + dt.timedelta(days=2))
        values = {
            "title": f"Plantio de mudas {next(_numbers)}",
            "description": "Plantio de espécies nativas da Mata Atlântica.",
            "category_id": 2,
            "address": "Parque Ibirapuera",
            "city": "São Paulo",
            "state": "SP",
            "latitude": SAO_PAULO[0],
            "longitude": SAO_PAULO[1],
            "start_date": start,
            "end_date": fields.pop("end_date", start + dt.timedelta(hours=3)),
            "registration_deadline": fields.pop("registration_deadline", start),
            "max_participants": 10,
            "status": "published",
        }
        values.update(fields)
        with app.app_context():
            event = Event(organizer_id=organizer["id"], **values)
            db.session.add(event)
            db.session.commit()
            event_id = event.id
            db.session.remove()
        return event_id

    return build


@pytest.fixture
def participations(app):
    """Read the participations of an event: {user_id: status}."""

    def read(event_id: int) -> dict[int, str]:
        with app.app_context():
            rows = db.session.execute(
                db.select(EventParticipant.user_id, EventParticipant.status).where(
                    EventParticipant.event_id == event_id
                )
            ).all()
            db.session.remove()
        return dict(rows)

    return read


@pytest.fixture
def event_row(app):
    def read(event_id: int) -> Event | None:
        with app.app_context():
            event = db.session.get(Event, event_id)
            if event is not None:
                db.session.expunge(event)
            db.session.remove()
        return event

    return read


@pytest.fixture
def user_with_token(make_user, login):
    """A new user and their Authorization header: returns (user dict, headers)."""

    def build(**fields):
        user = make_user(**fields)
        return user, bearer(login(user))

    return build


@pytest.fixture
def team(client, make_event, user_with_token):
    """An event with everyone the authorization matrix names: its organizer, a co-organizer (added over the API), a
    confirmed participant, a stranger and a staff member, each with their Authorization header (``anonymous`` is
    ``{}``)."""

    class Team:
        anonymous: dict = {}

    t = Team()
    t.organizer, t.organizer_headers = user_with_token(first_name="Olga", last_name="Organizadora")
    t.co, t.co_headers = user_with_token(first_name="Cora", last_name="Coorganizadora")
    t.participant, t.participant_headers = user_with_token(first_name="Paulo", last_name="Participante")
    t.stranger, t.stranger_headers = user_with_token(first_name="Sara", last_name="Estranha")
    t.staff, t.staff_headers = user_with_token(first_name="Equipe", last_name="Mutirões", is_staff=True)
    t.event_id = make_event(organizer=t.organizer, title="Limpeza do Rio Capibaribe")
    added = client.post(
        f"/api/events/{t.event_id}/organizers/", json={"user_id": t.co["id"]}, headers=t.organizer_headers
    )
    assert added.status_code == 201, added.get_json()
    joined = client.post(f"/api/events/{t.event_id}/join/", headers=t.participant_headers)
    assert joined.status_code == 201 and joined.get_json()["status"] == "confirmed"
    t.participation_id = joined.get_json()["id"]
    t.callers = {
        "anonymous": t.anonymous,
        "stranger": t.stranger_headers,
        "participant": t.participant_headers,
        "co-organizer": t.co_headers,
        "organizer": t.organizer_headers,
        "staff": t.staff_headers,
    }
    return t
