"""The benchmark's floor: a bare WSGI app served with the API's gunicorn settings.

It answers a fixed 1 KB JSON body, or, with ``?bytes=N``, a JSON body of exactly N bytes (the size of the answer it
is compared with, so the floor sends and wrk reads as many bytes as on the measured path). Bodies are made once per
size and kept: answering is one dict lookup.
"""

import json

HEADERS = [("Content-Type", "application/json")]
MAX_BYTES = 1024 * 1024
_BODIES: dict[str, tuple[list[tuple[str, str]], bytes]] = {}


def _made(query: str) -> tuple[list[tuple[str, str]], bytes]:
    size = 1024
    if query.startswith("bytes=") and query[6:].isdigit():
        size = max(16, min(MAX_BYTES, int(query[6:])))
    body = json.dumps({"detail": "x" * size}, separators=(",", ":")).encode()[: size - 2] + b'"}'
    return _BODIES.setdefault(query, ([*HEADERS, ("Content-Length", str(len(body)))], body))


def app(environ, start_response):
    query = environ.get("QUERY_STRING", "")
    headers, body = _BODIES.get(query) or _made(query)
    start_response("200 OK", headers)
    return [body]
