"""Request ids and the access log: every request has an id, nginx's ``X-Request-Id`` when sane or one made here.

The id is answered in the ``X-Request-Id`` header (errors, 404 and 405 included), carried by every log line written
while the request runs (``platform.logs`` holds it in a context variable), stored with every job the request causes
(``jobs.dispatch`` reads it there), and ends the request with one access line: method, route, status, duration_ms,
user_id. The response cache's hits, answered before Flask's dispatch (``web.fastpath``), do the same through
``incoming_or_new`` and ``log_access``.
"""

from __future__ import annotations

import logging
import os
import re
import time

from flask import Flask, Response, g, request

from mutiroes.platform import logs
from mutiroes.web import auth

HEADER = "X-Request-Id"
# echoed in a header and written in log lines, so only what is safe in both is taken (nginx's own is 32 hex digits)
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# asked every few seconds by Consul and Prometheus: their lines are DEBUG, so that INFO shows the traffic
PROBE_ROUTES = frozenset({"/liveness/", "/readiness/", "/api/liveness/", "/api/readiness/", "/metrics"})

access_log = logging.getLogger("mutiroes.access")


def incoming_or_new(value: str | None) -> str:
    """The caller's request id when it is sane, else a new one."""
    if value is not None and SANE_REQUEST_ID.fullmatch(value):
        return value
    return os.urandom(16).hex()  # 32 hex digits, like nginx's $request_id


def init_app(app: Flask) -> None:
    """Give each request its id before any other hook runs (one may answer at once), and log it after all of them."""
    app.before_request(_begin)
    app.after_request(_answer_and_log)
    app.teardown_request(_end)


def _begin() -> None:
    g.mutiroes_request_began = time.perf_counter()
    g.mutiroes_request_id_token = logs.set_request_id(incoming_or_new(request.headers.get(HEADER)))


def _answer_and_log(response: Response) -> Response:
    response.headers[HEADER] = logs.current_request_id()
    log_access(
        method=request.method,
        path=request.path,
        route=request.url_rule.rule if request.url_rule is not None else None,
        status=response.status_code,
        duration_ms=round((time.perf_counter() - g.mutiroes_request_began) * 1000, 1),
        user_id=auth.caller_id(),
    )
    return response


def log_access(*, method: str, path: str, route: str | None, status: int, duration_ms: float, user_id: int | None):
    """The access line of one request (inside its request id: ``logs.request_id_bound``)."""
    level = logging.DEBUG if route in PROBE_ROUTES else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    # the record is made here rather than by ``access_log.log``, which walks the stack for the caller's file and
    # line (no line shows them): every cache hit writes this line, and that walk was a tenth of a hit's Python
    record = access_log.makeRecord(
        access_log.name,
        level,
        __file__,
        0,
        "%s %s %s in %.1f ms",
        (method, path, status, duration_ms),
        None,
        extra={
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": user_id,
        },
    )
    access_log.handle(record)


def _end(_error: BaseException | None) -> None:
    token = g.pop("mutiroes_request_id_token", None)
    if token is not None:
        logs.reset_request_id(token)
