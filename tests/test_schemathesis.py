"""The whole API against its own OpenAPI document: schemathesis drives a live gunicorn replica on the test
PostgreSQL with a real token, and the run fails on any 5xx and on any response the document does not describe.

Bounded: a fixed number of examples per operation and a fixed seed (override with MUTIROES_SCHEMATHESIS_SEED and
MUTIROES_SCHEMATHESIS_EXAMPLES to explore further), so `make test` stays reproducible and takes well under a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests import images
from tests.events.conftest import event_payload

CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
        "unsupported_method",
    ]
)


def _register_and_login(base: str, username: str) -> str:
    password = "fuzz-mutirao-2026"
    email = f"{username}@example.org"
    registered = requests.post(
        f"{base}/api/users/register/",
        json={"username": username, "email": email, "password": password, "password_confirm": password},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    tokens = requests.post(f"{base}/api/token/", json={"email": email, "password": password}, timeout=10)
    return tokens.json()["access"]


def _post(url: str, headers: dict, body: dict | None = None) -> int:
    response = requests.post(url, json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_api_conforms_to_its_openapi_document(live_servers, tmp_path):
    base = live_servers[0]
    token = _register_and_login(base, "fuzzer")
    other = _register_and_login(base, "outra-pessoa")
    mine, theirs = {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {other}"}
    # real rows for the path ids: events of the fuzzing user and of someone else, joined both ways
    event_ids, participation_ids = [], []
    for i in range(6):
        own = _post(f"{base}/api/events/", mine, event_payload(max_participants=2, requires_approval=i % 2 == 0))
        foreign = _post(f"{base}/api/events/", theirs, event_payload(max_participants=2))
        event_ids += [own, foreign]
        participation_ids.append(_post(f"{base}/api/events/{own}/join/", theirs))
        participation_ids.append(_post(f"{base}/api/events/{foreign}/join/", mine))
    # event content on those events: comments (with replies), resources, photos
    comment_ids, resource_ids, photo_ids = [], [], []
    png, mimetype = images.multipart("photo", images.png_bytes(), "foto.png", "image/png")
    for event_id, owner in zip(event_ids, [mine, theirs] * 6, strict=True):
        comment = _post(f"{base}/api/events/{event_id}/comments/", owner, {"content": "Vou levar luvas."})
        reply = _post(f"{base}/api/events/{event_id}/comments/", owner, {"content": "Eu também.", "parent": comment})
        comment_ids += [comment, reply]
        resource_ids.append(
            _post(f"{base}/api/events/{event_id}/resources/", owner, {"name": "Pás", "quantity_needed": 5})
        )
        photo = requests.post(
            f"{base}/api/events/{event_id}/photos/", data=png, headers={**owner, "Content-Type": mimetype}, timeout=10
        )
        assert photo.status_code == 201, photo.text
        photo_ids.append(photo.json()["id"])
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"[dictionaries.event_ids]\nvalues = {event_ids}\n"
        f"[dictionaries.participation_ids]\nvalues = {participation_ids}\n"
        f"[dictionaries.comment_ids]\nvalues = {comment_ids}\n"
        f"[dictionaries.resource_ids]\nvalues = {resource_ids}\n"
        f"[dictionaries.photo_ids]\nvalues = {photo_ids}\n"
        "[parameters]\n"
        '"path.event_id" = { dictionary = "event_ids", probability = 0.8 }\n'
        '"path.pid" = { dictionary = "participation_ids", probability = 0.8 }\n'
        '"path.comment_id" = { dictionary = "comment_ids", probability = 0.8 }\n'
        '"path.resource_id" = { dictionary = "resource_ids", probability = 0.8 }\n'
        '"path.photo_id" = { dictionary = "photo_ids", probability = 0.8 }\n'
        '"path.username" = { dictionary = "usernames", probability = 0.5 }\n'
        '[dictionaries.usernames]\nvalues = ["fuzzer", "outra-pessoa"]\n'
    )
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{base}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        os.environ.get("MUTIROES_SCHEMATHESIS_EXAMPLES", "30"),
        "--seed",
        os.environ.get("MUTIROES_SCHEMATHESIS_SEED", "20261129"),
        "--no-shrink",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "passed" in result.stdout
