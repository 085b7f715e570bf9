"""How request bodies are read: the size a body may have, JSON that cannot hurt the parser, multipart forms.

- A body is refused with 413 before it is read when it is larger than its route allows: 64 KiB of JSON (every
  writable field at its maximum length fits, even at two bytes a character), 1 MiB where a client may send a large
  representation back (an event-detail, which embeds comments, photos, resources and participants), the upload
  limit (``MUTIROES_MAX_UPLOAD_BYTES`` plus 1 MiB of multipart framing, 11 MiB) on the upload routes. nginx applies
  the same limits (nginx/nginx.conf); the app applies them too, for the embedded mode and for anything that reaches
  a replica directly.
- An answer given before the body was read (a 401, 403 or 404 comes before the body, as DRF orders checks) still
  reads what is left of it: a server that closes the connection with the body still arriving makes nginx, still
  sending it, fail with a broken pipe, and the client would get 503 instead of its 401.
- JSON nested deeper than ``MAX_JSON_DEPTH`` (no body of the contract comes close) and JSON the parser itself gives
  up on (numbers with thousands of digits, nesting past Python's recursion limit) are a 400, never a 500.
- The ``multipart`` location gives one schema the files and the form fields of a multipart/form-data body, so a
  photo and its caption are validated (and documented) together.

Every blueprint of the API is a :class:`Blueprint` from here.
"""

from __future__ import annotations

import json

from flask import Flask, current_app, request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException

JSON_BODY_MAX_BYTES = 64 * 1024
REPRESENTATION_BODY_MAX_BYTES = 1024 * 1024
UPLOAD_FRAMING_BYTES = 1024 * 1024  # multipart boundaries and the form fields beside the file: 11 MiB as nginx
MAX_JSON_DEPTH = 32
UPLOAD = "upload"  # the body limit of the upload routes: the upload setting, read per request
_BODY_LIMIT = "_mutiroes_body_limit"
_UPLOAD_LOCATIONS = frozenset({"files", "multipart", "form"})

INVALID_JSON = "JSON inválido."
TOO_DEEP = f"JSON aninhado demais (no máximo {MAX_JSON_DEPTH} níveis)."


def nesting_exceeds(value, limit: int) -> bool:
    """Whether ``value`` holds objects or arrays more than ``limit`` levels deep (iterative: no recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class Parser(FlaskParser):
    __location_map__ = dict(multipart="load_multipart", **FlaskParser.__location_map__)

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        try:
            data = core.parse_json(req.get_data(cache=True))
        except json.JSONDecodeError:
            raise  # webargs answers these (an empty body is "no body")
        except (RecursionError, ValueError) as exc:
            # nesting past the interpreter's limit, or an integer with more digits than Python converts
            abort(400, exc=exc, messages={"json": [TOO_DEEP if isinstance(exc, RecursionError) else INVALID_JSON]})
        if nesting_exceeds(data, MAX_JSON_DEPTH):
            abort(400, messages={"json": [TOO_DEEP]})
        return data

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, exc=error, messages={"json": [INVALID_JSON]})

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.files, req.form]), schema)


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with our parser; a view that reads an upload gets the upload body limit."""

    ARGUMENTS_PARSER = Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def arguments(self, schema, *, location="json", **kwargs):
        decorate = super().arguments(schema, location=location, **kwargs)
        if location not in _UPLOAD_LOCATIONS:
            return decorate
        return lambda func: body_limit(UPLOAD)(decorate(func))


def body_limit(limit: int | str):
    """The largest body the decorated view accepts (bytes, or ``UPLOAD``); put it above ``@blp.arguments``."""

    def decorator(func):
        setattr(func, _BODY_LIMIT, limit)
        return func

    return decorator


def _handler():
    """The function that will answer this request (a MethodView's method, or the view function)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    method = request.method.lower()
    return getattr(view_class, method, None) or (getattr(view_class, "get", None) if method == "head" else None)


def _limit_body() -> None:
    limit = getattr(_handler(), _BODY_LIMIT, JSON_BODY_MAX_BYTES)
    if limit == UPLOAD:
        limit = current_app.config["MUTIROES"].max_upload_bytes + UPLOAD_FRAMING_BYTES
    # werkzeug refuses a longer Content-Length before reading, and stops a chunked body at the limit: 413 either way
    request.max_content_length = limit


def _drain_body(response):
    try:
        stream = request.stream  # bounded by the route's limit; already exhausted when the body was parsed
        while stream.read(64 * 1024):
            pass
    except (HTTPException, OSError, ValueError):
        pass  # past the limit (this answer is that 413), or the client went away
    return response


def init_app(app: Flask) -> None:
    app.before_request(_limit_body)
    app.after_request(_drain_body)
