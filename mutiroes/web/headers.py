"""Security headers on every answer of the app, in every mode.

The app sets them itself rather than trusting a proxy to: the embedded mode has none in front, and a replica reached
directly (Consul's check, Prometheus, an operator's curl) answers the same. nginx adds the same set only to the
answers it makes itself (429, 503, 413, media files; nginx/security_headers.conf), so no header is sent twice.

- every answer: ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``;
- JSON answers: ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` (nothing in them is ever
  meant to run, load or be framed);
- the docs page (``/api/docs/``): a policy that lets it load only its own files and run only its own inline
  initializer (by hash), fetch only this origin (the OpenAPI document, "Try it out"), and never be framed.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, current_app, request

COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_DOCS_POLICY_KEY = "mutiroes_docs_csp"


def docs_policy(page: bytes) -> str:
    """The docs page's policy: its own files, and the inline scripts of the page as the app renders it (by hash)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; "  # Swagger UI sets style attributes from its scripts
        "img-src 'self' data:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _add_headers(response: Response) -> Response:
    for name, value in COMMON.items():
        response.headers.setdefault(name, value)
    if "Content-Security-Policy" in response.headers:
        return response
    if request.endpoint == DOCS_ENDPOINT and response.status_code == 200:
        # the page is the same for every request (its script holds only the app's own settings): hashed once
        policy = current_app.extensions.get(_DOCS_POLICY_KEY)
        if policy is None:
            policy = current_app.extensions.setdefault(_DOCS_POLICY_KEY, docs_policy(response.get_data()))
        response.headers["Content-Security-Policy"] = policy
    elif response.mimetype == "application/json":
        response.headers["Content-Security-Policy"] = JSON_POLICY
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
