"""The benchmark's floor: a bare WSGI app answering a fixed 1 KB JSON body, served with the API's gunicorn settings."""

import json

BODY = json.dumps({"detail": "x" * 1000}, separators=(",", ":")).encode()[:1024]
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
