"""nginx/nginx.conf for real, in front of a live replica: host names, body limits, /health/, security headers.

The gateway's own host is 127.0.0.1 here (unlimited.conf); 127.0.0.2 stands for any other client.
"""

from __future__ import annotations

import http.client
import json

import pytest

from tests.services import Nginx

OUTSIDE = "127.0.0.2"


@pytest.fixture(scope="module")
def gateway(live_servers):
    instance = Nginx.create(live_servers[0].removeprefix("http://"))
    yield instance
    instance.destroy()


def call(gateway, method, path, *, body=b"", headers=None, host=None, source_ip="127.0.0.1"):
    """One request on its own connection → (status, headers as a list of pairs, parsed JSON or raw bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=15, source_address=(source_ip, 0))
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders(body or None)
        response = conn.getresponse()
        raw = response.read()
        is_json = (response.getheader("Content-Type") or "").startswith("application/json")
        return response.status, response.getheaders(), json.loads(raw) if is_json and raw else raw
    finally:
        conn.close()


def header_values(headers, name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def test_an_unknown_host_is_dropped_without_an_answer_and_the_known_names_are_served(gateway):
    for host in ("evil.example", f"evil.example:{gateway.port}", "127.0.0.2"):
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            call(gateway, "GET", "/api/events/categories/", host=host)
    # an empty or missing Host is not HTTP/1.1: nginx answers 400 itself, no replica sees it
    for host in ("", None):
        assert call(gateway, "GET", "/api/events/categories/", host=host)[0] == 400
    for host in (f"127.0.0.1:{gateway.port}", f"localhost:{gateway.port}", "localhost"):
        status, _headers, body = call(gateway, "GET", "/api/events/categories/", host=host)
        assert status == 200 and isinstance(body, list), host


def test_a_json_body_past_64_kib_is_refused_by_nginx_with_413_json(gateway):
    host = f"127.0.0.1:{gateway.port}"
    big = json.dumps({"title": "x" * 70_000}).encode()
    status, headers, body = call(
        gateway, "POST", "/api/events/", body=big, headers={"Content-Type": "application/json"}, host=host
    )
    assert status == 413
    assert body == {"detail": "O corpo da requisição é grande demais."}
    assert header_values(headers, "X-Content-Type-Options") == ["nosniff"]
    # 64 KiB and under pass nginx: the replica answers (401 here: no token, checked before the body)
    small = json.dumps({"title": "x" * 60_000}).encode()
    status, _headers, _body = call(
        gateway, "POST", "/api/events/", body=small, headers={"Content-Type": "application/json"}, host=host
    )
    assert status == 401


@pytest.mark.parametrize(
    ("method", "path", "size"),
    [
        ("POST", "/api/events/1/photos/", 2 * 1024 * 1024),
        ("PUT", "/api/events/1/cover", 2 * 1024 * 1024),
        ("PUT", "/api/users/profile/avatar/", 2 * 1024 * 1024),
        ("PUT", "/api/events/1/", 512 * 1024),
    ],
)
def test_upload_routes_and_an_event_sent_back_may_carry_larger_bodies(gateway, method, path, size):
    headers = {"Content-Type": "multipart/form-data; boundary=x" if size > 1024 * 1024 else "application/json"}
    status, _headers, _body = call(gateway, method, path, body=b"0" * size, headers=headers, host="localhost")
    assert status == 401  # through nginx to the replica, which wants a token first


def test_uploads_past_the_upload_limit_are_refused_by_nginx(gateway):
    status, _headers, body = call(
        gateway,
        "POST",
        "/api/events/1/photos/",
        body=b"0" * (12 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        host="localhost",
    )
    assert status == 413 and body == {"detail": "O corpo da requisição é grande demais."}


def test_the_replicas_health_answers_only_the_gateways_own_host(gateway):
    for path in ("/health/", "/api/health/", "/api/health"):
        status, _headers, body = call(gateway, "GET", path, host="localhost")
        assert status == 200 and "replica" in body and "checks" in body, path
        status, headers, body = call(gateway, "GET", path, host="localhost", source_ip=OUTSIDE)
        assert status == 404 and body == {"detail": "Não encontrado."}, path
        assert header_values(headers, "X-Frame-Options") == ["DENY"]
    # nginx's own /health (is the gateway up) and the readiness of the replicas stay open
    assert call(gateway, "GET", "/health", host="localhost", source_ip=OUTSIDE)[0] == 200
    status, _headers, body = call(gateway, "GET", "/readiness/", host="localhost", source_ip=OUTSIDE)
    assert status == 200 and "replica" not in body


def test_security_headers_are_sent_once_whoever_answers(gateway):
    for path in ("/api/events/categories/", "/api/nao-existe/", "/health", "/api/docs/"):
        _status, headers, _body = call(gateway, "GET", path, host="localhost")
        for name, value in (
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ):
            assert header_values(headers, name) == [value], (path, name)
        assert len(header_values(headers, "Content-Security-Policy")) == 1, path
    _status, headers, _body = call(gateway, "GET", "/api/docs/", host="localhost")
    assert "script-src 'self' 'sha256-" in header_values(headers, "Content-Security-Policy")[0]
