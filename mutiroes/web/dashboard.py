"""rq-dashboard mounted at ``/rq/`` of the API, for staff only (when Redis is configured).

Browsers cannot attach our bearer tokens to page loads, so the dashboard accepts HTTP Basic credentials of a staff
account (its e-mail or username and password, checked like a login and counted by the same login throttle), or a
staff bearer token for scripts. A successful Basic check is remembered for a minute per process, since the
dashboard polls its JSON endpoints every few seconds. Changing requests (requeue, delete) must come from the
dashboard's own pages (same Origin), because browsers resend Basic credentials on their own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, request, send_from_directory
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError
from rq_dashboard import web as rq_dashboard
from rq_dashboard.web import blueprint, setup_rq_connection

from mutiroes.jobs import queues
from mutiroes.platform.redis import worker_connection
from mutiroes.users import service

URL_PREFIX = "/rq"
REMEMBER_SECONDS = 60
REALM = 'Basic realm="Mutirões RQ dashboard", charset="UTF-8"'

_guard_installed = False
_remembered: dict[str, float] = {}
_remembered_lock = threading.Lock()


def init_app(app: Flask) -> None:
    settings = app.config["MUTIROES"]
    if not settings.uses_redis:
        return
    _install_guard(blueprint)
    # the dashboard reads jobs as our workers write them (JSON), through our connection (which follows Sentinel);
    # its own URL parsing only has to accept something
    rq_dashboard.config.serializer = queues.SERIALIZER
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", settings.redis_url or "redis://sentinel-managed/0")
    setup_rq_connection(app)
    app.redis_conn = worker_connection(settings)
    app.register_blueprint(blueprint, url_prefix=URL_PREFIX)
    if "static" not in app.view_functions:
        # the dashboard's page links its favicon through the app-wide "static" endpoint, which the API lacks
        static_folder = blueprint.static_folder
        app.add_url_rule(
            f"{URL_PREFIX}/assets/<path:filename>",
            endpoint="static",
            view_func=lambda filename: send_from_directory(static_folder, filename),
        )


def _install_guard(blueprint) -> None:
    global _guard_installed
    if not _guard_installed:
        blueprint.before_request(_staff_only)
        _guard_installed = True


def _deny(status: int, detail: str):
    response = jsonify(detail=detail)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return source is not None and urlsplit(source).netloc == request.host


def _staff_only():
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        allowed = _bearer_is_staff()
    elif authorization.startswith("Basic "):
        allowed = _basic_is_staff(authorization)
    else:
        return _deny(401, "As credenciais de autenticação não foram fornecidas.")
    if allowed is None:
        return _deny(401, "Credenciais inválidas.")
    if not allowed:
        return _deny(403, "Você não tem permissão para executar essa ação.")
    # rq-dashboard also requeues on GET /requeue/<queue>, so that endpoint counts as a change too
    changes = request.method not in {"GET", "HEAD", "OPTIONS"} or request.endpoint == "rq_dashboard.requeue_all"
    if changes and authorization.startswith("Basic ") and not _same_origin():
        return _deny(403, "Requisição de outra origem recusada.")
    return None


def _bearer_is_staff() -> bool | None:
    try:
        verify_jwt_in_request()
    except (JWTExtendedException, PyJWTError):
        return None
    return bool(current_user and current_user.is_staff)


def _basic_is_staff(authorization: str) -> bool | None:
    try:
        identifier, _, password = base64.b64decode(authorization[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    fingerprint = hashlib.sha256((current_app.config["SECRET_KEY"] + "\0" + authorization).encode()).hexdigest()
    now = time.monotonic()
    with _remembered_lock:
        if _remembered.get(fingerprint, 0) > now:
            return True
    # past the login throttle's limit this raises Throttled: 429 with Retry-After, like the login itself
    user = service.verify_credentials(identifier=identifier, password=password, client_ip=request.remote_addr or "")
    if user is None:
        return None
    if not user.is_staff:
        return False
    with _remembered_lock:
        for key in [k for k, until in _remembered.items() if until <= now]:
            del _remembered[key]
        _remembered[fingerprint] = now + REMEMBER_SECONDS
    return True
