"""Fixtures for the event-content tests: events, people in every role, uploads, and snapshots of rows and files."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from mutiroes.content.models import EventComment, EventPhoto, EventResource, ResourcePledge
from mutiroes.events.models import Event
from mutiroes.models import db
from tests import images
from tests.events import conftest as events_fixtures

# the events tests' factories, shared
make_event = events_fixtures.make_event
user_with_token = events_fixtures.user_with_token
event_row = events_fixtures.event_row
team = events_fixtures.team


def media_files(app) -> set[Path]:
    root = Path(app.config["MUTIROES"].media_root)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def clean_media(app):
    for path in media_files(app):
        path.unlink()
    yield
    for path in media_files(app):
        path.unlink()


@pytest.fixture
def scene(make_event, user_with_token, client):
    """An organizer's published event, a confirmed participant and an unrelated user, each with a token."""

    class Scene:
        pass

    s = Scene()
    s.organizer, s.organizer_headers = user_with_token(first_name="Olga", last_name="Organizadora")
    s.participant, s.participant_headers = user_with_token(first_name="Paulo", last_name="Participante")
    s.stranger, s.stranger_headers = user_with_token(first_name="Sara", last_name="Estranha")
    s.event_id = make_event(organizer=s.organizer)
    joined = client.post(f"/api/events/{s.event_id}/join/", headers=s.participant_headers)
    assert joined.status_code == 201 and joined.get_json()["status"] == "confirmed"
    return s


def upload(
    client,
    url,
    headers,
    data: bytes,
    *,
    field="photo",
    filename="foto.png",
    content_type="image/png",
    form: dict | None = None,
    method="post",
):
    """A multipart request with one file part (encoded by hand) and optional plain form fields."""
    body, mimetype = images.multipart(field, data, filename, content_type)
    if form:
        boundary = mimetype.split("boundary=", 1)[1]
        extra = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in form.items()
        )
        body = extra + body
    return getattr(client, method)(url, data=body, headers=headers, content_type=mimetype)


@pytest.fixture
def content_state(app):
    """Everything the content endpoints may change: their rows, the events' covers, and the files on disk."""

    def read():
        with app.app_context():
            state = {
                "comments": db.session.execute(
                    sa.select(EventComment.id, EventComment.content, EventComment.parent_id).order_by(EventComment.id)
                ).all(),
                "photos": db.session.execute(sa.select(EventPhoto.id, EventPhoto.photo).order_by(EventPhoto.id)).all(),
                "resources": db.session.execute(
                    sa.select(
                        EventResource.id,
                        EventResource.name,
                        EventResource.description,
                        EventResource.resource_type,
                        EventResource.quantity_needed,
                        EventResource.quantity_provided,
                        EventResource.unit,
                    ).order_by(EventResource.id)
                ).all(),
                "pledges": db.session.execute(
                    sa.select(ResourcePledge.id, ResourcePledge.quantity).order_by(ResourcePledge.id)
                ).all(),
                "covers": db.session.execute(sa.select(Event.id, Event.cover_image).order_by(Event.id)).all(),
            }
            db.session.remove()
        state["files"] = sorted(str(p) for p in media_files(app))
        return state

    return read
