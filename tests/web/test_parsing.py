"""Bodies that could hurt the parser: too large, too deep, too many items, numbers with too many digits."""

from __future__ import annotations

import json
import time

import pytest

from mutiroes.web import parsing
from tests import images
from tests.content.conftest import upload
from tests.events import conftest as events_fixtures
from tests.events.conftest import event_payload

make_event = events_fixtures.make_event
user_with_token = events_fixtures.user_with_token
TOO_LARGE = {"detail": "O corpo da requisição é grande demais."}


def raw_post(client, url, data: bytes, headers=None, method="post"):
    return getattr(client, method)(url, data=data, content_type="application/json", headers=headers or {})


def test_a_json_body_past_64_kib_is_413_before_anything_reads_it(client, auth_headers):
    body = json.dumps(event_payload(description="x" * parsing.JSON_BODY_MAX_BYTES)).encode()
    response = raw_post(client, "/api/events/", body, auth_headers)
    assert response.status_code == 413 and response.get_json() == TOO_LARGE
    # every writable field at its maximum fits, even at two bytes a character
    longest = event_payload(
        title="ã" * 200,
        description="ã" * 10000,
        address="ã" * 255,
        city="ã" * 100,
        required_tools="ã" * 5000,
        provided_tools="ã" * 5000,
        what_to_bring="ã" * 5000,
    )
    encoded = json.dumps(longest, ensure_ascii=False).encode()
    assert len(encoded) < parsing.JSON_BODY_MAX_BYTES
    assert raw_post(client, "/api/events/", encoded, auth_headers).status_code == 201
    # the same limit without a token
    assert raw_post(client, "/api/users/register/", body).status_code == 413


def test_an_event_sent_back_whole_may_be_larger_and_uploads_larger_still(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer)
    url = f"/api/events/{event_id}/"
    got = client.get(url, headers=headers).get_json()
    padded = {**got, "comments": [{"content": "x" * 2000} for _ in range(100)]}  # ~200 KB of read-only fields
    response = raw_post(client, url, json.dumps(padded).encode(), headers, method="put")
    assert response.status_code == 200, response.get_json()
    huge = {**got, "comments": ["x" * (parsing.REPRESENTATION_BODY_MAX_BYTES + 10)]}
    assert raw_post(client, url, json.dumps(huge).encode(), headers, method="put").status_code == 413
    # a cover of 2 MB is under the upload limit (here it is refused as an image, not as a body)
    cover = upload(
        client, f"/api/events/{event_id}/cover/", headers, b"\x89PNG\r\n\x1a\n" + b"0" * 2_000_000, method="put"
    )
    assert cover.status_code == 400 and "cover_image" in cover.get_json()


@pytest.mark.parametrize("depth", [parsing.MAX_JSON_DEPTH + 1, 5_000, 200_000])
def test_deeply_nested_json_is_400_not_500(client, auth_headers, depth):
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        body = (opening * depth + "1" + closing * depth).encode()
        started = time.monotonic()
        response = raw_post(client, "/api/users/profile/", body, auth_headers, method="patch")
        if len(body) > parsing.JSON_BODY_MAX_BYTES:
            assert response.status_code == 413
            continue
        assert response.status_code == 400, response.get_json()
        assert response.get_json() == {"non_field_errors": [parsing.TOO_DEEP]}
        assert time.monotonic() - started < 2


def test_json_the_parser_gives_up_on_is_400_in_portuguese(client, auth_headers):
    for body in (b'{"bio": ' + b"9" * 5000 + b"}", b"{not json", b'{"bio": "\xff"}'):
        response = raw_post(client, "/api/users/profile/", body, auth_headers, method="patch")
        assert response.status_code == 400
        assert response.get_json() == {"non_field_errors": [parsing.INVALID_JSON]}


def test_a_list_is_refused_by_its_length_before_its_items_are_read(client, auth_headers):
    for items in (51, 20_000):
        body = json.dumps({"interests": [1] * items}).encode()
        assert len(body) < parsing.JSON_BODY_MAX_BYTES
        started = time.monotonic()
        response = raw_post(client, "/api/users/profile/", body, auth_headers, method="patch")
        assert response.status_code == 400
        assert response.get_json() == {"interests": ["Use no máximo 50 itens."]}  # one message, not one per item
        assert time.monotonic() - started < 1
    ok = raw_post(client, "/api/users/profile/", json.dumps({"interests": [1, 2]}).encode(), auth_headers, "patch")
    assert ok.status_code == 200


def test_a_photo_may_be_as_large_as_the_upload_limit(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer)
    response = upload(client, f"/api/events/{event_id}/photos/", headers, images.png_bytes() + b"\0" * 300_000)
    assert response.status_code == 201, response.get_json()
