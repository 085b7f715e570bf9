import io
from pathlib import Path

import pytest
from PIL import Image

from tests import images
from tests.conftest import bearer


def media_files(app) -> list[Path]:
    root = Path(app.config["MUTIROES"].media_root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def clean_media(app):
    for path in media_files(app):
        path.unlink()
    yield
    for path in media_files(app):
        path.unlink()


def upload(client, headers, data: bytes, filename="foto.png", content_type="image/png", field="avatar"):
    body, mimetype = images.multipart(field, data, filename, content_type)
    return client.put("/api/users/profile/avatar/", data=body, headers=headers, content_type=mimetype)


def test_png_named_txt_is_accepted_by_content_and_served(client, app, auth_headers, clean_media):
    response = upload(client, auth_headers, images.png_bytes(), filename="foto.txt", content_type="text/plain")
    assert response.status_code == 200, response.get_json()
    url = response.get_json()["avatar_url"]
    assert url.startswith("http://localhost/media/avatars/") and url.endswith(".png")
    assert "foto" not in url
    with client.get(url.replace("http://localhost", "")) as served:
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(served.data)).size == (64, 48)
    assert len(media_files(app)) == 1


def test_gps_exif_is_stripped_on_upload(client, app, auth_headers, clean_media):
    original = images.jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(images.GPS_IFD)
    response = upload(client, auth_headers, original, filename="praia.jpg", content_type="image/jpeg")
    assert response.status_code == 200
    (stored,) = media_files(app)
    data = stored.read_bytes()
    assert b"Exif" not in data and b"CameraDeTeste" not in data
    with Image.open(stored) as reopened:
        assert reopened.format == "JPEG"
        assert not reopened.getexif().get_ifd(images.GPS_IFD)
        assert len(reopened.getexif()) == 0


def test_webp_is_accepted(client, auth_headers, clean_media):
    response = upload(client, auth_headers, images.webp_bytes(), filename="x.webp", content_type="image/webp")
    assert response.status_code == 200
    assert response.get_json()["avatar_url"].endswith(".webp")


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (images.gif_bytes(), 415),
        (b"%PDF-1.4 not an image at all", 415),
        (b"just some text", 415),
        (images.truncated_png(), 400),
        (images.png_bomb(), 400),
        (images.png_over_40_megapixels(), 400),
    ],
    ids=["gif", "pdf", "text", "truncated-png", "bomb", "42-megapixels"],
)
def test_refused_images_leave_no_file_and_do_not_change_the_profile(
    client, app, auth_headers, clean_media, payload, status
):
    response = upload(client, auth_headers, payload, content_type="image/png")
    assert response.status_code == status
    body = response.get_json()
    assert ("avatar" in body) if status == 400 else set(body) == {"detail"}
    assert media_files(app) == []
    assert client.get("/api/users/profile/", headers=auth_headers).get_json()["avatar_url"] is None
    # the worker that refused it still answers
    assert client.get("/liveness/").status_code == 200


def test_image_over_the_upload_limit_is_413(client, app, auth_headers, clean_media):
    big = images.png_bytes() + b"\0" * (10 * 1024 * 1024)
    response = upload(client, auth_headers, big)
    assert response.status_code == 413
    assert set(response.get_json()) == {"detail"}
    assert media_files(app) == []


def test_missing_file_or_json_body_is_400(client, auth_headers, clean_media):
    response = client.put("/api/users/profile/avatar/", json={"avatar": "x"}, headers=auth_headers)
    assert response.status_code == 400
    assert "avatar" in response.get_json()


def test_new_avatar_replaces_and_removes_the_old_file(client, app, make_user, login, clean_media):
    headers = bearer(login(make_user()))
    first = upload(client, headers, images.png_bytes()).get_json()["avatar_url"]
    second = upload(client, headers, images.png_bytes(color=(1, 2, 3))).get_json()["avatar_url"]
    assert first != second
    (stored,) = media_files(app)
    assert second.endswith(stored.name)


def test_avatar_upload_requires_login(client, clean_media, app):
    response = upload(client, {}, images.png_bytes())
    assert response.status_code == 401
    assert media_files(app) == []
