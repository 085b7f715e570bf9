"""Stored images served by Flask when the media URL is local (the embedded mode; nginx serves them elsewhere)."""

from __future__ import annotations

from flask import Flask, current_app, send_from_directory


def init_app(app: Flask) -> None:
    base = app.config["MUTIROES"].media_url
    if base.startswith(("http://", "https://")):
        return

    def serve_media(filename: str):
        response = send_from_directory(current_app.config["MUTIROES"].media_root, filename, max_age=86400)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    app.add_url_rule(f"{base.rstrip('/')}/<path:filename>", "media", serve_media, methods=["GET"])
