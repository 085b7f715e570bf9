"""Cache hits answered before Flask's dispatch: a WSGI layer that knows the cacheable anonymous GETs.

A GET of the event list or of an event's detail without credentials is looked up in the response cache
(``web.cache``) with one Redis round trip. A hit is answered here from the stored bytes and headers — the same
ones the view made, CORS headers included — with what every answer carries: its request id (``X-Request-Id``, the
caller's when sane), ``X-Cache: hit``, its count and time in the request metrics, and its access line. A miss goes
through Flask like any request, with a ``cache.Slot`` in the WSGI environ holding the versions read before the view
ran; the view's 200 JSON answer is stored under them on the way out, marked ``X-Cache: miss``.

The cache key is the client-facing URL (scheme, host, path, query: the answers hold absolute links) and the
``Origin`` (CORS headers depend on it). Requests with anything else that changes the answer — credentials, a
private-network preflight header — are left to Flask, uncached.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from werkzeug.wsgi import get_host

from mutiroes.events.discovery import PARTICIPANT_ORDERINGS
from mutiroes.platform import logs, metrics
from mutiroes.web import cache, request_id

# headers of one answer only, never stored with it
PER_REQUEST_HEADERS = frozenset({request_id.HEADER.lower(), "x-cache"})
# request headers that change the answer, other than those of the key: such requests are not served from the cache
UNCACHED_REQUEST_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK")


def _list_dependencies(_match: re.Match, query: str) -> list[str]:
    orderings = urllib.parse.parse_qs(query).get("ordering", ())
    participants = any(ordering in PARTICIPANT_ORDERINGS for ordering in orderings)
    return [cache.ALL, cache.LISTS, *([cache.COUNTS] if participants else [])]


def _detail_dependencies(match: re.Match, _query: str) -> list[str]:
    return [cache.ALL, cache.event_key(int(match[1]))]


@dataclass(frozen=True)
class CachedRoute:
    rule: str  # Flask's rule: the route of the metrics and the access lines
    path: re.Pattern
    dependencies: Callable[[re.Match, str], list[str]]  # the versions an answer depends on before its view runs
    ttl: int


ROUTES = (
    CachedRoute("/api/events/", re.compile(r"/api/events/?"), _list_dependencies, cache.PAGE_TTL_SECONDS),
    CachedRoute(
        "/api/events/<id:event_id>/",
        re.compile(r"/api/events/([1-9][0-9]{0,17})/?"),
        _detail_dependencies,
        cache.DETAIL_TTL_SECONDS,
    ),
)


def _cached_route(environ: dict) -> tuple[CachedRoute, re.Match] | None:
    if environ["REQUEST_METHOD"] != "GET" or any(name in environ for name in UNCACHED_REQUEST_HEADERS):
        return None
    path = environ.get("PATH_INFO", "")
    for route in ROUTES:
        match = route.path.fullmatch(path)
        if match is not None:
            return route, match
    return None


def request_key(environ: dict) -> str:
    url = f"{environ['wsgi.url_scheme']}://{get_host(environ)}{environ.get('SCRIPT_NAME', '')}{environ['PATH_INFO']}"
    return f"{url}?{environ.get('QUERY_STRING', '')}|{environ.get('HTTP_ORIGIN', '')}"


class CacheLayer:
    """The WSGI app around Flask's: answers the cache's hits, stores the misses' answers."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response):
        cached = _cached_route(environ)
        if cached is None:
            return self.wsgi_app(environ, start_response)
        began = time.perf_counter()
        route, match = cached
        key = cache.entry_key(request_key(environ))
        found = cache.lookup(self.app, key, route.dependencies(match, environ.get("QUERY_STRING", "")))
        if found is None:  # the cache is unavailable: the view answers, and nothing is kept
            metrics.cache_result(route.rule, "unavailable").inc()
            slot = cache.Slot(key=key, versions={}, ttl=route.ttl, storable=False)
        elif found[0] is not None:
            return self._hit(environ, start_response, route, found[0], began)
        else:
            metrics.cache_result(route.rule, "miss").inc()
            slot = cache.Slot(key=key, versions=found[1], ttl=route.ttl)
        environ[cache.SLOT] = slot
        return self._miss(environ, start_response, slot)

    def _hit(self, environ: dict, start_response, route: CachedRoute, answer: cache.Answer, began: float):
        headers, body = answer
        answer_id = request_id.incoming_or_new(environ.get("HTTP_X_REQUEST_ID"))
        start_response("200 OK", [*headers, (request_id.HEADER, answer_id), ("X-Cache", "hit")])
        elapsed = time.perf_counter() - began
        metrics.cache_result(route.rule, "hit").inc()
        metrics.record("GET", route.rule, 200, elapsed)
        with logs.request_id_bound(answer_id):
            request_id.log_access(
                method="GET",
                path=environ["PATH_INFO"],
                route=route.rule,
                status=200,
                duration_ms=round(elapsed * 1000, 1),
                user_id=None,
            )
        return [body]

    def _miss(self, environ: dict, start_response, slot: cache.Slot):
        kept: list[tuple[str, str]] | None = None

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            nonlocal kept
            names = {name.lower(): value for name, value in headers}
            if status.startswith("200 ") and names.get("content-type", "").startswith("application/json"):
                if slot.storable and "set-cookie" not in names:
                    kept = [(name, value) for name, value in headers if name.lower() not in PER_REQUEST_HEADERS]
                headers = [*headers, ("X-Cache", "miss")]
            return start_response(status, headers, exc_info)

        answer = self.wsgi_app(environ, start)
        if kept is None:
            return answer
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        cache.keep(self.app, slot, kept, body)
        return [body]


def init_app(app: Flask) -> None:
    """Put the layer in front of Flask's dispatch (and behind ProxyFix, so the key has the client-facing URL)."""
    app.wsgi_app = CacheLayer(app, app.wsgi_app)
