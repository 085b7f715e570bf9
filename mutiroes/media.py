"""Where uploaded images live and how clients reach them."""

from __future__ import annotations

from flask import current_app, has_request_context, request


def absolute_url(path: str | None) -> str | None:
    """The client-facing absolute URL of a stored media file (``None`` when there is none)."""
    if not path:
        return None
    base = current_app.config["MUTIROES"].media_url
    relative = f"{base.rstrip('/')}/{path.lstrip('/')}"
    if relative.startswith(("http://", "https://")) or not has_request_context():
        return relative
    return f"{request.host_url.rstrip('/')}{relative}"
