"""Volunteer-hours certificates: who gets one, the PDF read back (pypdf) with its QR code decoded (zbarimg on the page
rendered by pdftoppm), and the public check by code."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from urllib.parse import urlsplit

import pypdf
import pytest
import sqlalchemy as sa

from mutiroes.events.models import Event
from mutiroes.impact.models import Certificate
from mutiroes.models import db
from mutiroes.timeutil import to_local, utcnow
from tests.conftest import bearer

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")), reason="needs poppler-utils and zbar-tools (make tools)"
)


def pdf_text(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def qr_codes(body: bytes, tmp_path) -> list[str]:
    """The QR codes zbar finds on the page, rendered at 150 dpi."""
    (tmp_path / "certificate.pdf").write_bytes(body)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", "certificate.pdf", "page"], cwd=tmp_path, check=True
    )
    found = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(tmp_path / "page.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", "localhost")
    return parts.path


@pytest.fixture
def finished(client, make_event, make_user, login, join, work):
    """Olga's finished 4-hour clean-up in Santos; the report states 5 volunteer-hours. Ana and Bruno checked in
    (2.5 h each), Carla was confirmed but absent. The report is filed over HTTP and a worker computes the hours."""
    olga = make_user(username="olga", first_name="Olga", last_name="Reis")
    ana = make_user(username="ana", first_name="Ana", last_name="Araújo Gonçalves")
    bruno, carla = make_user(username="bruno", first_name="Bruno"), make_user(username="carla", first_name="Carla")
    now = utcnow()
    event_id = make_event(
        organizer=olga,
        title="Limpeza da Praia do Gonzaga",
        address="Praia do Gonzaga",
        city="Santos",
        state="SP",
        start_date=now - dt.timedelta(days=2, hours=6),
        end_date=now - dt.timedelta(days=2, hours=2),
        status="completed",
    )
    ids = {
        "ana": join(event_id, ana["id"], checked_in=True),
        "bruno": join(event_id, bruno["id"], checked_in=True),
        "carla": join(event_id, carla["id"]),
    }
    olga_headers = bearer(login(olga))
    filed = client.post(f"/api/events/{event_id}/report/", json={"total_hours": 5}, headers=olga_headers)
    assert filed.status_code == 201, filed.get_json()
    work()
    return {
        "event_id": event_id,
        "start": now - dt.timedelta(days=2, hours=6),
        "participations": ids,
        "olga_headers": olga_headers,
        "headers": {name: bearer(login(user)) for name, user in (("ana", ana), ("bruno", bruno), ("carla", carla))},
    }


def test_a_verified_participation_has_a_certificate_whose_pdf_reads_back_and_whose_qr_opens_the_check(
    client, finished, tmp_path
):
    listed = client.get("/api/users/certificates/", headers=finished["headers"]["ana"])
    assert listed.status_code == 200, listed.get_json()
    [item] = listed.get_json()
    day = to_local(finished["start"]).date()
    assert item["participation_id"] == finished["participations"]["ana"]
    assert (item["event_title"], item["date"], item["hours"]) == ("Limpeza da Praia do Gonzaga", day.isoformat(), 2.5)
    code = item["code"]
    assert len(code) >= 43
    assert path_of(item["pdf_url"]) == f"/api/users/certificates/{item['participation_id']}.pdf"

    downloaded = client.get(path_of(item["pdf_url"]), headers=finished["headers"]["ana"])
    assert downloaded.status_code == 200
    assert downloaded.headers["Content-Type"] == "application/pdf"
    assert downloaded.data.startswith(b"%PDF-")
    text = pdf_text(downloaded.data)
    months = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro")
    months += ("novembro", "dezembro")
    for expected in (
        "CERTIFICADO DE VOLUNTARIADO",
        "Ana Araújo Gonçalves",
        "Limpeza da Praia do Gonzaga",
        "organizado por Olga Reis",
        f"{day.day} de {months[day.month - 1]} de {day.year}",
        "Praia do Gonzaga, Santos - SP",
        "com 2,5 horas de voluntariado",
        code,
    ):
        assert expected in text, (expected, text)

    [url] = qr_codes(downloaded.data, tmp_path)
    assert url == f"http://localhost/api/certificates/{code}/"
    checked = client.get(path_of(url))  # no login
    assert checked.status_code == 200
    assert checked.get_json() == {
        "valid": True,
        "name": "Ana Araújo Gonçalves",
        "event_title": "Limpeza da Praia do Gonzaga",
        "date": day.isoformat(),
        "hours": 2.5,
        "organizer_name": "Olga Reis",
    }
    assert client.get(path_of(url).rstrip("/")).get_json() == checked.get_json()
    # the same path with a trailing slash, and the same code on every listing
    assert client.get(path_of(item["pdf_url"]) + "/", headers=finished["headers"]["ana"]).status_code == 200
    assert client.get("/api/users/certificates/", headers=finished["headers"]["ana"]).get_json() == [item]


def test_only_checked_in_participations_with_verified_hours_have_one(
    client, app, make_event, user_with_token, join, finished
):
    carla = finished["headers"]["carla"]
    assert client.get("/api/users/certificates/", headers=carla).get_json() == []  # confirmed, never checked in
    absent = client.get(f"/api/users/certificates/{finished['participations']['carla']}.pdf", headers=carla)
    assert absent.status_code == 404 and "detail" in absent.get_json()

    # checked in at an event whose report is not filed yet: no verified hours, no certificate
    dora, dora_headers = user_with_token(first_name="Dora")
    unreported = make_event(start_date=utcnow() - dt.timedelta(hours=5), end_date=utcnow() - dt.timedelta(hours=1))
    pid = join(unreported, dora["id"], checked_in=True)
    assert client.get("/api/users/certificates/", headers=dora_headers).get_json() == []
    assert client.get(f"/api/users/certificates/{pid}.pdf", headers=dora_headers).status_code == 404
    assert client.get("/api/users/certificates/999999.pdf", headers=dora_headers).status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0
        db.session.remove()


def test_the_pdf_is_the_participants_alone(client, make_user, login, finished):
    """The authorization matrix of the download: only the participant; the organizing team and staff get 403."""
    ana_pid = finished["participations"]["ana"]
    co = make_user(first_name="Cora")
    added = client.post(
        f"/api/events/{finished['event_id']}/organizers/", json={"user_id": co["id"]}, headers=finished["olga_headers"]
    )
    assert added.status_code == 201, added.get_json()
    callers = {
        "anonymous": ({}, 401),
        "stranger": (bearer(login(make_user())), 403),
        "another participant": (finished["headers"]["bruno"], 403),
        "co-organizer": (bearer(login(co)), 403),
        "organizer": (finished["olga_headers"], 403),
        "staff": (bearer(login(make_user(is_staff=True))), 403),
        "participant": (finished["headers"]["ana"], 200),
    }
    for who, (headers, status) in callers.items():
        answer = client.get(f"/api/users/certificates/{ana_pid}.pdf", headers=headers)
        assert answer.status_code == status, who
        if status != 200:
            assert "detail" in answer.get_json(), who
    assert client.get("/api/users/certificates/").status_code == 401
    # the listing is always the caller's own
    assert client.get("/api/users/certificates/", headers=finished["olga_headers"]).get_json() == []


def test_codes_are_distinct_and_the_check_follows_the_participation(app, client, finished, work):
    ana, bruno = finished["headers"]["ana"], finished["headers"]["bruno"]
    [ana_item] = client.get("/api/users/certificates/", headers=ana).get_json()
    [bruno_item] = client.get("/api/users/certificates/", headers=bruno).get_json()
    assert ana_item["code"] != bruno_item["code"]
    check = f"/api/certificates/{ana_item['code']}/"

    # a changed report changes the hours the check states
    changed = client.patch(
        f"/api/events/{finished['event_id']}/report/", json={"total_hours": 3}, headers=finished["olga_headers"]
    )
    assert changed.status_code == 200
    work()
    assert client.get(check).get_json()["hours"] == 1.5

    # an event cancelled afterwards: the code still answers, as no longer valid, and the PDF is gone
    with app.app_context():
        db.session.execute(sa.update(Event).where(Event.id == finished["event_id"]).values(status="cancelled"))
        db.session.commit()
        db.session.remove()
    answer = client.get(check).get_json()
    assert answer["valid"] is False and answer["name"] == "Ana Araújo Gonçalves"
    assert client.get("/api/users/certificates/", headers=ana).get_json() == []
    assert client.get(f"/api/users/certificates/{ana_item['participation_id']}.pdf", headers=ana).status_code == 404

    for unknown in ("nao-existe", "x" * 65, ana_item["code"][:-1]):
        missing = client.get(f"/api/certificates/{unknown}/")
        assert missing.status_code == 404 and "detail" in missing.get_json()
