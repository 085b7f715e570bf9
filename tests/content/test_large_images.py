"""Avatars and covers past 12 megapixels are scaled down on upload; event photos keep their size."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mutiroes.platform import images as stored_images
from tests import images
from tests.content.conftest import upload


def stored(app, url: str) -> Path:
    return Path(app.config["MUTIROES"].media_root) / url.split("/media/", 1)[1]


@pytest.mark.parametrize(
    ("target", "data", "size", "content_type"),
    [
        ("cover", images.large_jpeg(), (4800, 3200), "image/jpeg"),
        ("avatar", images.large_png(), (4200, 3000), "image/png"),
    ],
)
def test_a_cover_or_an_avatar_past_12_megapixels_is_scaled_down_keeping_its_shape(
    app, client, scene, clean_media, target, data, size, content_type
):
    where = {
        "cover": (f"/api/events/{scene.event_id}/cover/", "cover_image", "cover_image_url"),
        "avatar": ("/api/users/profile/avatar/", "avatar", "avatar_url"),
    }
    url, field, answer = where[target]
    response = upload(client, url, scene.organizer_headers, data, field=field, content_type=content_type, method="put")
    assert response.status_code == 200, response.get_json()
    with Image.open(stored(app, response.get_json()[answer])) as image:
        width, height = image.size
    assert width * height <= stored_images.DISPLAY_MAX_PIXELS
    assert width * height > stored_images.DISPLAY_MAX_PIXELS * 0.95  # as large as fits, not a thumbnail
    assert abs(width / height - size[0] / size[1]) < 0.01


def test_an_event_photo_keeps_its_size(app, client, scene, clean_media):
    response = upload(
        client,
        f"/api/events/{scene.event_id}/photos/",
        scene.participant_headers,
        images.large_jpeg(),
        content_type="image/jpeg",
    )
    assert response.status_code == 201, response.get_json()
    with Image.open(stored(app, response.get_json()["photo"])) as image:
        assert image.size == (4800, 3200)
