"""Where uploaded images live and how clients reach them."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, send_from_directory


def absolute_url(path: str | None) -> str | None:
    """The client-facing absolute URL of a stored media file (``None`` when there is none)."""
    if not path:
        return None
    base = current_app.config["MUTIROES"].media_url
    relative = f"{base.rstrip('/')}/{path.lstrip('/')}"
    if relative.startswith(("http://", "https://")) or not has_request_context():
        return relative
    return f"{request.host_url.rstrip('/')}{relative}"


def init_app(app: Flask) -> None:
    """Serve stored media from Flask when the media URL is local (the embedded mode; nginx does it in the cluster)."""
    base = app.config["MUTIROES"].media_url
    if base.startswith(("http://", "https://")):
        return

    def serve_media(filename: str):
        response = send_from_directory(current_app.config["MUTIROES"].media_root, filename, max_age=86400)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    app.add_url_rule(f"{base.rstrip('/')}/<path:filename>", "media", serve_media, methods=["GET"])
