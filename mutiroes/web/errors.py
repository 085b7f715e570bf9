"""The one error handler: every error leaves in the contract's DRF shape, never as HTML or a traceback.

- 400: ``{"<field>": ["message", ...], "non_field_errors": [...]}``
- everything else: ``{"detail": "message"}`` (401 may add ``"code"``), with ``Retry-After`` on 429 and 503.
- a database that fails mid-request is a 503 with Retry-After, like an open circuit; never a 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from mutiroes.errors import DEFAULT_DETAILS, NON_FIELD_ERRORS, APIError
from mutiroes.platform import database
from mutiroes.platform.circuit import DependencyUnavailable

log = logging.getLogger(__name__)

# where webargs puts the messages of each part of a request it parsed
_LOCATIONS = frozenset(
    {"json", "query", "form", "files", "multipart", "headers", "path", "view_args", "json_or_form", "querystring"}
)


def flatten_messages(messages) -> dict[str, list[str]]:
    """Turn webargs/marshmallow messages (``{"json": {"field": [...]}}``) into the DRF shape."""
    if isinstance(messages, list | str):
        return {NON_FIELD_ERRORS: _as_list(messages)}
    flat: dict[str, list] = {}
    if messages and set(messages) <= _LOCATIONS:
        for location_messages in messages.values():
            for field_name, field_messages in flatten_messages(location_messages).items():
                flat.setdefault(field_name, []).extend(field_messages)
        return flat
    for key, value in messages.items():
        name = NON_FIELD_ERRORS if key in ("_schema", "") else str(key)
        if isinstance(value, dict) and name != NON_FIELD_ERRORS:
            # nested or per-index errors: keep their structure under the field, as DRF does
            flat[name] = [value]
        else:
            flat.setdefault(name, []).extend(_as_list(value))
    return flat


def _as_list(value) -> list:
    if isinstance(value, list):
        return [v if isinstance(v, dict) else str(v) for v in value]
    return [str(value)]


def _response(status: int, body: dict, headers: dict[str, str] | None = None):
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_api_error(error: APIError):
    return _response(error.status_code, error.body(), error.headers)


def render_http_exception(error: HTTPException):
    status = error.code or 500
    headers: dict[str, str] = {}
    for name, value in error.get_headers():
        if name.lower() in {"allow", "retry-after", "www-authenticate"}:
            headers[name] = value
    data = getattr(error, "data", None) or {}
    headers.update(data.get("headers") or {})
    if status in (400, 422) and ("messages" in data or "errors" in data):
        return _response(400, flatten_messages(data.get("errors") or data.get("messages")), headers)
    if status == 400:
        return _response(400, {NON_FIELD_ERRORS: [data.get("message") or DEFAULT_DETAILS[400]]}, headers)
    if status in (429, 503) and "Retry-After" not in headers:
        headers["Retry-After"] = "5"
    detail = data.get("message") or DEFAULT_DETAILS.get(status) or HTTPStatus(status).phrase
    return _response(status, {"detail": detail}, headers)


def render_database_error(error: Exception):
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
    return render_api_error(DependencyUnavailable("database", database.retry_after_failure()))


def render_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _response(500, {"detail": DEFAULT_DETAILS[500]})


def init_app(app: Flask) -> None:
    app.register_error_handler(APIError, render_api_error)
    app.register_error_handler(HTTPException, render_http_exception)
    for error_class in database.TRANSIENT_ERRORS:
        app.register_error_handler(error_class, render_database_error)
    app.register_error_handler(Exception, render_unexpected)
