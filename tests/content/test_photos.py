import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from mutiroes.content import service
from mutiroes.content.models import EventPhoto
from mutiroes.errors import NotFound
from mutiroes.events.models import Event, EventParticipant
from mutiroes.models import db
from mutiroes.users.models import User
from tests import images
from tests.content.conftest import media_files, upload


def photos_url(event_id, photo_id=None):
    base = f"/api/events/{event_id}/photos/"
    return f"{base}{photo_id}/" if photo_id else base


def photo_rows(app):
    with app.app_context():
        rows = db.session.execute(sa.select(EventPhoto.id, EventPhoto.photo).order_by(EventPhoto.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def stored_path(app, url: str) -> Path:
    relative = url.split("/media/", 1)[1]
    return Path(app.config["MUTIROES"].media_root) / relative


def test_confirmed_participant_uploads_a_photo_with_its_fields(app, client, scene, clean_media):
    response = upload(
        client,
        photos_url(scene.event_id),
        scene.participant_headers,
        images.png_bytes(),
        filename="antes.txt",
        content_type="text/plain",
        form={"caption": "Praia antes do mutirão", "is_before": "true"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["caption"] == "Praia antes do mutirão"
    assert body["is_before"] is True and body["is_after"] is False
    assert body["user_name"] == "Paulo Participante" and body["user_id"] == scene.participant["id"]
    assert body["photo"].startswith("http://localhost/media/events/photos/") and body["photo"].endswith(".png")
    assert "antes" not in body["photo"]
    with client.get(body["photo"].replace("http://localhost", "")) as served:
        assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    assert media_files(app) == {stored_path(app, body["photo"])}

    page = client.get(photos_url(scene.event_id)).get_json()
    assert page["count"] == 1 and page["results"][0]["id"] == body["id"]
    assert client.get(photos_url(scene.event_id) + "?is_after=true").get_json()["count"] == 0


def test_organizer_uploads_too(client, scene, clean_media):
    response = upload(
        client,
        photos_url(scene.event_id),
        scene.organizer_headers,
        images.webp_bytes(),
        content_type="image/webp",
        form={"is_after": "1"},
    )
    assert response.status_code == 201
    assert response.get_json()["is_after"] is True and response.get_json()["photo"].endswith(".webp")


def test_gps_exif_is_gone_from_a_stored_photo(app, client, scene, clean_media):
    original = images.jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(images.GPS_IFD)
    response = upload(
        client,
        photos_url(scene.event_id),
        scene.participant_headers,
        original,
        filename="praia.jpg",
        content_type="image/jpeg",
    )
    assert response.status_code == 201
    (stored,) = media_files(app)
    data = stored.read_bytes()
    assert b"Exif" not in data and b"CameraDeTeste" not in data
    with Image.open(stored) as reopened:
        assert reopened.format == "JPEG"
        assert not reopened.getexif().get_ifd(images.GPS_IFD)
        assert len(reopened.getexif()) == 0


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (images.gif_bytes(), 415),
        (b"%PDF-1.4 not an image at all", 415),
        (images.truncated_png(), 400),
        (images.png_bomb(), 400),
        (images.png_over_40_megapixels(), 400),
        (images.png_bytes() + b"\0" * (10 * 1024 * 1024), 413),
    ],
    ids=["gif", "pdf", "truncated-png", "decompression-bomb", "42-megapixels", "over-10-MB"],
)
def test_refused_photos_store_nothing(app, client, scene, clean_media, payload, status):
    response = upload(client, photos_url(scene.event_id), scene.participant_headers, payload)
    assert response.status_code == status
    body = response.get_json()
    assert ("photo" in body) if status == 400 else set(body) == {"detail"}
    assert media_files(app) == set()
    assert photo_rows(app) == []
    assert client.get("/liveness/").status_code == 200


@pytest.mark.parametrize(
    "form",
    [{"is_before": "true", "is_after": "true"}, {"caption": "x" * 301}, {"is_before": "talvez"}, {"extra": "1"}],
    ids=["before-and-after", "long-caption", "bad-boolean", "unknown-field"],
)
def test_bad_photo_fields_are_400_and_store_nothing(app, client, scene, clean_media, form):
    response = upload(client, photos_url(scene.event_id), scene.participant_headers, images.png_bytes(), form=form)
    assert response.status_code == 400
    assert media_files(app) == set() and photo_rows(app) == []


def test_a_missing_file_or_a_text_field_named_photo_is_400(app, client, scene, clean_media):
    assert (
        client.post(photos_url(scene.event_id), json={"photo": "x"}, headers=scene.participant_headers).status_code
        == 400
    )
    response = client.post(
        photos_url(scene.event_id),
        data={"photo": "not a file"},
        headers=scene.participant_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "photo" in response.get_json()
    assert media_files(app) == set()


def test_unconfirmed_people_cannot_upload_and_leave_no_file(app, client, scene, user_with_token, clean_media):
    _waiting, waiting_headers = user_with_token()
    with app.app_context():
        db.session.execute(sa.update(Event).where(Event.id == scene.event_id).values(requires_approval=True))
        db.session.commit()
        db.session.remove()
    assert client.post(f"/api/events/{scene.event_id}/join/", headers=waiting_headers).get_json()["status"] == "pending"
    for headers in (scene.stranger_headers, waiting_headers):
        response = upload(client, photos_url(scene.event_id), headers, images.png_bomb())
        assert response.status_code == 403  # refused before the image is even read
    assert upload(client, photos_url(scene.event_id), {}, images.png_bytes()).status_code == 401
    assert media_files(app) == set() and photo_rows(app) == []


def test_uploader_or_organizer_deletes_and_the_file_goes(app, client, scene, clean_media):
    first = upload(client, photos_url(scene.event_id), scene.participant_headers, images.png_bytes()).get_json()
    second = upload(client, photos_url(scene.event_id), scene.participant_headers, images.png_bytes()).get_json()
    assert len(media_files(app)) == 2
    assert client.delete(photos_url(scene.event_id, first["id"]), headers=scene.stranger_headers).status_code == 403
    assert len(media_files(app)) == 2
    assert client.delete(photos_url(scene.event_id, first["id"]), headers=scene.participant_headers).status_code == 204
    assert client.delete(photos_url(scene.event_id, second["id"]), headers=scene.organizer_headers).status_code == 204
    assert media_files(app) == set() and photo_rows(app) == []
    assert client.delete(photos_url(scene.event_id, second["id"]), headers=scene.organizer_headers).status_code == 404


def test_a_failed_database_write_removes_the_stored_file(app, client, scene, clean_media):
    """The row cannot be written (the CHECK refuses before-and-after, bypassing the schema): no orphan file."""

    class FakeUpload:
        def __init__(self, data):
            self.stream = io.BytesIO(data)

    with app.test_request_context(), app.app_context():
        user = db.session.get(User, scene.participant["id"])
        with pytest.raises(sa.exc.IntegrityError):
            service.add_photo(
                event_id=scene.event_id,
                user=user,
                upload=FakeUpload(images.png_bytes()),
                is_before=True,
                is_after=True,
            )
        db.session.remove()
    assert media_files(app) == set() and photo_rows(app) == []


def cover_url(event_id):
    return f"/api/events/{event_id}/cover/"


def cover_of(app, event_id):
    with app.app_context():
        value = db.session.scalar(sa.select(Event.cover_image).where(Event.id == event_id))
        db.session.remove()
    return value


def test_organizer_replaces_the_cover_and_the_old_file_goes(app, client, scene, clean_media):
    first = upload(
        client,
        cover_url(scene.event_id),
        scene.organizer_headers,
        images.png_bytes(),
        field="cover_image",
        method="put",
    )
    assert first.status_code == 200, first.get_json()
    detail = first.get_json()
    assert detail["id"] == scene.event_id and detail["organizer"] == scene.organizer["username"]
    assert detail["cover_image_url"].startswith("http://localhost/media/events/covers/")
    old_file = stored_path(app, detail["cover_image_url"])
    assert media_files(app) == {old_file}

    second = upload(
        client,
        cover_url(scene.event_id),
        scene.organizer_headers,
        images.jpeg_with_gps(),
        field="cover_image",
        content_type="image/jpeg",
        method="put",
    )
    assert second.status_code == 200
    new_url = second.get_json()["cover_image_url"]
    assert new_url != detail["cover_image_url"] and new_url.endswith(".jpg")
    assert media_files(app) == {stored_path(app, new_url)}
    assert client.get(f"/api/events/{scene.event_id}/").get_json()["cover_image_url"] == new_url
    listed = client.get("/api/events/").get_json()["results"]
    assert [e["cover_image_url"] for e in listed if e["id"] == scene.event_id] == [new_url]


def test_cover_is_the_organizers_alone_and_bad_images_change_nothing(app, client, scene, clean_media):
    for headers in (scene.participant_headers, scene.stranger_headers):
        response = upload(
            client, cover_url(scene.event_id), headers, images.png_bytes(), field="cover_image", method="put"
        )
        assert response.status_code == 403
    for payload, status in ((images.gif_bytes(), 415), (images.png_bomb(), 400)):
        response = upload(
            client, cover_url(scene.event_id), scene.organizer_headers, payload, field="cover_image", method="put"
        )
        assert response.status_code == status
    assert media_files(app) == set() and cover_of(app, scene.event_id) is None


def test_deleting_an_event_removes_its_photos_and_cover_files(app, client, scene, clean_media):
    upload(client, photos_url(scene.event_id), scene.participant_headers, images.png_bytes())
    upload(
        client,
        cover_url(scene.event_id),
        scene.organizer_headers,
        images.png_bytes(),
        field="cover_image",
        method="put",
    )
    assert len(media_files(app)) == 2
    assert client.delete(f"/api/events/{scene.event_id}/", headers=scene.organizer_headers).status_code == 204
    assert media_files(app) == set() and photo_rows(app) == []


def test_an_event_deleted_during_the_upload_leaves_no_file_and_is_404(app, client, scene, clean_media):
    data = images.png_bytes()

    class DeletesTheEventWhileRead(io.BytesIO):
        def read(self, *args):
            with db.engine.begin() as other:  # another request deleting the event meanwhile
                other.execute(sa.delete(EventParticipant).where(EventParticipant.event_id == scene.event_id))
                other.execute(sa.delete(Event).where(Event.id == scene.event_id))
            return super().read(*args)

    class Upload:
        stream = DeletesTheEventWhileRead(data)

    with app.test_request_context(), app.app_context():
        user = db.session.get(User, scene.participant["id"])
        with pytest.raises(NotFound):
            service.add_photo(event_id=scene.event_id, user=user, upload=Upload())
        db.session.remove()
    assert media_files(app) == set() and photo_rows(app) == []
