"""LGPD: a person exports everything held about them, and erases themself — in one transaction, files after commit,
past impact kept anonymous, what lies ahead undone (events cancelled with emails, spots handed on, pledges back)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from mutiroes.content.models import EventComment, EventPhoto, EventResource, ResourcePledge
from mutiroes.events.models import Event, EventCoOrganizer, EventParticipant
from mutiroes.impact.models import EventReport
from mutiroes.mail import EmailDelivery
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import AccountToken, AuthSession, User
from tests import images
from tests.conftest import bearer


def media_files(app) -> set[Path]:
    root = Path(app.config["MUTIROES"].media_root)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def multipart(client, method: str, url: str, headers: dict, field: str):
    body, mimetype = images.multipart(field, images.png_bytes(), "foto.png", "image/png")
    return getattr(client, method)(url, data=body, headers=headers, content_type=mimetype)


def token_for(client, user: dict) -> dict:
    response = client.post("/api/token/", json={"email": user["email"], "password": user["password"]})
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def life(jobs_client, jobs_app, make_user, make_event, join, work, sink):
    """Rita's life on the platform: a past event she attended (reported), one ahead she joined (full: Vera waits), one
    ahead she organizes (Caio joined), a comment with a reply by Caio, a photo, an avatar, pledges past and ahead."""
    for path in media_files(jobs_app):  # files of earlier tests
        path.unlink()
    rita = make_user(username="rita", first_name="Rita", last_name="Lopes", phone="(11) 98888-7777", bio="Bióloga.")
    olga, caio, vera = make_user(username="olga"), make_user(username="caio"), make_user(username="vera")
    rita_headers, caio_headers = bearer(token_for(jobs_client, rita)), bearer(token_for(jobs_client, caio))
    vera_headers = bearer(token_for(jobs_client, vera))
    now = utcnow()
    past = make_event(
        organizer=olga,
        start_date=now - dt.timedelta(days=2, hours=4),
        end_date=now - dt.timedelta(days=2),
        status="completed",
    )
    join(past, rita["id"], checked_in=True)
    olga_headers = bearer(token_for(jobs_client, olga))
    filed = jobs_client.post(f"/api/events/{past}/report/", json={"trash_collected_kg": 30}, headers=olga_headers)
    assert filed.status_code == 201
    ahead = make_event(organizer=olga, max_participants=1)
    joined = jobs_client.post(
        f"/api/events/{ahead}/join/",
        json={"emergency_contact": "Mãe da Rita", "emergency_phone": "(11) 3333-4444", "special_needs": "Asma"},
        headers=rita_headers,
    )
    assert joined.get_json()["status"] == "confirmed"
    assert jobs_client.post(f"/api/events/{ahead}/join/", headers=vera_headers).get_json()["status"] == "waitlisted"
    own = make_event(organizer=rita, title="Mutirão da Rita")
    helping = make_event(organizer=olga, title="Mutirão da Olga")
    added = jobs_client.post(f"/api/events/{helping}/organizers/", json={"user_id": rita["id"]}, headers=olga_headers)
    assert added.status_code == 201
    assert jobs_client.post(f"/api/events/{own}/join/", headers=caio_headers).status_code == 201

    comment = jobs_client.post(f"/api/events/{ahead}/comments/", json={"content": "Levo luvas!"}, headers=rita_headers)
    reply = jobs_client.post(
        f"/api/events/{ahead}/comments/",
        json={"content": "Ótimo", "parent": comment.get_json()["id"]},
        headers=caio_headers,
    )
    assert reply.status_code == 201
    assert multipart(jobs_client, "post", f"/api/events/{ahead}/photos/", rita_headers, "photo").status_code == 201
    assert multipart(jobs_client, "put", "/api/users/profile/avatar/", rita_headers, "avatar").status_code == 200
    resource = jobs_client.post(
        f"/api/events/{ahead}/resources/",
        json={"name": "Sacos", "quantity_needed": 10, "unit": "un"},
        headers=olga_headers,
    ).get_json()
    pledge = jobs_client.post(
        f"/api/events/{ahead}/resources/{resource['id']}/pledge/", json={"quantity": 4}, headers=rita_headers
    )
    assert pledge.status_code == 201
    with jobs_app.app_context():
        old = EventResource(event_id=past, name="Luvas", quantity_needed=5, quantity_provided=2)
        db.session.add(old)
        db.session.flush()
        db.session.add(ResourcePledge(resource_id=old.id, user_id=rita["id"], quantity=2))
        db.session.commit()
        db.session.remove()
    work()  # welcome emails, the report's statistics, the join emails
    sink.clear()
    return {
        "rita": rita,
        "rita_headers": rita_headers,
        "caio": caio,
        "vera": vera,
        "past": past,
        "ahead": ahead,
        "own": own,
        "helping": helping,
        "resource": resource["id"],
    }


def test_the_export_holds_everything_about_the_caller(jobs_client, life):
    assert jobs_client.get("/api/users/profile/export/").status_code == 401
    response = jobs_client.get("/api/users/profile/export/", headers=life["rita_headers"])
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {
        "generated_at",
        "profile",
        "email_verified_at",
        "hours",
        "participations",
        "events_organized",
        "comments",
        "photos",
        "pledges",
        "reports_filed",
        "badges",
        "emails",
        "sessions",
    }
    assert data["profile"]["user"]["email"] == "rita@example.org" and data["profile"]["phone"] == "(11) 98888-7777"
    assert data["profile"]["user"]["email_verified"] is True and data["email_verified_at"]
    assert data["profile"]["avatar_url"].startswith("http://localhost/media/avatars/")
    assert data["hours"] == {"total_hours_volunteered": 4.0, "total_events_participated": 1}
    by_event = {p["event"]: p for p in data["participations"]}
    assert by_event[life["past"]]["hours"] == 4.0 and by_event[life["past"]]["checked_in"] is True
    assert by_event[life["ahead"]]["emergency_contact"] == "Mãe da Rita" and by_event[life["ahead"]]["special_needs"]
    assert [e["title"] for e in data["events_organized"]] == ["Mutirão da Rita"]
    assert [c["content"] for c in data["comments"]] == ["Levo luvas!"]  # not Caio's reply
    assert len(data["photos"]) == 1 and data["photos"][0]["photo"].startswith("http://localhost/media/events/photos/")
    assert sorted((p["resource"], p["quantity"]) for p in data["pledges"]) == [("Luvas", 2), ("Sacos", 4)]
    assert data["reports_filed"] == []
    assert {b["name"] for b in data["badges"]} == {"Primeiro mutirão"}
    subjects = [e["subject"] for e in data["emails"]]
    assert "Boas-vindas ao Mutirões!" in subjects and any(s.startswith("Inscrição confirmada") for s in subjects)
    assert all(e["date"] and e["status"] == "sent" for e in data["emails"])
    assert len(data["sessions"]) == 1 and data["sessions"][0]["revoked_at"] is None


def test_erasing_needs_the_password(jobs_client, life):
    url = "/api/users/profile/"
    assert jobs_client.delete(url, json={"password": "caminhada-verde-42"}).status_code == 401
    assert jobs_client.delete(url, json={}).status_code == 401  # authentication before the body
    response = jobs_client.delete(url, json={}, headers=life["rita_headers"])
    assert response.status_code == 400 and list(response.get_json()) == ["password"]
    response = jobs_client.delete(url, json={"password": "errada-123"}, headers=life["rita_headers"])
    assert response.status_code == 400 and list(response.get_json()) == ["password"]
    assert jobs_client.get("/api/users/profile/", headers=life["rita_headers"]).status_code == 200
    for _ in range(4):
        jobs_client.delete(url, json={"password": "errada-123"}, headers=life["rita_headers"])
    assert jobs_client.delete(url, json={"password": "errada-123"}, headers=life["rita_headers"]).status_code == 429


def test_erasure_removes_the_person_keeps_past_impact_and_undoes_what_lies_ahead(
    jobs_client, jobs_app, life, work, sink
):
    rita = life["rita"]
    summary_before = jobs_client.get("/api/impact/summary/").get_json()
    files_before = media_files(jobs_app)
    assert len(files_before) == 2  # the photo and the avatar
    response = jobs_client.delete(
        "/api/users/profile/", json={"password": rita["password"]}, headers=life["rita_headers"]
    )
    assert response.status_code == 204 and response.data == b""

    with jobs_app.app_context():
        user = db.session.get(User, rita["id"])
        assert (user.first_name, user.last_name, user.phone, user.bio, user.birth_date, user.avatar) == (
            "",
            "",
            "",
            "",
            None,
            None,
        )
        assert "rita" not in user.username and "rita" not in user.email and user.email.endswith("@excluido.invalid")
        assert user.is_active is False and user.deleted_at is not None and user.full_name == "Conta excluída"
        assert db.session.scalars(sa.select(AuthSession).where(AuthSession.user_id == rita["id"])).all() == []
        assert db.session.scalars(sa.select(AccountToken).where(AccountToken.user_id == rita["id"])).all() == []
        assert db.session.scalars(sa.select(EmailDelivery).where(EmailDelivery.recipient == rita["email"])).all() == []
        assert db.session.scalars(sa.select(EventComment)).all() == []  # her comment, and the reply it carried
        assert db.session.scalars(sa.select(EventPhoto)).all() == []
        participations = {
            p.event_id: p
            for p in db.session.scalars(sa.select(EventParticipant).where(EventParticipant.user_id == rita["id"]))
        }
        # the past attendance stays, anonymous, with its hours; the spot ahead was handed on
        assert participations[life["past"]].hours == 4.0 and participations[life["past"]].checked_in
        assert participations[life["ahead"]].status == "cancelled"
        assert all(
            (p.emergency_contact, p.emergency_phone, p.special_needs) == ("", "", "") for p in participations.values()
        )
        vera = db.session.scalar(
            sa.select(EventParticipant).where(
                EventParticipant.event_id == life["ahead"], EventParticipant.user_id == life["vera"]["id"]
            )
        )
        assert vera.status == "confirmed"
        assert db.session.get(Event, life["own"]).status == "cancelled"
        # she no longer organizes Olga's event with her, which goes on
        assert db.session.scalars(sa.select(EventCoOrganizer).where(EventCoOrganizer.user_id == rita["id"])).all() == []
        assert db.session.get(Event, life["helping"]).status == "published"
        assert db.session.get(Event, life["past"]).status == "completed"
        resource = db.session.get(EventResource, life["resource"])
        assert resource.quantity_provided == 0
        pledges = db.session.scalars(sa.select(ResourcePledge).where(ResourcePledge.user_id == rita["id"])).all()
        assert [(p.quantity, p.resource.name) for p in pledges] == [(2, "Luvas")]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventReport)) == 1
        db.session.remove()
    assert media_files(jobs_app) == set()

    # login is impossible, and the tokens she held stopped working
    assert (
        jobs_client.post("/api/token/", json={"email": rita["email"], "password": rita["password"]}).status_code == 401
    )
    assert jobs_client.post("/api/token/", json={"username": "rita", "password": rita["password"]}).status_code == 401
    assert jobs_client.get("/api/users/profile/", headers=life["rita_headers"]).status_code == 401
    assert jobs_client.get("/api/users/profile/rita/").status_code == 404
    # the published impact is what it was
    assert jobs_client.get("/api/impact/summary/").get_json() == summary_before

    work()
    subjects = {m["To"]: m["Subject"] for m in sink.wait_for(2)}
    assert subjects["caio@example.org"] == "Evento cancelado: Mutirão da Rita"
    assert subjects["vera@example.org"].startswith("Abriu uma vaga para você")
    assert set(subjects) == {"caio@example.org", "vera@example.org"}
